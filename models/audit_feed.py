"""Reading the audit trail in commit order, behind a named cursor: each event handled once.

The event messages and the Prefect events each keep a cursor (EventCursor). A reader takes
the cursor row for update, so two runs at once (two workers) read one after the other, not
the same events side by side, and moves it in the same transaction as what it did with the
events. Callers commit.

On SQLite one writer at a time means ids follow commit order. On PostgreSQL they do not: an
event can take its id, then commit after a later id was read. So there each event carries
the id of the transaction that wrote it (txid, a column default), and a reader takes only
events of transactions older than the oldest one still running, in (txid, id) order: what
it has not seen yet can only come later in that order. A transaction left open delays the
readers until it ends; it cannot make them skip anything.
"""

from datetime import datetime

from sqlalchemy import literal_column, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.mail import EventCursor

# Every transaction whose id is below this one has ended (committed or rolled back).
_OLDEST_RUNNING = literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


def unread(
    session: Session, name: str, now: datetime, limit: int
) -> tuple[EventCursor, list[AuditEvent]]:
    """The cursor `name` (created at the start when new) and up to `limit` task events after it."""
    locked = select(EventCursor).where(EventCursor.name == name).with_for_update()
    cursor = session.exec(locked).first()
    if cursor is None:  # the first read ever: create it, or find it created meanwhile
        try:
            with session.begin_nested():
                session.add(EventCursor(name=name, last_event_id=0, last_txid=0, updated_at=now))
        except IntegrityError:
            pass
        cursor = session.exec(locked).one()
    query = select(AuditEvent).where(AuditEvent.task_id.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        query = query.where(
            tuple_(AuditEvent.txid, AuditEvent.id) > tuple_(cursor.last_txid, cursor.last_event_id),
            AuditEvent.txid < _OLDEST_RUNNING,
        ).order_by(AuditEvent.txid, AuditEvent.id)
    else:
        query = query.where(AuditEvent.id > cursor.last_event_id).order_by(AuditEvent.id)
    return cursor, list(session.exec(query.limit(limit)))


def mark_read(
    session: Session, cursor: EventCursor, events: list[AuditEvent], now: datetime
) -> None:
    """Move the cursor past `events` (the last batch `unread` returned)."""
    if events:
        cursor.last_event_id = events[-1].id
        cursor.last_txid = events[-1].txid or 0
    cursor.updated_at = now
    session.add(cursor)
