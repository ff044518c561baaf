"""The transition table is the spec: every (stage, action, role) behaves as TRANSITIONS says.

The cases are generated from the enums and the table, so changing the table changes the tests.
"""

import itertools
from contextlib import contextmanager
from datetime import date

import pytest
from sqlmodel import func, select

from models.audit import AuditEvent
from models.errors import RectifyError, Refused
from models.guards import open_review
from models.ledger import FirstSigner, Task
from models.people import ROLE_LABELS, Person, Role
from models.records import Evidence, ExtensionRequest
from models.stages import ACTION_LABELS, STAGE_LABELS, TRANSITIONS, Action, Stage
from models.workflow import allowed_actions, apply

PAIRS = list(itertools.product(Stage, Action))


def _case_id(case: tuple[str, ...]) -> str:
    return "-".join(case)


def expected_rule(stage: Stage, action: Action, role: Role):
    """The rule that lets this role take this action in this stage, or None."""
    rule = TRANSITIONS.get((stage, action))
    return rule if rule is not None and role in rule.who else None


def task_for(world, stage: Stage, action: Action) -> Task:
    return world.task_at(stage, long_term=action == Action.APPROVE_PHASE)


def actor_in_role(world, task: Task, role: Role) -> Person:
    """The person holding a role, standing in that role's relation to the task when it has one."""
    session = world.session
    if role == Role.OFFICER:
        return session.get(Person, task.officer_id) if task.officer_id else world.officer
    if role == Role.LEADER:
        # the task's first signer: its leader, once two signatures are configured
        world.two_signatures(FirstSigner.LEADER)
        return world.leader
    if role == Role.REVIEWER:
        review = open_review(session, task)
        return session.get(Person, review.reviewer_id) if review else world.reviewer
    return {
        Role.OFFICE: world.office,
        Role.LEADERSHIP: world.leadership,
        Role.ADMIN: world.admin,
        Role.SYSTEM: world.system,
    }[role]


def meet_data_preconditions(world, task: Task, action: Action) -> None:
    """What an action needs besides stage and role: evidence to submit, a request to decide."""
    session = world.session
    if action == Action.SUBMIT:
        session.add(
            Evidence(
                task_id=task.id,
                sha256="a" * 64,
                name="照片.pdf",
                content_type="application/pdf",
                size=10,
                uploaded_by_id=world.officer.id,
                uploaded_at=world.now,
            )
        )
    if action in (Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION):
        session.add(
            ExtensionRequest(
                task_id=task.id,
                requested_deadline=date(2026, 11, 30),
                reason="工程未完工",
                requested_by_id=world.officer.id,
                requested_at=world.now,
            )
        )
    session.flush()


def task_events(session, task: Task) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.task_id == task.id).order_by(AuditEvent.seq)
        )
    )


def event_count(session, task: Task) -> int:
    return session.exec(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.task_id == task.id)
    ).one()


def check_case(world, task: Task, stage: Stage, action: Action, role: Role) -> None:
    """Take the action as the role's person and check the outcome against the table."""
    session = world.session
    actor = actor_in_role(world, task, role)
    meet_data_preconditions(world, task, action)
    events_before = event_count(session, task)
    rule = expected_rule(stage, action, role)

    if rule is not None:
        event = apply(session, task, action, actor, world.now, **world.data_for(action, task))
        assert task.stage == rule.next
        assert event_count(session, task) == events_before + 1
        last = task_events(session, task)[-1]
        assert last.id == event.id
        assert (last.action, last.stage_from, last.stage_to) == (action, stage, rule.next)
        assert (last.actor_id, last.actor_name) == (actor.id, actor.name)
        return

    with pytest.raises(Refused) as refused:
        apply(session, task, action, actor, world.now, **world.data_for(action, task))
    message = str(refused.value)
    table_rule = TRANSITIONS.get((stage, action))
    if table_rule is None:
        assert STAGE_LABELS[stage] in message
        assert ACTION_LABELS[action] in message
    else:
        assert actor.name in message
        for needed in table_rule.who:
            assert ROLE_LABELS[needed] in message
    assert task.stage == stage
    assert event_count(session, task) == events_before


