"""What the desk's pages show, read with a few queries each (the ledger may hold 100,000 tasks).

Lights are computed for the rows on a page only; filters by light become WHERE clauses
(models.lights.light_where), so paging stays one indexed query plus a count.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from models.access import own_tasks, relation_params, visible_tasks
from models.audit import AuditEvent
from models.calendar import WorkCalendar
from models.db import read_unless_changed
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.ledger import (
    Area,
    Campaign,
    CampaignTask,
    DeadlineClass,
    Inspection,
    Measure,
    Task,
    TaskSupport,
    long_term,
)
from models.lights import Light, light, light_of, light_params, light_where
from models.people import Department, Person, Role
from models.queries import records_of
from models.records import (
    DeadlineChange,
    Evidence,
    ExtensionRequest,
    LookbackReview,
    ProgressReport,
    ReviewStatus,
    SignOff,
)
from models.stages import OWN_TASK_ROLES, Action, Stage, actions_from, rule_for

PER_PAGE = 50


@dataclass(frozen=True)
class TaskLine:
    """One task in a list: enough to find it, see its light and what comes next."""

    id: int
    number: str
    title: str
    area: str
    stage: str
    light: Light
    deadline: date | None
    deadline_class: str
    officer: str | None
    department: str | None
    hints: tuple[str, ...] = ()  # actions the viewer's roles allow in this stage


# Decided on the task page, where a pending request can be seen: never hinted in lists.
PAGE_ONLY = frozenset({Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION, Action.REASSIGN})

_OFFICER = aliased(Person)


def hints_for(row: Any, person_id: int | None, roles: set[Role]) -> tuple[str, ...]:
    """Actions the transition table gives these roles in the task's stage (`row` has the
    task's stage, deadline_class, officer_id and leader_id: a Task or a row of columns).

    A hint, not a permission: the task page asks the workflow itself (allowed_actions),
    which also checks separation of duties and preconditions.
    """
    relation = {Role.OFFICER: row.officer_id, Role.LEADER: row.leader_id}
    stage = Stage(row.stage)
    found = []
    for action in actions_from(stage):
        if action in PAGE_ONLY or (
            action == Action.APPROVE_PHASE and not long_term(row.deadline_class)
        ):
            continue
        rule = rule_for(stage, action)
        assert rule is not None
        for role in rule.who & roles:
            if role not in OWN_TASK_ROLES or relation.get(role, person_id) == person_id:
                found.append(action.value)
                break
    return tuple(found)


def _line_query() -> Select:
    """The columns a list shows, names joined in: one query a page, no Task objects built
    (a page of 50 ORM rows and two name lookups cost more than the rest of the page)."""
    return (
        select(
            Task.id, Task.number, Task.title, Task.stage, Task.deadline, Task.deadline_class,
            Task.officer_id, Task.leader_id, Area.number.label("area_number"),
            Area.title.label("area_title"), _OFFICER.name.label("officer_name"),
            Department.name.label("department_name"),
        )
        .join(Area, Area.id == Task.area_id)
        .outerjoin(_OFFICER, _OFFICER.id == Task.officer_id)
        .outerjoin(Department, Department.id == Task.lead_department_id)
    )  # fmt: skip


_LINES = _line_query()


def _lines(
    session: Session, query: Select, today: date, calendar: WorkCalendar,
    person: Person | None = None, params: dict[str, Any] | None = None,
) -> list[TaskLine]:  # fmt: skip
    roles = person.roles if person else set()
    person_id = person.id if person else None
    return [
        TaskLine(
            id=row.id,
            number=f"{row.area_number}.{row.number}",
            title=row.title,
            area=row.area_title,
            stage=row.stage,
            light=light_of(row.stage, row.deadline_class, row.deadline, today, calendar),
            deadline=row.deadline,
            deadline_class=row.deadline_class,
            officer=row.officer_name,
            department=row.department_name,
            hints=hints_for(row, person_id, roles) if person else (),
        )
        # Plain rows from the connection: the ORM's result handling cost 60 µs a list.
        for row in session.connection().execute(query, params)
    ]


@cache
def _my_tasks_query(own: ColumnElement[bool]) -> Select:
    """Built once for each shape of `own_tasks` (it gives the same clause each time)."""
    return _LINES.where(own).order_by(Task.id)


def my_tasks(
    session: Session, person: Person, today: date, calendar: WorkCalendar
) -> list[TaskLine]:
    """The tasks this person answers for, reviews or leads, most urgent first."""
    query = _my_tasks_query(own_tasks(person))
    lines = _lines(session, query, today, calendar, person, relation_params(person))
    urgency = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, Light.NONE: 3, Light.DONE: 4}
    return sorted(lines, key=lambda line: (urgency[line.light], line.deadline or date.max, line.id))


@dataclass(frozen=True)
class LedgerFilter:
    area: int | None = None
    department: int | None = None
    stage: Stage | None = None
    light: Light | None = None
    deadline_class: DeadlineClass | None = None
    campaign: int | None = None


# Each filter as a clause bound by name, so a ledger query is built once per combination of
# filters (at most a few hundred) instead of for every page.
_FILTERS: dict[str, ColumnElement[bool]] = {
    "area": Task.area_id == bindparam("area"),
    "department": Task.lead_department_id == bindparam("department"),
    "stage": Task.stage == bindparam("stage"),
    "deadline_class": Task.deadline_class == bindparam("deadline_class"),
    "campaign": Task.id.in_(
        select(CampaignTask.task_id).where(CampaignTask.campaign_id == bindparam("campaign"))
    ),
}


def ledger_page(
    session: Session, person: Person, wanted: LedgerFilter, today: date, calendar: WorkCalendar,
    page: int = 1, per_page: int = PER_PAGE,
) -> tuple[list[TaskLine], int]:  # fmt: skip
    """One page of the ledger under the filters, and how many tasks match in all."""
    visible = visible_tasks(person)
    conditions = [visible]
    # Only the values the statement reads: they are also what its count is remembered by,
    # and the ledger's readers all see the same ledger.
    params: dict[str, Any] = relation_params(person) if visible is own_tasks(person) else {}
    for name, clause in _FILTERS.items():
        value = getattr(wanted, name)
        if value is not None:
            conditions.append(clause)
            params[name] = value.value if isinstance(value, StrEnum) else value
    if wanted.light is not None:
        conditions.append(light_where(wanted.light))
        params |= light_params(today, calendar)
    count, rows = _ledger_queries(tuple(conditions))
    total = read_unless_changed(
        session, (count, *sorted(params.items())),
        lambda: session.exec(count, params=params).one(),
    )  # fmt: skip
    page_of = {"offset": (max(page, 1) - 1) * per_page, "limit": per_page}
    return _lines(session, rows, today, calendar, params=params | page_of), total


@cache
def _ledger_queries(conditions: tuple[ColumnElement[bool], ...]) -> tuple[Select, Select]:
    """The count and the page of rows under these conditions.

    The page's ids first, then their rows: the ids come from an index alone, so a filter
    matching thousands of tasks sorts ids, not whole rows.
    """
    count = select(func.count()).select_from(Task).where(*conditions)
    ids = (
        select(Task.id)
        .where(*conditions)
        .order_by(Task.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )
    return count, _LINES.where(Task.id.in_(ids)).order_by(Task.id)


def filter_choices(session: Session) -> dict[str, tuple[tuple[int, str], ...]]:
    """What the ledger's filter menus offer: the same on every page until something changes,
    so one answer serves many pages (read only)."""
    return read_unless_changed(session, "ledger filter menus", lambda: _filter_choices(session))


def _filter_choices(session: Session) -> dict[str, tuple[tuple[int, str], ...]]:
    return {
        "areas": tuple((id_, f"{number}. {title}") for id_, number, title in session.exec(_AREAS)),
        "departments": tuple(session.exec(_DEPARTMENTS).all()),
        "campaigns": tuple(session.exec(_CAMPAIGNS).all()),
    }


_AREAS = select(Area.id, Area.number, Area.title).order_by(Area.inspection_id, Area.number)
_DEPARTMENTS = select(Department.id, Department.name).order_by(Department.name)
_CAMPAIGNS = select(Campaign.id, Campaign.name).order_by(Campaign.id)


# The task page's statements, built once: building one cost more than running it here.
_TASK_CONTEXT = (
    select(Area, Inspection, Department.name)
    .select_from(Area)
    .join(Inspection, Inspection.id == bindparam("inspection_id"))
    .outerjoin(Department, Department.id == bindparam("department_id"))
    .where(Area.id == bindparam("area_id"))
)
_SUPPORTS = (
    select(TaskSupport.department_id, Department.name)
    .join(Department, Department.id == TaskSupport.department_id)
    .where(TaskSupport.task_id == bindparam("task_id"))
    .order_by(TaskSupport.department_id)
)
_NAMES = select(Person.id, Person.name).where(Person.id.in_(bindparam("ids", expanding=True)))
_EVENTS = (
    select(AuditEvent).where(AuditEvent.task_id == bindparam("task_id")).order_by(AuditEvent.seq)
)


def task_sheet(session: Session, task: Task, today: date, calendar: WorkCalendar) -> dict[str, Any]:
    """Everything the task page shows about one task (names of only the people it mentions)."""
    area, inspection, department = session.exec(
        _TASK_CONTEXT,
        params={"area_id": task.area_id, "inspection_id": task.inspection_id,
                "department_id": task.lead_department_id},
    ).one()  # fmt: skip
    records = {
        "measures": records_of(session, Measure, task.id),
        "deadlines": records_of(session, DeadlineChange, task.id),
        "evidence": records_of(session, Evidence, task.id),
        "progress": records_of(session, ProgressReport, task.id),
        "signoffs": records_of(session, SignOff, task.id),
        "extensions": records_of(session, ExtensionRequest, task.id),
        "reviews": records_of(session, LookbackReview, task.id),
    }
    mentioned = {task.officer_id, task.leader_id, task.submitted_by_id}
    mentioned |= {e.uploaded_by_id for e in records["evidence"]}
    mentioned |= {d.by_id for d in records["deadlines"]}
    mentioned |= {p.reporter_id for p in records["progress"]}
    mentioned |= {s.signer_id for s in records["signoffs"]}
    mentioned |= {r.reviewer_id for r in records["reviews"]}
    mentioned |= {x.decided_by_id for x in records["extensions"]}
    mentioned.discard(None)
    people = dict(session.exec(_NAMES, params={"ids": list(mentioned)}).all())
    supports = session.exec(_SUPPORTS, params={"task_id": task.id}).all()
    events = session.exec(_EVENTS, params={"task_id": task.id}).all()
    return {
        "task": task,
        "area": area,
        "inspection": inspection,
        "number": f"{area.number}.{task.number}",
        "light": light(task, today, calendar),
        "officer": people.get(task.officer_id),
        "leader": people.get(task.leader_id),
        "department": department,
        "supports": [name for _, name in supports],
        **records,
        "events": events,
        "people": people,
    }


def signoff_queue(
    session: Session, person: Person, today: date, calendar: WorkCalendar
) -> list[TaskLine]:
    """Tasks waiting for a sign-off this person's roles may give (the page checks each)."""
    query = _LINES.where(Task.stage == Stage.EVIDENCE.value)
    if not person.has_role(Role.OFFICE, Role.LEADERSHIP):
        query = query.where(own_tasks(person))
    query = query.order_by(Task.submitted_at, Task.id).limit(500)
    return _lines(session, query, today, calendar, person, relation_params(person))


