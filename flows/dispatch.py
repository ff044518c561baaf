"""The quarterly dispatch and the look-back sweep, turned into outbox rows.

Rules live in models.dispatch and models.lookback; this module runs them for a moment and
enqueues what they call for, one transaction per run, so a round, its requests and their
messages are stored together or not at all. Message keys name the round and the person
(and the day, for chasers), so running a day again, or after a crash, adds nothing.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from flows.dispatch_report import XLSX, charts, report_context, round_sheet, sheet_name
from flows.reminders import task_refs
from models.calendar import load_calendar, local_date
from models.db import among, transaction
from models.dispatch import (
    DEFAULT_DISPATCH,
    DispatchPolicy,
    close_round,
    duties,
    open_rounds,
)
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.ledger import Inspection, Task
from models.lookback import sweep
from models.people import Department, Person, PersonRole, Role
from models.settings import Settings
from notifications.links import signer_for
from notifications.message import Attachment
from notifications.outbox import Draft, compose, enqueue_many
from notifications.render import DispatchItem


@dataclass
class DispatchReport:
    opened: list[str] = field(default_factory=list)  # titles of the rounds opened
    requested: int = 0  # tasks asked about
    chased: int = 0  # tasks chased
    escalated: int = 0  # tasks escalated to their leader
    closed: list[str] = field(default_factory=list)
    enqueued: int = 0


@dataclass
class LookbackReport:
    opened: int = 0
    unassigned: list[str] = field(default_factory=list)  # why a due look-back could not open


def _people(session: Session, ids: set[int]) -> dict[int, Person]:
    return {
        person.id: person
        for condition in among(session, Person.id, sorted(ids))
        for person in session.exec(select(Person).where(condition))
    }


def _items(
    session: Session, requests: list[DispatchRequest], *, with_officer: bool = False
) -> dict[int, DispatchItem]:
    """What each request's message says about its task, by request id."""
    tasks = {
        task.id: task
        for condition in among(session, Task.id, sorted({r.task_id for r in requests}))
        for task in session.exec(select(Task).where(condition))
    }
    refs = task_refs(session, set(tasks))
    departments = dict(session.exec(select(Department.id, Department.name)).all())
    officers = _people(session, {r.officer_id for r in requests}) if with_officer else {}
    return {
        r.id: DispatchItem(
            task=refs[r.task_id],
            deadline=tasks[r.task_id].deadline,
            officer=officers[r.officer_id].name if with_officer else None,
            department=departments.get(tasks[r.task_id].lead_department_id),
        )
        for r in requests
    }


def _by(requests: list[DispatchRequest], key) -> dict[int, list[DispatchRequest]]:
    grouped: dict[int, list[DispatchRequest]] = defaultdict(list)
    for request in requests:
        who = key(request)
        if who is not None:
            grouped[who].append(request)
    return grouped


def open_due_rounds(
    engine: Engine, now: datetime, settings: Settings, policy: DispatchPolicy = DEFAULT_DISPATCH
) -> DispatchReport:
    """Open the quarter's rounds and ask every officer, in one message, about their tasks."""
    report = DispatchReport()
    with transaction(engine) as session:
        calendar = load_calendar(session)
        drafts: list[Draft] = []
        for dispatch in open_rounds(session, now, calendar, policy):
            requests = list(
                session.exec(select(DispatchRequest).where(DispatchRequest.round_id == dispatch.id))
            )
            items = _items(session, requests)
            people = _people(session, {r.officer_id for r in requests})
            for officer_id, mine in sorted(_by(requests, lambda r: r.officer_id).items()):
                person = people[officer_id]
                drafts.append(
                    compose(
                        key=f"dispatch_request:{dispatch.id}:{officer_id}",
                        kind="dispatch_request",
                        person=person,
                        context={
                            "person_name": person.name,
                            "round_title": dispatch.title,
                            "due": dispatch.due,
                            "items": [items[r.id] for r in mine],
                        },
                        send_after=now,
                        base_url=settings.base_url,
                        links=signer_for(settings.home),
                    )
                )
            report.opened.append(dispatch.title)
            report.requested += len(requests)
        report.enqueued = len(enqueue_many(session, drafts, now))
    return report


