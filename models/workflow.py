"""The one way a task changes: `apply(session, task, action, actor, now, **data)`.

`apply` looks the (stage, action) pair up in models.stages.TRANSITIONS, checks the
actor's role and relation to the task and the separation of duties, lets the action's
handler validate its data and change the records, moves the stage, and appends the audit
event — all in the caller's transaction, which it flushes but never commits.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from models.audit import AuditEvent, append_event, task_chain
from models.calendar import DEFAULT_CALENDAR, WorkCalendar, local_date
from models.errors import BadInput, ChangedMeanwhile, Refused
from models.evidence import StoredFile
from models.ledger import (
    DEADLINE_CLASS_LABELS,
    DeadlineClass,
    FirstSigner,
    Inspection,
    Measure,
    Task,
    TaskSupport,
)
from models.people import ROLE_LABELS, Department, Person, Role
from models.records import (
    DeadlineChange,
    Decision,
    Evidence,
    ExtensionRequest,
    LookbackReview,
    ProgressReport,
    ProgressStatus,
    RequestStatus,
    ReviewStatus,
    SignOff,
)
from models.stages import ACTION_LABELS, OWN_TASK_ROLES, STAGE_LABELS, Action, Rule, Stage, rule_for

LOOKBACK_DUE_WORKING_DAYS = 10

ACTING_ACTIONS = (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.REPORT_PROGRESS)
SIGNING_ACTIONS = (Action.ENDORSE, Action.APPROVE, Action.APPROVE_PHASE)
DECIDING_ACTIONS = (*SIGNING_ACTIONS, Action.REJECT)


@dataclass
class Step:
    """What a handler works on: one action by one person at one moment."""

    session: Session
    task: Task
    actor: Person
    now: datetime
    calendar: WorkCalendar

    @property
    def today(self) -> date:
        return local_date(self.now)


def apply(
    session: Session,
    task: Task,
    action: Action,
    actor: Person,
    now: datetime,
    *,
    expected_version: int | None = None,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
    **data: Any,
) -> AuditEvent:
    """Take one workflow action on a task, or refuse it with a reason; never commits."""
    if expected_version is not None and task.version != expected_version:
        raise ChangedMeanwhile(_changed_meanwhile(task.id))
    action = Action(action)
    stage = Stage(task.stage)
    rule = rule_for(stage, action)
    if rule is None:
        raise Refused(
            f"任务 {task.id} 当前处于“{STAGE_LABELS[stage]}”阶段，不能{ACTION_LABELS[action]}"
        )
    check_actor(session, task, action, rule, actor)
    check_separation_of_duties(session, task, action, actor, data)
    check_preconditions(session, task, action)
    task_id = task.id
    try:
        details = HANDLERS[action](Step(session, task, actor, now, calendar), **data)
        task.stage = rule.next
        task.updated_at = now
        session.flush()  # the version check: a concurrent change fails here, before the event
        event = append_event(
            session,
            chain=task_chain(task_id),
            task_id=task_id,
            action=action,
            actor=actor,
            now=now,
            stage_from=stage,
            stage_to=rule.next,
            details=details,
        )
        session.flush()
    except StaleDataError as error:
        raise ChangedMeanwhile(_changed_meanwhile(task_id)) from error
    return event


def _changed_meanwhile(task_id: int | None) -> str:
    return f"任务 {task_id} 已被他人修改，请刷新后重试"


def allowed_actions(session: Session, task: Task, actor: Person) -> list[Action]:
    """Actions this person may take on this task now, from the transition table itself."""
    allowed = []
    for action in Action:
        rule = rule_for(Stage(task.stage), action)
        if rule is None:
            continue
        try:
            check_actor(session, task, action, rule, actor)
            check_separation_of_duties(session, task, action, actor, {})
            check_preconditions(session, task, action)
        except Refused:
            continue
        allowed.append(action)
    return allowed


# --- who may ---------------------------------------------------------------------------


def check_actor(session: Session, task: Task, action: Action, rule: Rule, actor: Person) -> None:
    """The actor holds one of the rule's roles, and for own-task roles stands in that relation."""
    label = ACTION_LABELS[action]
    if not actor.active:
        raise Refused(f"{actor.name} 已停用，不能{label}")
    held = actor.roles & rule.who
    if not held:
        needed = "、".join(ROLE_LABELS[r] for r in sorted(rule.who))
        raise Refused(f"{actor.name} 无权{label}：需要{needed}身份")
    if held - OWN_TASK_ROLES:
        return
    if any(_stands_in_relation(session, task, role, actor) for role in held):
        return
    relation = "、".join(_RELATION_LABELS[r] for r in sorted(held))
    raise Refused(f"{actor.name} 不是任务 {task.id} 的{relation}，不能{label}")


