"""Reading the audit trail in order, behind a named cursor: each reader handles each event once.

The event messages and the Prefect events each keep a cursor (EventCursor). A reader takes
the cursor row for update, so two runs at once (two workers) read one after the other, not
the same events side by side; it moves the cursor in the same transaction as what it did
with the events. Callers commit.
"""

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.mail import EventCursor


def unread(
    session: Session, name: str, now: datetime, limit: int
) -> tuple[EventCursor, list[AuditEvent]]:
    """The cursor `name` (created at the start when new) and up to `limit` task events after it."""
    locked = select(EventCursor).where(EventCursor.name == name).with_for_update()
    cursor = session.exec(locked).first()
    if cursor is None:  # the first read ever: create it, or find it created meanwhile
        try:
            with session.begin_nested():
                session.add(EventCursor(name=name, last_event_id=0, updated_at=now))
        except IntegrityError:
            pass
        cursor = session.exec(locked).one()
    events = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.id > cursor.last_event_id, AuditEvent.task_id.is_not(None))
            .order_by(AuditEvent.id)
            .limit(limit)
        )
    )
    return cursor, events


def mark_read(
    session: Session, cursor: EventCursor, events: list[AuditEvent], now: datetime
) -> None:
    """Move the cursor past `events` (the last batch `unread` returned)."""
    if events:
        cursor.last_event_id = events[-1].id
    cursor.updated_at = now
    session.add(cursor)
