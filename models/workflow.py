"""The one way a task changes: `apply(session, task, action, actor, now, **data)`.

`apply` looks the (stage, action) pair up in models.stages.TRANSITIONS, checks the
actor's role and relation to the task, the separation of duties and the task's
preconditions (models.guards), lets the action's handler validate its data and change the
records (models.handlers), moves the stage, and appends the audit event — all in the
caller's transaction, which it flushes but never commits.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from models.audit import AuditEvent, append_event, task_chain
from models.calendar import DEFAULT_CALENDAR, WorkCalendar
from models.errors import ChangedMeanwhile, Refused
from models.guards import check_actor, check_preconditions, check_separation_of_duties
from models.handlers import HANDLERS, Step
from models.ledger import Task
from models.people import Person
from models.stages import ACTION_LABELS, STAGE_LABELS, Action, Stage, rule_for


def apply(
    session: Session,
    task: Task,
    action: Action,
    actor: Person,
    now: datetime,
    *,
    expected_version: int | None = None,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
    flush: bool = True,
    **data: Any,
) -> AuditEvent:
    """Take one workflow action on a task, or refuse it with a reason; never commits.

    Bulk jobs pass flush=False for many actions and then call `flush_batch`, which turns a
    concurrent change anywhere in the batch into ChangedMeanwhile for the whole batch.
    """
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
    check_separation_of_duties(session, task, action, actor)
    check_preconditions(session, task, action)
    task_id = task.id
    try:
        details = HANDLERS[action](Step(session, task, actor, now, calendar), **data)
        task.stage = rule.next
        task.updated_at = now
        if flush:  # the version check: a concurrent change fails here, before the event
            session.flush()
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
        if flush:
            session.flush()
    except StaleDataError as error:
        raise ChangedMeanwhile(_changed_meanwhile(task_id)) from error
    return event


def flush_batch(session: Session) -> None:
    """Write a batch of actions taken with flush=False; all of them or, on a race, none.

    In one flush the audit event may reach the database before its task's version check,
    so a concurrent change shows up either as a stale task or as a taken event number.
    """
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as error:
        raise ChangedMeanwhile("有任务已被他人修改，本批操作均未生效，请刷新后重试") from error


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
            check_separation_of_duties(session, task, action, actor)
            check_preconditions(session, task, action)
        except Refused:
            continue
        allowed.append(action)
    return allowed
