"""The day's deadline digests and the event messages, turned into outbox rows.

Flows orchestrate: who is told what is decided in models.reminders, the wording lives in
notifications/templates, the sending in notifications.delivery. Everything here is batched —
a run decides with a few queries and enqueues one message per person — and idempotent:
the outbox keys name the person and the day (or the audit event), so running the same day
twice, or again after a crash, adds nothing.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.audit_feed import mark_read, unread
from models.calendar import load_calendar, local_date
from models.db import among, transaction
from models.ledger import Area, Task
from models.people import Person
from models.reminders import (
    DEFAULT_POLICY,
    RECIPIENT_LABELS,
    Digest,
    ReminderPolicy,
    plan_reminders,
)
from models.settings import Settings
from models.stages import Action
from notifications.links import signer_for
from notifications.outbox import Draft, compose, enqueue_many, enqueue_message
from notifications.render import DigestItem, TaskRef

EVENT_CURSOR = "event_messages"
EVENT_BATCH = 1000
# Events older than this when first seen are history (an import, a restored backup), not news:
# they move the cursor on without mailing anyone.
EVENT_MAX_AGE = timedelta(days=2)


@dataclass
class PlanReport:
    digests: int = 0
    items: int = 0
    enqueued: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class EventReport:
    events: int = 0
    enqueued: int = 0
    skipped_old: int = 0


def task_refs(session: Session, task_ids: set[int]) -> dict[int, TaskRef]:
    """Titles and "area.task" numbers of many tasks, in one query or a few."""
    refs: dict[int, TaskRef] = {}
    for condition in among(session, Task.id, sorted(task_ids)):
        rows = session.exec(
            select(Task.id, Task.title, Task.number, Area.number)
            .join(Area, Area.id == Task.area_id)
            .where(condition)
        )
        for task_id, title, number, area_number in rows:
            refs[task_id] = TaskRef(id=task_id, title=title, number=f"{area_number}.{number}")
    return refs


def _people(session: Session, ids: set[int]) -> dict[int, Any]:
    """Id, name, address and whether active of many people: rows, not ORM objects (light)."""
    columns = (Person.id, Person.name, Person.email, Person.active)
    return {
        row.id: row
        for condition in among(session, Person.id, sorted(ids))
        for row in session.exec(select(*columns).where(condition))
    }


def digest_key(digest: Digest, person_id: int, now: datetime) -> str:
    return f"digest:{digest.kind}:{person_id}:{local_date(now).isoformat()}"


def plan_day(
    engine: Engine, now: datetime, settings: Settings, policy: ReminderPolicy = DEFAULT_POLICY
) -> PlanReport:
    """Enqueue today's digests: one message per person listing every item due for them."""
    with transaction(engine) as session:
        calendar = load_calendar(session)
        digests = plan_reminders(session, now, calendar, policy)
        report = PlanReport(digests=len(digests), warnings=calendar.warnings)
        if not digests:
            return report
        refs = task_refs(session, {item.task_id for d in digests for item in d.items})
        people = _people(session, {d.person_id for d in digests})
        day = local_date(now)
        shared: dict = {}  # the leadership group's identical lists are rendered once

        def drafts() -> Iterator[Draft]:
            for digest in digests:
                items = [
                    DigestItem(
                        task=refs[item.task_id],
                        light=item.light.value,
                        deadline=item.deadline,
                        days_left=item.working_days,
                        role=RECIPIENT_LABELS[item.recipient],
                        lookback=item.lookback,
                    )
                    for item in digest.items
                ]
                report.items += len(items)
                person = people[digest.person_id]
                yield compose(
                    key=digest_key(digest, person.id, now),
                    kind="digest",
                    person=person,
                    context={
                        "person_name": person.name,
                        "day": day,
                        "items": items,
                        "shared": shared,
                    },
                    send_after=now,
                    base_url=settings.base_url,
                    links=signer_for(settings.home),
                )

        report.enqueued = len(enqueue_many(session, drafts(), now))
    return report


# --- event messages ---------------------------------------------------------------------------


def _date(value: str | None) -> date | None:
    """Dates come back from the audit details as ISO text."""
    return date.fromisoformat(value) if value else None


def _event_messages(event: AuditEvent, task: Task) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(kind, recipient id, extra context) for one audit event; most events say nothing."""
    data = event.data
    action = event.action
    if action in (Action.ASSIGN, Action.REASSIGN) and data.get("officer"):
        return [("assigned", data["officer"]["id"], {"deadline": task.deadline})]
    if action == Action.REJECT:
        return [("rejected", task.officer_id, {"reason": data.get("comment") or ""})]
    if action == Action.APPROVE:
        return [("approved", task.officer_id, {})]
    if action == Action.GRANT_EXTENSION:
        context = {"deadline": task.deadline, "previous_deadline": _date(data.get("from"))}
        return [("extension_granted", task.officer_id, context)]
    if action == Action.REFUSE_EXTENSION:
        context = {"deadline": task.deadline, "reason": data.get("reason") or ""}
        return [("extension_refused", task.officer_id, context)]
    if action == Action.OPEN_LOOKBACK and data.get("reviewer"):
        return [("lookback_assigned", data["reviewer"]["id"], {"due": _date(data.get("due"))})]
    if action == Action.REBOUND:
        context = {"finding": data.get("finding") or "", "deadline": task.deadline}
        return [("rebound", pid, context) for pid in (task.officer_id, task.leader_id) if pid]
    return []


def notify_events(engine: Engine, now: datetime, settings: Settings) -> EventReport:
    """Turn new audit events into messages; the cursor moves in the same transaction."""
    report = EventReport()
    while True:
        with transaction(engine) as session:
            cursor, events = unread(session, EVENT_CURSOR, now, EVENT_BATCH)
            mark_read(session, cursor, events, now)
            if not events:
                return report
            report.events += len(events)
            _enqueue_events(session, events, now, settings, report)


def _enqueue_events(
    session: Session,
    events: list[AuditEvent],
    now: datetime,
    settings: Settings,
    report: EventReport,
) -> None:
    tasks = {
        t.id: t for t in session.exec(select(Task).where(Task.id.in_({e.task_id for e in events})))
    }
    refs = task_refs(session, set(tasks))
    planned = []
    for event in events:
        if event.at < now - EVENT_MAX_AGE:
            report.skipped_old += 1
            continue
        planned += [(event, *m) for m in _event_messages(event, tasks[event.task_id])]
    people = _people(session, {pid for _, _, pid, _ in planned if pid})
    for event, kind, person_id, extra in planned:
        person = people.get(person_id)
        if person is None or not person.active:
            continue
        context = {
            "person_name": person.name,
            "task": refs[event.task_id],
            "actor_name": event.actor_name,
            **extra,
        }
        added = enqueue_message(
            session,
            key=f"{kind}:{event.id}:{person.id}",
            kind=kind,
            person=person,
            context=context,
            send_after=now,
            now=now,
            base_url=settings.base_url,
            links=signer_for(settings.home),
        )
        report.enqueued += added is not None
