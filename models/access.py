"""Who may see what: the desk's reading rules, beside the workflow's acting rules.

Acting is decided by the transition table (models.stages, models.guards). Reading follows
from it: a person sees the tasks they stand in a relation to (officer, responsible leader,
head of the lead department, look-back reviewer); the office and the leadership group see
the whole ledger. A task someone may not see is "not found" to them, so ids cannot be probed.
"""

from sqlalchemy import ColumnElement, false, union
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


def own_tasks(person: Person) -> ColumnElement[bool]:
    """The tasks a person stands in a relation to, as a WHERE clause.

    One IN over a UNION of ids, each part read from its own index: written as an OR of the
    relations, PostgreSQL could not combine the indexes past the reviewer's subquery and read
    all 100,000 tasks for every "my tasks" page (30 ms).
    """
    relations = [
        select(Task.id).where(Task.officer_id == person.id),
        select(Task.id).where(Task.leader_id == person.id),
        select(LookbackReview.task_id).where(LookbackReview.reviewer_id == person.id),
    ]
    if person.heads_department and person.department_id is not None:
        relations.append(select(Task.id).where(Task.lead_department_id == person.department_id))
    return Task.id.in_(union(*relations))


def visible_tasks(person: Person) -> ColumnElement[bool]:
    """The tasks a person may read, as a WHERE clause (everything for ledger readers)."""
    if reads_ledger(person):
        return Task.id.is_not(None)
    if not person.active:
        return false()
    return own_tasks(person)


def readable_task(session: Session, task_id: int, person: Person) -> Task:
    """The task if this person may read it; NotFound otherwise, whether or not it exists."""
    task = session.exec(select(Task).where(Task.id == task_id, visible_tasks(person))).first()
    if task is None:
        raise NotFound(f"找不到任务 {task_id}，或您无权查看")
    return task