_RELATION_LABELS = {Role.OFFICER: "责任人", Role.LEADER: "初审签批人", Role.REVIEWER: "回头看人员"}


def _stands_in_relation(session: Session, task: Task, role: Role, actor: Person) -> bool:
    if role == Role.OFFICER:
        return task.officer_id == actor.id
    if role == Role.LEADER:
        return first_signer_id(session, task) == actor.id
    if role == Role.REVIEWER:
        review = open_review(session, task)
        return review is not None and review.reviewer_id == actor.id
    return False


def first_signer_id(session: Session, task: Task) -> int | None:
    """Who gives the first signature on this task, when two signatures are configured."""
    mode = FirstSigner(session.get(Inspection, task.inspection_id).first_signer)
    if mode == FirstSigner.LEADER:
        return task.leader_id
    if mode == FirstSigner.DEPARTMENT_HEAD and task.lead_department_id is not None:
        return session.exec(
            select(Person.id).where(
                Person.department_id == task.lead_department_id,
                Person.heads_department,
                Person.active,
            )
        ).first()
    return None


def two_signatures(session: Session, task: Task) -> bool:
    return session.get(Inspection, task.inspection_id).first_signer != FirstSigner.NONE


# --- separation of duties --------------------------------------------------------------


def check_separation_of_duties(
    session: Session, task: Task, action: Action, actor: Person, data: dict[str, Any]
) -> None:
    """No one decides on what they submitted; reviewers neither acted nor approved."""
    label = ACTION_LABELS[action]
    if action in DECIDING_ACTIONS and task.submitted_by_id == actor.id:
        raise Refused(f"{actor.name} 提交了本次销号申请，不能{label}")
    if action in (Action.APPROVE, Action.APPROVE_PHASE) and actor.id in _signers(
        session, task, Decision.ENDORSED
    ):
        raise Refused(f"{actor.name} 已作初审签批，终审须由另一人完成")
    if action in (Action.CONFIRM, Action.REBOUND) and actor.id in involved_people(session, task):
        raise Refused(f"{actor.name} 曾参与整改或审批任务 {task.id}，不能担任回头看人员")
    if action in (Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION):
        request = pending_extension(session, task)
        if request is not None and request.requested_by_id == actor.id:
            raise Refused(f"{actor.name} 不能审批本人提出的延期申请")


def involved_people(session: Session, task: Task) -> set[int]:
    """Everyone who acted on or approved the task, plus its officer: never its reviewer."""
    acted = session.exec(
        select(AuditEvent.actor_id).where(
            AuditEvent.task_id == task.id,
            AuditEvent.action.in_([*ACTING_ACTIONS, *SIGNING_ACTIONS]),
        )
    ).all()
    return {pid for pid in acted if pid is not None} | {task.officer_id} - {None}


def _signers(session: Session, task: Task, decision: Decision) -> set[int]:
    """Who signed the current submission round with a given decision."""
    return set(
        session.exec(
            select(SignOff.signer_id).where(
                SignOff.task_id == task.id,
                SignOff.round == task.round,
                SignOff.decision == decision,
            )
        ).all()
    )