def lookback_queue(session: Session, person: Person) -> list[dict[str, Any]]:
    """Open look-back reviews: one's own, or all of them for the office and leadership."""
    query = (
        select(LookbackReview, Task, Area)
        .join(Task, Task.id == LookbackReview.task_id).join(Area, Area.id == Task.area_id)
        .where(LookbackReview.status == ReviewStatus.OPEN.value)
    )  # fmt: skip
    if not person.has_role(Role.OFFICE, Role.LEADERSHIP):
        query = query.where(LookbackReview.reviewer_id == person.id)
    people = dict(session.exec(select(Person.id, Person.name)).all())
    rows = session.exec(query.order_by(LookbackReview.due, LookbackReview.id))
    return [
        {"review": review, "task": task, "number": f"{area.number}.{task.number}",
         "reviewer": people.get(review.reviewer_id), "signed_off": task.signed_off_at}
        for review, task, area in rows
    ]  # fmt: skip


def dispatch_rounds(session: Session) -> list[dict[str, Any]]:
    answered = func.count(DispatchRequest.answered_at)
    counts = {
        rid: (total, done)
        for rid, total, done in session.exec(
            select(DispatchRequest.round_id, func.count(), answered).group_by(
                DispatchRequest.round_id
            )
        )
    }
    rounds = session.exec(select(DispatchRound).order_by(DispatchRound.number.desc()))
    return [
        {"round": r, "requests": total, "answered": done}
        for r in rounds
        for total, done in [counts.get(r.id, (0, 0))]
    ]  # fmt: skip


def dispatch_requests(session: Session, round_id: int) -> list[dict[str, Any]]:
    people = dict(session.exec(select(Person.id, Person.name)).all())
    rows = session.exec(
        select(DispatchRequest, Task, Area, ProgressReport)
        .join(Task, Task.id == DispatchRequest.task_id).join(Area, Area.id == Task.area_id)
        .outerjoin(ProgressReport, ProgressReport.id == DispatchRequest.report_id)
        .where(DispatchRequest.round_id == round_id).order_by(Task.id)
    )  # fmt: skip
    return [
        {"request": req, "task": task, "number": f"{area.number}.{task.number}",
         "officer": people.get(req.officer_id), "report": report}
        for req, task, area, report in rows
    ]  # fmt: skip