@contextmanager
def savepoint(session):
    """Everything done inside is undone afterwards, so one task serves every role."""
    nested = session.begin_nested()
    try:
        yield
    finally:
        nested.rollback()


@pytest.mark.parametrize(("stage", "action"), PAIRS, ids=map(_case_id, PAIRS))
def test_the_table_decides_who_may_take_which_action_in_which_stage(world, stage, action):
    task = task_for(world, stage, action)
    wrong = []
    for role in Role:
        with savepoint(world.session):
            try:
                check_case(world, task, stage, action, role)
            except (AssertionError, RectifyError) as error:
                wrong.append(f"{role}: {type(error).__name__}: {error}")
        assert task.stage == stage, "the savepoint must undo the action"
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("stage", list(Stage))
def test_allowed_actions_offers_what_the_table_allows_once_the_task_is_ready(world, stage):
    for action in Action:
        task = task_for(world, stage, action)
        for role in Role:
            with savepoint(world.session):
                actor = actor_in_role(world, task, role)
                meet_data_preconditions(world, task, action)
                offered = action in allowed_actions(world.session, task, actor)
                assert offered == (expected_rule(stage, action, role) is not None), (action, role)


def test_allowed_actions_leaves_out_what_the_task_is_not_ready_for(world):
    acting = world.task_at(Stage.ACTING)
    assert Action.SUBMIT not in allowed_actions(world.session, acting, world.officer)
    assert Action.GRANT_EXTENSION not in allowed_actions(world.session, acting, world.office)

    dated = world.task_at(Stage.EVIDENCE)
    assert Action.APPROVE_PHASE not in allowed_actions(world.session, dated, world.office)
    assert Action.ENDORSE not in allowed_actions(world.session, dated, world.leader)

    world.two_signatures(FirstSigner.LEADER)
    assert Action.APPROVE not in allowed_actions(world.session, dated, world.office)
    assert Action.ENDORSE in allowed_actions(world.session, dated, world.leader)
    world.do(dated, Action.ENDORSE)
    assert Action.APPROVE in allowed_actions(world.session, dated, world.office)
    assert Action.ENDORSE not in allowed_actions(world.session, dated, world.leader)

    long_term = world.task_at(Stage.ACTING, long_term=True)
    assert Action.REQUEST_EXTENSION not in allowed_actions(world.session, long_term, world.officer)


def officer_actions_in(stage: Stage) -> list[Action]:
    return [a for (s, a), rule in TRANSITIONS.items() if s == stage and Role.OFFICER in rule.who]


STAGES_WITH_OFFICER_ACTIONS = [stage for stage in Stage if officer_actions_in(stage)]


@pytest.mark.parametrize("stage", STAGES_WITH_OFFICER_ACTIONS)
def test_the_officer_of_another_task_may_not_act_on_this_one(world, stage):
    other = world.person("吴刚", Role.OFFICER)
    their_task = world.task_at(Stage.PENDING)
    world.do(their_task, Action.ASSIGN, officer=other)
    task = world.task_at(stage)

    for action in officer_actions_in(stage):
        with savepoint(world.session):
            meet_data_preconditions(world, task, action)
            data = world.data_for(action, task)
            with pytest.raises(Refused, match=f"不是任务 {task.id} 的责任人"):
                apply(world.session, task, action, other, world.now, **data)
    assert allowed_actions(world.session, task, other) == []
    assert Action.START in allowed_actions(world.session, their_task, other)


@pytest.mark.parametrize("action", [Action.ENDORSE, Action.REJECT])
def test_a_leader_who_is_not_the_tasks_first_signer_may_not_sign(world, action):
    world.two_signatures(FirstSigner.LEADER)
    task = world.task_at(Stage.EVIDENCE)
    other_leader = world.person("郑华", Role.LEADER)

    for outsider in (other_leader, world.head):
        with pytest.raises(Refused, match=f"不是任务 {task.id} 的初审签批人"):
            world.do(task, action, actor=outsider)
        assert action not in allowed_actions(world.session, task, outsider)
    assert action in allowed_actions(world.session, task, world.leader)