def open_review(session: Session, task: Task) -> LookbackReview | None:
    return session.exec(
        select(LookbackReview).where(
            LookbackReview.task_id == task.id, LookbackReview.status == ReviewStatus.OPEN
        )
    ).first()


def pending_extension(session: Session, task: Task) -> ExtensionRequest | None:
    return session.exec(
        select(ExtensionRequest).where(
            ExtensionRequest.task_id == task.id,
            ExtensionRequest.status == RequestStatus.PENDING,
        )
    ).first()


# --- preconditions: what the task itself must satisfy, whatever the data --------------


def check_preconditions(session: Session, task: Task, action: Action) -> None:
    """Conditions on the task's records that the stage alone does not capture."""
    check = PRECONDITIONS.get(action)
    if check is not None:
        check(session, task)


def _has_evidence(session: Session, task: Task) -> None:
    count = session.exec(
        select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id)
    ).one()
    if not count:
        raise Refused(f"任务 {task.id} 尚无佐证材料，请先上传再提交销号申请")


def _can_be_endorsed(session: Session, task: Task) -> None:
    if not two_signatures(session, task):
        raise Refused("本次巡察未启用两级签批，无需初审")
    if first_signer_id(session, task) is None:
        raise Refused(f"任务 {task.id} 没有初审签批人：请先明确责任领导或牵头部门负责人")
    if _signers(session, task, Decision.ENDORSED):
        raise Refused(f"任务 {task.id} 的本轮销号申请已有初审签批")


def _endorsed_if_required(session: Session, task: Task) -> None:
    if two_signatures(session, task) and not _signers(session, task, Decision.ENDORSED):
        raise Refused(f"任务 {task.id} 须先由初审签批人同意，再由整改办终审")


def _phase_can_be_approved(session: Session, task: Task) -> None:
    if not task.is_long_term:
        raise Refused(f"任务 {task.id} 不是长期坚持类任务，不能按阶段销号")
    _endorsed_if_required(session, task)


def _extension_can_be_requested(session: Session, task: Task) -> None:
    if task.is_long_term or task.deadline is None:
        raise Refused(f"任务 {task.id} 没有整改时限，无需申请延期")
    if pending_extension(session, task) is not None:
        raise Refused(f"任务 {task.id} 已有待审批的延期申请")


def _extension_pending(session: Session, task: Task) -> None:
    if pending_extension(session, task) is None:
        raise Refused(f"任务 {task.id} 没有待审批的延期申请")


PRECONDITIONS: dict[Action, Callable[[Session, Task], None]] = {
    Action.SUBMIT: _has_evidence,
    Action.ENDORSE: _can_be_endorsed,
    Action.APPROVE: _endorsed_if_required,
    Action.APPROVE_PHASE: _phase_can_be_approved,
    Action.REQUEST_EXTENSION: _extension_can_be_requested,
    Action.GRANT_EXTENSION: _extension_pending,
    Action.REFUSE_EXTENSION: _extension_pending,
}


# --- handlers: validate the data, change the records, return the audit details -----------


def _required_text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise BadInput(f"请填写{what}")
    return text


def _ref(person: Person | Department | None) -> dict[str, Any] | None:
    return None if person is None else {"id": person.id, "name": person.name}


def _record_deadline(step: Step, new: date | None, via: Action, reason: str | None = None) -> None:
    task = step.task
    if new == task.deadline:
        return
    step.session.add(
        DeadlineChange(
            task_id=task.id,
            old_deadline=task.deadline,
            new_deadline=new,
            reason=reason,
            via=via,
            by_id=step.actor.id,
            at=step.now,
        )
    )
    task.deadline = new


def _check_assignee(person: Person, role: Role, what: str) -> None:
    if not person.active:
        raise BadInput(f"{person.name} 已停用，不能担任{what}")
    if not person.has_role(role):
        raise BadInput(f"{person.name} 没有{ROLE_LABELS[role]}身份，不能担任{what}")