def chase_and_close(
    engine: Engine, now: datetime, settings: Settings, policy: DispatchPolicy = DEFAULT_DISPATCH
) -> DispatchReport:
    """Chase the silent on the round's chase days; on its closing day escalate them to their
    leader, close the round and send its report to the leadership group."""
    report = DispatchReport()
    with transaction(engine) as session:
        calendar = load_calendar(session)
        drafts: list[Draft] = []
        for duty in duties(session, now, calendar, policy):
            dispatch, silent = duty.round, duty.unanswered
            if duty.kind == "chase":
                drafts += _chasers(session, dispatch, duty.day, silent, now, settings)
                report.chased += len(silent)
                continue
            drafts += _escalations(session, dispatch, silent, now, settings)
            report.escalated += len(silent)
            summary = close_round(session, dispatch, now)
            drafts += _reports(session, dispatch, summary, now, settings)
            report.closed.append(dispatch.title)
        report.enqueued = len(enqueue_many(session, drafts, now))
    return report


def _chasers(
    session: Session,
    dispatch: DispatchRound,
    day: int,
    silent: list[DispatchRequest],
    now: datetime,
    settings: Settings,
) -> list[Draft]:
    items = _items(session, silent)
    people = _people(session, {r.officer_id for r in silent})
    return [
        compose(
            key=f"dispatch_chase:{dispatch.id}:{day}:{officer_id}",
            kind="dispatch_chaser",
            person=people[officer_id],
            context={
                "person_name": people[officer_id].name,
                "round_title": dispatch.title,
                "due": dispatch.due,
                "day": day,
                "items": [items[r.id] for r in mine],
            },
            send_after=now,
            base_url=settings.base_url,
            links=signer_for(settings.home),
        )
        for officer_id, mine in sorted(_by(silent, lambda r: r.officer_id).items())
    ]


def _escalations(
    session: Session,
    dispatch: DispatchRound,
    silent: list[DispatchRequest],
    now: datetime,
    settings: Settings,
) -> list[Draft]:
    if not silent:
        return []
    leaders = dict(
        session.exec(
            select(Task.id, Task.leader_id).where(Task.id.in_({r.task_id for r in silent}))
        ).all()
    )
    items = _items(session, silent, with_officer=True)
    people = _people(session, {pid for pid in leaders.values() if pid is not None})
    return [
        compose(
            key=f"dispatch_escalation:{dispatch.id}:{leader_id}",
            kind="dispatch_escalation",
            person=people[leader_id],
            context={
                "person_name": people[leader_id].name,
                "round_title": dispatch.title,
                "due": dispatch.due,
                "items": [items[r.id] for r in mine],
            },
            send_after=now,
            base_url=settings.base_url,
            links=signer_for(settings.home),
        )
        for leader_id, mine in sorted(_by(silent, lambda r: leaders.get(r.task_id)).items())
        if people[leader_id].active
    ]


def _reports(
    session: Session,
    dispatch: DispatchRound,
    summary: dict,
    now: datetime,
    settings: Settings,
) -> list[Draft]:
    """The round's report to every active member of the leadership group: figures, charts
    inline and the 调度表 attached."""
    leadership = list(
        session.exec(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role == Role.LEADERSHIP.value, Person.active)
            .order_by(Person.id)
        )
    )
    if not leadership:
        return []
    inspection = session.get(Inspection, dispatch.inspection_id)
    sheet = sheet_name(summary)
    images, missing = charts(summary)
    files = (*images, Attachment(sheet, XLSX, round_sheet(summary, inspection.unit)))
    context = report_context(
        summary, base_url=settings.base_url, closed_on=local_date(now), sheet=sheet
    )
    return [
        compose(
            key=f"dispatch_report:{dispatch.id}:{person.id}",
            kind="dispatch_report",
            person=person,
            context={
                **context,
                "person_name": person.name,
                "charts": [{"cid": i.content_id, "title": i.filename} for i in images],
                "charts_missing": missing,
            },
            send_after=now,
            base_url=settings.base_url,
            attachments=files,
        )
        for person in leadership
    ]


def sweep_lookbacks(engine: Engine, now: datetime) -> LookbackReport:
    """Open the look-backs due today; their reviewers hear of them through the event messages."""
    with transaction(engine) as session:
        calendar = load_calendar(session)
        result = sweep(session, now, calendar)
        return LookbackReport(
            opened=len(result.opened),
            unassigned=[f"任务 {task_id}：{why}" for task_id, why in result.unassigned],
        )
