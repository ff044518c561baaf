"""Stages, actions and the transition table: the workflow's specification in one place.

Read TRANSITIONS as the spec: in stage S, action A leads to stage N and may be taken by
the roles listed. Anything not in the table is refused. Roles marked as relational in
OWN_TASK_ROLES must also stand in that relation to the task (its officer, its first
signer, its look-back reviewer); the checks live in models.workflow.
"""

from dataclasses import dataclass
from enum import StrEnum

from models.people import Role


class Stage(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    ACTING = "acting"
    EVIDENCE = "evidence"
    SIGNED_OFF = "signed_off"
    LOOKBACK = "lookback"
    CONSOLIDATED = "consolidated"


STAGE_LABELS: dict[Stage, str] = {
    Stage.PENDING: "待交办",
    Stage.ASSIGNED: "已交办",
    Stage.ACTING: "整改中",
    Stage.EVIDENCE: "待销号",
    Stage.SIGNED_OFF: "已销号",
    Stage.LOOKBACK: "回头看",
    Stage.CONSOLIDATED: "已巩固",
}


class Action(StrEnum):
    ASSIGN = "assign"
    REASSIGN = "reassign"
    START = "start"
    ATTACH_EVIDENCE = "attach_evidence"
    SUBMIT = "submit"
    ENDORSE = "endorse"
    APPROVE = "approve"
    APPROVE_PHASE = "approve_phase"
    REJECT = "reject"
    OPEN_LOOKBACK = "open_lookback"
    CONFIRM = "confirm"
    REBOUND = "rebound"
    REPORT_PROGRESS = "report_progress"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    REFUSE_EXTENSION = "refuse_extension"


ACTION_LABELS: dict[Action, str] = {
    Action.ASSIGN: "交办",
    Action.REASSIGN: "调整交办",
    Action.START: "开始整改",
    Action.ATTACH_EVIDENCE: "上传佐证材料",
    Action.SUBMIT: "提交销号申请",
    Action.ENDORSE: "初审同意销号",
    Action.APPROVE: "批准销号",
    Action.APPROVE_PHASE: "批准阶段销号",
    Action.REJECT: "退回销号申请",
    Action.OPEN_LOOKBACK: "启动回头看",
    Action.CONFIRM: "确认整改成效",
    Action.REBOUND: "认定问题反弹",
    Action.REPORT_PROGRESS: "报送进展",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.GRANT_EXTENSION: "批准延期",
    Action.REFUSE_EXTENSION: "不予延期",
}


@dataclass(frozen=True)
class Rule:
    next: Stage
    who: frozenset[Role]


def _who(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


OFFICER = _who(Role.OFFICER)
ORGANISERS = _who(Role.OFFICE, Role.LEADERSHIP)  # approve, grant extensions
ASSIGNERS = _who(Role.OFFICE, Role.LEADERSHIP, Role.SYSTEM)  # the ledger importer is the system
FIRST_SIGNER = _who(Role.LEADER)
SIGNERS = _who(Role.OFFICE, Role.LEADERSHIP, Role.LEADER)  # anyone who may sign may reject
REVIEWER = _who(Role.REVIEWER)
SCHEDULER_OR_OFFICE = _who(Role.SYSTEM, Role.OFFICE, Role.LEADERSHIP)

# Roles that only count on the actor's own task (the officer of it, its first signer,
# its assigned reviewer); the others act on any task.
OWN_TASK_ROLES = _who(Role.OFFICER, Role.LEADER, Role.REVIEWER)

OPEN_STAGES = (Stage.ASSIGNED, Stage.ACTING, Stage.EVIDENCE)


def _stays(stages: tuple[Stage, ...], action: Action, who: frozenset[Role]) -> dict:
    """Rows for an action that may be taken in several stages without leaving them."""
    return {(stage, action): Rule(stage, who) for stage in stages}


TRANSITIONS: dict[tuple[Stage, Action], Rule] = {
    # the main path: assign → act → evidence → sign-off → look-back
    (Stage.PENDING, Action.ASSIGN): Rule(Stage.ASSIGNED, ASSIGNERS),
    (Stage.ASSIGNED, Action.START): Rule(Stage.ACTING, OFFICER),
    (Stage.ACTING, Action.SUBMIT): Rule(Stage.EVIDENCE, OFFICER),
    (Stage.EVIDENCE, Action.ENDORSE): Rule(Stage.EVIDENCE, FIRST_SIGNER),
    (Stage.EVIDENCE, Action.APPROVE): Rule(Stage.SIGNED_OFF, ORGANISERS),
    (Stage.EVIDENCE, Action.APPROVE_PHASE): Rule(Stage.ACTING, ORGANISERS),
    (Stage.EVIDENCE, Action.REJECT): Rule(Stage.ACTING, SIGNERS),
    (Stage.SIGNED_OFF, Action.OPEN_LOOKBACK): Rule(Stage.LOOKBACK, SCHEDULER_OR_OFFICE),
    (Stage.LOOKBACK, Action.CONFIRM): Rule(Stage.CONSOLIDATED, REVIEWER),
    (Stage.LOOKBACK, Action.REBOUND): Rule(Stage.ACTING, REVIEWER),
    # across stages, without leaving them
    **_stays(OPEN_STAGES, Action.REASSIGN, ASSIGNERS),
    **_stays((Stage.ASSIGNED, Stage.ACTING), Action.ATTACH_EVIDENCE, OFFICER),
    **_stays(OPEN_STAGES, Action.REPORT_PROGRESS, OFFICER),
    **_stays((Stage.ASSIGNED, Stage.ACTING), Action.REQUEST_EXTENSION, OFFICER),
    **_stays(OPEN_STAGES, Action.GRANT_EXTENSION, ORGANISERS),
    **_stays(OPEN_STAGES, Action.REFUSE_EXTENSION, ORGANISERS),
}


def rule_for(stage: Stage, action: Action) -> Rule | None:
    return TRANSITIONS.get((stage, action))


def actions_from(stage: Stage) -> list[Action]:
    """Actions the table allows in a stage, in declaration order (for menus and help)."""
    return [action for (s, action) in TRANSITIONS if s == stage]


# Audit events that are not workflow actions (the ledger's own records).
RECORD_LABELS: dict[str, str] = {
    "create": "创建任务",
    "create_inspection": "创建巡察",
    "add_area": "新增方面",
    "set_first_signer": "设置签批方式",
    "import_people": "导入人员名单",
}


def event_label(action: str) -> str:
    """The Chinese name of any audit event's action, workflow or not."""
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return RECORD_LABELS.get(action, action)
