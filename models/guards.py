"""Who may take an action, separation of duties, and what the task must satisfy first.

These checks are shared by `apply` (which refuses) and `allowed_actions` (which offers),
so the desk never shows a button the workflow would then refuse.
"""

from collections.abc import Callable

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.errors import Refused
from models.ledger import FirstSigner, Inspection, Task
from models.people import ROLE_LABELS, Person, Role
from models.records import (
    Decision,
    Evidence,
    ExtensionRequest,
    LookbackReview,
    RequestStatus,
    ReviewStatus,
    SignOff,
)
from models.stages import ACTION_LABELS, OWN_TASK_ROLES, Action, Rule

ACTING_ACTIONS = (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.REPORT_PROGRESS)
SIGNING_ACTIONS = (Action.ENDORSE, Action.APPROVE, Action.APPROVE_PHASE)
DECIDING_ACTIONS = (*SIGNING_ACTIONS, Action.REJECT)

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
        return session.exec(_HEAD_OF, params={"department_id": task.lead_department_id}).first()
    return None


# The guards' statements are built once: the task page asks them for every action the stage
# allows, and building a statement cost more than running it.
_HEAD_OF = select(Person.id).where(
    Person.department_id == bindparam("department_id"), Person.heads_department, Person.active
)


def two_signatures(session: Session, task: Task) -> bool:
    return session.get(Inspection, task.inspection_id).first_signer != FirstSigner.NONE


# --- separation of duties --------------------------------------------------------------


def check_separation_of_duties(session: Session, task: Task, action: Action, actor: Person) -> None:
    """No one decides on what they submitted; reviewers neither acted nor approved."""
    label = ACTION_LABELS[action]
    if action in DECIDING_ACTIONS and task.submitted_by_id == actor.id:
        raise Refused(f"{actor.name} 提交了本次销号申请，不能{label}")
    if action in (Action.APPROVE, Action.APPROVE_PHASE) and actor.id in signers(
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
    acted = session.exec(_ACTED_ON, params={"task_id": task.id}).all()
    return {pid for pid in acted if pid is not None} | {task.officer_id} - {None}


_ACTED_ON = select(AuditEvent.actor_id).where(
    AuditEvent.task_id == bindparam("task_id"),
    AuditEvent.action.in_([*ACTING_ACTIONS, *SIGNING_ACTIONS]),
)


def signers(session: Session, task: Task, decision: Decision) -> set[int]:
    """Who signed the current submission round with a given decision."""
    params = {"task_id": task.id, "round": task.round, "decision": decision.value}
    return set(session.exec(_SIGNERS, params=params).all())


_SIGNERS = select(SignOff.signer_id).where(
    SignOff.task_id == bindparam("task_id"),
    SignOff.round == bindparam("round"),
    SignOff.decision == bindparam("decision"),
)


def open_review(session: Session, task: Task) -> LookbackReview | None:
    return session.exec(_OPEN_REVIEW, params={"task_id": task.id}).first()


_OPEN_REVIEW = select(LookbackReview).where(
    LookbackReview.task_id == bindparam("task_id"), LookbackReview.status == ReviewStatus.OPEN
)


def pending_extension(session: Session, task: Task) -> ExtensionRequest | None:
    return session.exec(_PENDING_EXTENSION, params={"task_id": task.id}).first()


_PENDING_EXTENSION = select(ExtensionRequest).where(
    ExtensionRequest.task_id == bindparam("task_id"),
    ExtensionRequest.status == RequestStatus.PENDING,
)


# --- preconditions: what the task itself must satisfy, whatever the data --------------


def check_preconditions(session: Session, task: Task, action: Action) -> None:
    """Conditions on the task's records that the stage alone does not capture."""
    check = PRECONDITIONS.get(action)
    if check is not None:
        check(session, task)


def _has_evidence(session: Session, task: Task) -> None:
    count = session.exec(_EVIDENCE_COUNT, params={"task_id": task.id}).one()
    if not count:
        raise Refused(f"任务 {task.id} 尚无佐证材料，请先上传再提交销号申请")


_EVIDENCE_COUNT = (
    select(func.count()).select_from(Evidence).where(Evidence.task_id == bindparam("task_id"))
)


def _can_be_endorsed(session: Session, task: Task) -> None:
    if not two_signatures(session, task):
        raise Refused("本次巡察未启用两级签批，无需初审")
    if first_signer_id(session, task) is None:
        raise Refused(f"任务 {task.id} 没有初审签批人：请先明确责任领导或牵头部门负责人")
    if signers(session, task, Decision.ENDORSED):
        raise Refused(f"任务 {task.id} 的本轮销号申请已有初审签批")


def _endorsed_if_required(session: Session, task: Task) -> None:
    if two_signatures(session, task) and not signers(session, task, Decision.ENDORSED):
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