def _check_support(departments: list[Department], lead_id: int | None) -> list[Department]:
    unique = list({d.id: d for d in departments}.values())
    for department in unique:
        if department.id == lead_id:
            raise BadInput(f"{department.name} 已是牵头部门，不能同时作为配合部门")
    return unique


def _current_support(session: Session, task: Task) -> list[int]:
    return list(
        session.exec(select(TaskSupport.department_id).where(TaskSupport.task_id == task.id))
    )


def _set_support(step: Step, departments: list[Department]) -> None:
    """Replace the supporting departments; callers have validated them already."""
    session, task = step.session, step.task
    for row in session.exec(select(TaskSupport).where(TaskSupport.task_id == task.id)):
        session.delete(row)
    session.flush()
    for department in departments:
        session.add(TaskSupport(task_id=task.id, department_id=department.id))


def _check_deadline(deadline: date | None, deadline_class: DeadlineClass) -> None:
    if deadline is None and deadline_class != DeadlineClass.LONG_TERM:
        raise BadInput(f"{DEADLINE_CLASS_LABELS[deadline_class]}的任务须填写整改时限")


def _assign(
    step: Step,
    *,
    officer: Person,
    leader: Person,
    lead_department: Department,
    support_departments: list[Department] | None = None,
    deadline: date | None = None,
    deadline_class: DeadlineClass = DeadlineClass.DATED,
) -> dict[str, Any]:
    task = step.task
    deadline_class = DeadlineClass(deadline_class)
    _check_assignee(officer, Role.OFFICER, "责任人")
    _check_assignee(leader, Role.LEADER, "责任领导")
    supports = _check_support(support_departments or [], lead_department.id)
    _check_deadline(deadline, deadline_class)
    task.officer_id, task.leader_id = officer.id, leader.id
    task.lead_department_id = lead_department.id
    task.deadline_class = deadline_class
    _set_support(step, supports)
    _record_deadline(step, deadline, Action.ASSIGN)
    return {
        "officer": _ref(officer),
        "leader": _ref(leader),
        "lead_department": _ref(lead_department),
        "support_departments": [_ref(d) for d in supports],
        "deadline": deadline,
        "deadline_class": deadline_class,
    }


