"""Look-back (回头看): months after sign-off, someone uninvolved checks the problem is gone.

DESIGN.md "Policies, precisely": a signed-off task is due for look-back 3 calendar months
after its sign-off date (each inspection may set its own number, `lookback_months`); the
sweep runs daily and assigns reviewers in turn from the reviewer pool (everyone active with
the reviewer role, e.g. the inspection office), skipping anyone who acted on or approved the
task; the review is due 10 working days after it opens. Opening goes through `apply`, so the
reviewer is told by the event messages and the review is reminded like any deadline.
"""

import calendar as month_lengths
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from models.calendar import WorkCalendar, local_date
from models.directory import system_actor
from models.guards import involved_people
from models.ledger import Inspection, Task
from models.people import Person, PersonRole, Role
from models.records import LookbackReview
from models.stages import Action, Stage
from models.workflow import apply


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, or the month's last day (31 Jan + 1 →
    28 or 29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, month_lengths.monthrange(year, month)[1]))


def lookback_due_on(task: Task, inspection: Inspection) -> date | None:
    """The day a signed-off task becomes due for look-back."""
    if task.signed_off_at is None:
        return None
    return add_months(local_date(task.signed_off_at), inspection.lookback_months)


def due_for_lookback(session: Session, today: date) -> list[Task]:
    """Signed-off tasks whose look-back is due by today, oldest sign-off first."""
    rows = session.exec(
        select(Task, Inspection)
        .join(Inspection, Inspection.id == Task.inspection_id)
        .where(Task.stage == Stage.SIGNED_OFF.value, Task.signed_off_at.is_not(None))
        .order_by(Task.signed_off_at, Task.id)
    )
    return [task for task, inspection in rows if lookback_due_on(task, inspection) <= today]


def reviewer_pool(session: Session) -> list[Person]:
    """Everyone active who may review, in a fixed order (the turn goes round it)."""
    return list(
        session.exec(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.REVIEWER.value, Person.active)
            .order_by(Person.id)
        )
    )


def _after(pool: list[Person], last_id: int | None) -> list[Person]:
    """The pool in turn order, starting with the one after `last_id`."""
    later = [p for p in pool if last_id is not None and p.id > last_id]
    return later + [p for p in pool if p not in later]


@dataclass
class SweepReport:
    opened: list[tuple[int, int]] = field(default_factory=list)  # (task id, reviewer id)
    unassigned: list[tuple[int, str]] = field(default_factory=list)  # (task id, why not)


def sweep(session: Session, now: datetime, calendar: WorkCalendar) -> SweepReport:
    """Open a look-back for every task due, each with the next reviewer in turn who neither
    acted on nor approved it; a task nobody may review is reported and left signed off."""
    report = SweepReport()
    due = due_for_lookback(session, local_date(now))
    if not due:
        return report
    pool = reviewer_pool(session)
    last = session.exec(
        select(LookbackReview.reviewer_id).order_by(
            LookbackReview.opened_at.desc(), LookbackReview.id.desc()
        )
    ).first()
    system = system_actor(session, now)
    for task in due:
        involved = involved_people(session, task)
        reviewer = next((p for p in _after(pool, last) if p.id not in involved), None)
        if reviewer is None:
            why = "没有可担任回头看的人员" if not pool else "回头看人员均曾参与该任务的整改或审批"
            report.unassigned.append((task.id, why))
            continue
        apply(
            session, task, Action.OPEN_LOOKBACK, system, now, calendar=calendar, reviewer=reviewer
        )
        report.opened.append((task.id, reviewer.id))
        last = reviewer.id
    return report
