"""The actions' handlers: validate the data, change the records, return the audit details.

Each handler runs inside `apply`, after the stage, role, separation and precondition checks,
and checks its own data before it changes anything.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from models import dispatch
from models.calendar import WorkCalendar, local_date
from models.errors import BadInput, Refused
from models.evidence import StoredFile
from models.guards import involved_people, open_review, pending_extension
from models.ledger import DEADLINE_CLASS_LABELS, DeadlineClass, Measure, Task, TaskSupport
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
from models.stages import Action

LOOKBACK_DUE_WORKING_DAYS = 10


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
    """Make the supporting departments these (validated) ones, touching only what changes."""
    session, task = step.session, step.task
    wanted = {d.id for d in departments}
    with session.no_autoflush:
        current = session.exec(select(TaskSupport).where(TaskSupport.task_id == task.id)).all()
    for row in current:
        if row.department_id not in wanted:
            session.delete(row)
    for department_id in sorted(wanted - {row.department_id for row in current}):
        session.add(TaskSupport(task_id=task.id, department_id=department_id))


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
    for department in supports:  # a task is assigned once, from pending: it has none yet
        step.session.add(TaskSupport(task_id=task.id, department_id=department.id))
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
    current = None  # the supporting departments, read only when they matter
    if support_departments is not None:
        supports = _check_support(support_departments, lead_id)
        current = set(_current_support(step.session, task))
    elif lead_id != task.lead_department_id and lead_id in _current_support(step.session, task):
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
    if current is not None and {d.id for d in supports} != current:
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
    return list(session.exec(_EVIDENCE_HASHES, params={"task_id": task.id}).all())


_EVIDENCE_HASHES = (
    select(Evidence.sha256).where(Evidence.task_id == bindparam("task_id")).order_by(Evidence.id)
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
    """A progress report; while a dispatch round is open, it is also the task's answer."""
    status = ProgressStatus(status)
    text = _required_text(text, "进展情况")
    report = ProgressReport(
        task_id=step.task.id, reporter_id=step.actor.id, at=step.now, status=status, text=text
    )
    step.session.add(report)
    step.session.flush()
    answered = dispatch.answer(step.session, report)
    details: dict[str, Any] = {"status": status, "text": text}
    if answered is not None:
        details["dispatch_round"] = answered.round_id
    return details


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