def _reassign(
    step: Step,
    *,
    officer: Person | None = None,
    leader: Person | None = None,
    lead_department: Department | None = None,
    support_departments: list[Department] | None = None,
    deadline: date | None = None,
    deadline_class: DeadlineClass | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Change any of the assignment's fields; everything is checked before anything changes."""
    task, changes = step.task, {}
    new_officer = officer if officer is not None and officer.id != task.officer_id else None
    new_leader = leader if leader is not None and leader.id != task.leader_id else None
    if new_officer is not None:
        _check_assignee(new_officer, Role.OFFICER, "责任人")
    if new_leader is not None:
        _check_assignee(new_leader, Role.LEADER, "责任领导")
    lead_id = lead_department.id if lead_department is not None else task.lead_department_id
    if support_departments is not None:
        supports = _check_support(support_departments, lead_id)
    elif lead_id in _current_support(step.session, task):
        raise BadInput(f"{lead_department.name} 已是配合部门，请同时调整配合部门")
    new_class = DeadlineClass(deadline_class or task.deadline_class)
    new_deadline = deadline if deadline is not None else task.deadline
    _check_deadline(new_deadline, new_class)

    if new_officer is not None:
        task.officer_id, changes["officer"] = new_officer.id, _ref(new_officer)
    if new_leader is not None:
        task.leader_id, changes["leader"] = new_leader.id, _ref(new_leader)
    if lead_id != task.lead_department_id:
        task.lead_department_id, changes["lead_department"] = lead_id, _ref(lead_department)
    if support_departments is not None and {d.id for d in supports} != set(
        _current_support(step.session, task)
    ):
        _set_support(step, supports)
        changes["support_departments"] = [_ref(d) for d in supports]
    if new_class != task.deadline_class:
        task.deadline_class = changes["deadline_class"] = new_class
    if new_deadline != task.deadline:
        changes["deadline"] = {"from": task.deadline, "to": new_deadline}
        _record_deadline(step, new_deadline, Action.REASSIGN, reason)
    if not changes:
        raise BadInput("没有需要调整的内容")
    return {**changes, "reason": reason}


def _start(step: Step) -> dict[str, Any]:
    return {}


def _attach_evidence(
    step: Step,
    *,
    file: StoredFile,
    description: str | None = None,
    effective_date: date | None = None,
    measure: Measure | None = None,
) -> dict[str, Any]:
    if measure is not None and measure.task_id != step.task.id:
        raise BadInput(f"措施 {measure.id} 不属于任务 {step.task.id}")
    evidence = Evidence(
        task_id=step.task.id,
        measure_id=measure.id if measure else None,
        sha256=file.sha256,
        name=file.name,
        content_type=file.content_type,
        size=file.size,
        uploaded_by_id=step.actor.id,
        uploaded_at=step.now,
        effective_date=effective_date,
        description=(description or "").strip() or None,
    )
    step.session.add(evidence)
    return {"sha256": file.sha256, "name": file.name, "size": file.size}


def evidence_hashes(session: Session, task: Task) -> list[str]:
    return list(
        session.exec(
            select(Evidence.sha256).where(Evidence.task_id == task.id).order_by(Evidence.id)
        ).all()
    )


def _submit(step: Step, *, summary: str) -> dict[str, Any]:
    task = step.task
    summary = _required_text(summary, "整改情况说明")
    task.round += 1
    task.submitted_by_id, task.submitted_at, task.submission_summary = (
        step.actor.id,
        step.now,
        summary,
    )
    return {
        "round": task.round,
        "summary": summary,
        "evidence": evidence_hashes(step.session, task),
    }


def _sign(step: Step, decision: Decision, comment: str | None) -> dict[str, Any]:
    hashes = evidence_hashes(step.session, step.task)
    step.session.add(
        SignOff(
            task_id=step.task.id,
            round=step.task.round,
            phase=step.task.phase,
            decision=decision,
            signer_id=step.actor.id,
            at=step.now,
            comment=comment,
            evidence_hashes=hashes,
        )
    )
    return {
        "round": step.task.round,
        "phase": step.task.phase,
        "comment": comment,
        "evidence": hashes,
    }


def _endorse(step: Step, *, comment: str | None = None) -> dict[str, Any]:
    return _sign(step, Decision.ENDORSED, comment)


def _approve(step: Step, *, comment: str | None = None) -> dict[str, Any]:
    details = _sign(step, Decision.APPROVED, comment)
    step.task.signed_off_at = step.now
    return details


def _approve_phase(step: Step, *, comment: str | None = None) -> dict[str, Any]:
    details = _sign(step, Decision.PHASE_APPROVED, comment)
    step.task.phase += 1
    return details


def _reject(step: Step, *, reason: str) -> dict[str, Any]:
    return _sign(step, Decision.REJECTED, _required_text(reason, "退回理由"))


def _open_lookback(step: Step, *, reviewer: Person, due: date | None = None) -> dict[str, Any]:
    _check_assignee(reviewer, Role.REVIEWER, "回头看人员")
    if reviewer.id in involved_people(step.session, step.task):
        raise Refused(f"{reviewer.name} 曾参与整改或审批任务 {step.task.id}，不能担任回头看人员")
    due = due or step.calendar.add_working_days(step.today, LOOKBACK_DUE_WORKING_DAYS)
    step.session.add(
        LookbackReview(task_id=step.task.id, reviewer_id=reviewer.id, opened_at=step.now, due=due)
    )
    return {"reviewer": _ref(reviewer), "due": due}


def _close_review(step: Step, status: ReviewStatus, finding: str | None) -> LookbackReview:
    review = open_review(step.session, step.task)
    review.status, review.closed_at, review.finding = status, step.now, finding
    return review


def _confirm(step: Step, *, comment: str | None = None) -> dict[str, Any]:
    _close_review(step, ReviewStatus.CONFIRMED, comment)
    return {"comment": comment}


def _rebound(step: Step, *, finding: str, deadline: date | None = None) -> dict[str, Any]:
    finding = _required_text(finding, "反弹问题的核查情况")
    task = step.task
    if deadline is None and not task.is_long_term:
        raise BadInput("问题反弹须重新明确整改时限")
    if deadline is not None and deadline < step.today:
        raise BadInput(f"新的整改时限 {deadline} 早于今天")
    _close_review(step, ReviewStatus.REBOUNDED, finding)
    task.rebound_count += 1
    task.signed_off_at = None
    _record_deadline(step, deadline, Action.REBOUND, finding)
    return {"finding": finding, "deadline": deadline, "rebound_count": task.rebound_count}


def _report_progress(step: Step, *, status: ProgressStatus, text: str) -> dict[str, Any]:
    status = ProgressStatus(status)
    text = _required_text(text, "进展情况")
    step.session.add(
        ProgressReport(
            task_id=step.task.id, reporter_id=step.actor.id, at=step.now, status=status, text=text
        )
    )
    return {"status": status, "text": text}


def _request_extension(step: Step, *, deadline: date, reason: str) -> dict[str, Any]:
    task = step.task
    reason = _required_text(reason, "延期理由")
    if deadline <= task.deadline:
        raise BadInput(f"申请的新时限 {deadline} 须晚于现时限 {task.deadline}")
    step.session.add(
        ExtensionRequest(
            task_id=task.id,
            requested_deadline=deadline,
            reason=reason,
            requested_by_id=step.actor.id,
            requested_at=step.now,
        )
    )
    return {"from": task.deadline, "to": deadline, "reason": reason}


def _decide_extension(step: Step, status: RequestStatus, comment: str | None) -> ExtensionRequest:
    request = pending_extension(step.session, step.task)
    request.status, request.decided_by_id = status, step.actor.id
    request.decided_at, request.decision_comment = step.now, comment
    return request


def _grant_extension(step: Step, *, comment: str | None = None) -> dict[str, Any]:
    request = _decide_extension(step, RequestStatus.GRANTED, comment)
    old = step.task.deadline
    _record_deadline(step, request.requested_deadline, Action.GRANT_EXTENSION, request.reason)
    return {"from": old, "to": request.requested_deadline, "comment": comment}


def _refuse_extension(step: Step, *, reason: str) -> dict[str, Any]:
    reason = _required_text(reason, "不予延期的理由")
    request = _decide_extension(step, RequestStatus.REFUSED, reason)
    return {"requested": request.requested_deadline, "reason": reason}


HANDLERS: dict[Action, Callable[..., dict[str, Any]]] = {
    Action.ASSIGN: _assign,
    Action.REASSIGN: _reassign,
    Action.START: _start,
    Action.ATTACH_EVIDENCE: _attach_evidence,
    Action.SUBMIT: _submit,
    Action.ENDORSE: _endorse,
    Action.APPROVE: _approve,
    Action.APPROVE_PHASE: _approve_phase,
    Action.REJECT: _reject,
    Action.OPEN_LOOKBACK: _open_lookback,
    Action.CONFIRM: _confirm,
    Action.REBOUND: _rebound,
    Action.REPORT_PROGRESS: _report_progress,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.GRANT_EXTENSION: _grant_extension,
    Action.REFUSE_EXTENSION: _refuse_extension,
}
assert set(HANDLERS) == set(Action), "every action needs a handler"
