"""Who may see what: the desk's reading rules, beside the workflow's acting rules.

Acting is decided by the transition table (models.stages, models.guards). Reading follows
from it: a person sees the tasks they stand in a relation to (officer, responsible leader,
head of the lead department, look-back reviewer); the office and the leadership group see
the whole ledger. A task someone may not see is "not found" to them, so ids cannot be probed.
"""

from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, bindparam, false, union
from sqlmodel import Session, select

from models.errors import NotFound
from models.ledger import Task
from models.people import Person, Role
from models.records import LookbackReview

LEDGER_READERS = frozenset({Role.OFFICE, Role.LEADERSHIP})
SIGNOFF_ROLES = frozenset({Role.OFFICE, Role.LEADERSHIP, Role.LEADER})
LOOKBACK_ROLES = frozenset({Role.REVIEWER, Role.OFFICE, Role.LEADERSHIP})
MAIL_READERS = frozenset({Role.OFFICE, Role.LEADERSHIP, Role.ADMIN})


def reads_ledger(person: Person) -> bool:
    return person.has_role(*LEDGER_READERS)


@cache
def _own_task_ids(heads_department: bool) -> CompoundSelect:
    """The ids of the tasks the viewer stands in a relation to, built once per shape."""
    viewer_id = bindparam("viewer_id")
    relations = [
        select(Task.id).where(Task.officer_id == viewer_id),
        select(Task.id).where(Task.leader_id == viewer_id),
        select(LookbackReview.task_id).where(LookbackReview.reviewer_id == viewer_id),
    ]
    if heads_department:
        relations.append(
            select(Task.id).where(Task.lead_department_id == bindparam("viewer_department"))
        )
    return union(*relations)


def _heads(person: Person) -> bool:
    return person.heads_department and person.department_id is not None


def own_tasks(person: Person) -> ColumnElement[bool]:
    """The tasks a person stands in a relation to, as a WHERE clause; a statement using it is
    executed with `relation_params(person)`.

    One IN over a UNION of ids, each part read from its own index: written as an OR of the
    relations, PostgreSQL could not combine the indexes past the reviewer's subquery and read
    all 100,000 tasks for every "my tasks" page (30 ms). The union is built once and bound
    to the person at execution: building it for each page cost more than running it.
    """
    return _own_tasks(_heads(person))


@cache
def _own_tasks(heads_department: bool) -> ColumnElement[bool]:
    return Task.id.in_(_own_task_ids(heads_department))


def relation_params(person: Person) -> dict[str, Any]:
    """The values `own_tasks` and `visible_tasks` are bound to."""
    return {"viewer_id": person.id, "viewer_department": person.department_id}


def visible_tasks(person: Person) -> ColumnElement[bool]:
    """The tasks a person may read, as a WHERE clause (everything for ledger readers);
    executed with `relation_params(person)`."""
    if reads_ledger(person):
        return _EVERY_TASK
    if not person.active:
        return _NO_TASK
    return own_tasks(person)


_EVERY_TASK = Task.id.is_not(None)
_NO_TASK = false()


@cache
def _task_if_visible(visible: ColumnElement[bool]) -> Select:
    """Built once for each kind of reader (`visible_tasks` gives the same clause each time)."""
    return select(Task).where(Task.id == bindparam("task_id"), visible)


def readable_task(session: Session, task_id: int, person: Person) -> Task:
    """The task if this person may read it; NotFound otherwise, whether or not it exists."""
    query = _task_if_visible(visible_tasks(person))
    params = {"task_id": task_id, **relation_params(person)}
    task = session.exec(query, params=params).first()
    if task is None:
        raise NotFound(f"找不到任务 {task_id}，或您无权查看")
    return task
