"""The outbox: every message is a row under a unique key before anything is sent.

Life of a row: PENDING (due at send_after) → SENDING (claimed by one delivery run) → SENT,
or back to PENDING with a later send_after (transient failure), or FAILED (permanent, the
reason kept; `rectify mail retry` requeues it). A SENDING row whose claim is older than the
lease belongs to a run that died: the next run claims it again and resends it under the
same Message-ID.

Every change of state is a conditional UPDATE on what was read, checked by its row count,
so two processes never claim, or settle, the same row. Callers commit.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from models.errors import NotFound, Refused
from models.mail import MESSAGE_STATE_LABELS, MessageState, OutboxMessage
from models.people import Person
from notifications.render import KIND_LABELS, Rendered, RenderError, one_line, render

LEASE = timedelta(minutes=10)  # a SENDING row older than this belongs to a dead run
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=60),
)  # after the 1st, 2nd, 3rd, 4th and later transient failures
MAX_ATTEMPTS = 24  # about 20 hours of retrying, then the row is parked as failed
KEY_MAX = 200
ERROR_MAX = 1000

_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"  # local part: the dot-atom characters of RFC 5322
    r"@(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"  # domain labels
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"  # top level; IDN only in its xn-- form
)


@dataclass(frozen=True)
class RenderFailure:
    """A message that could not be rendered: enqueued as FAILED with this reason."""

    reason: str


def address_problem(address: str | None) -> str | None:
    """Why an address cannot receive mail, or None when it looks deliverable."""
    if address is None or not address.strip():
        return "收件人没有登记邮箱地址"
    if len(address) > 254 or not _ADDRESS.fullmatch(address.strip()):
        return f"收件人的邮箱地址无效：“{one_line(address)[:100]}”"
    local = address.strip().split("@", 1)[0]
    if local.startswith(".") or local.endswith(".") or ".." in local or len(local) > 64:
        return f"收件人的邮箱地址无效：“{one_line(address)[:100]}”"
    return None


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 5, 15, then 60 minutes."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


# --- enqueue -------------------------------------------------------------------------------


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    person: Person | None,
    to_address: str | None = None,
    rendered: Rendered | RenderFailure,
    send_after: datetime,
    now: datetime,
) -> int | None:
    """Store one message under `key`: its id, or None when that key is already in the outbox.

    The address defaults to the person's. A message that cannot be sent (no or an invalid
    address, a template error) is stored as FAILED with the reason, so it is reported, not
    lost and not crashed on. Safe under concurrency: INSERT … ON CONFLICT (key) DO NOTHING.
    """
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"outbox key must have 1 to {KEY_MAX} characters: {key!r}")
    address = to_address if to_address is not None else (person.email if person else None)
    problem = rendered.reason if isinstance(rendered, RenderFailure) else address_problem(address)
    if isinstance(rendered, RenderFailure):
        subject, text, html = f"（未能生成的{KIND_LABELS.get(kind, kind)}邮件）", "", ""
    else:
        subject, text, html = rendered.subject, rendered.text, rendered.html
    values: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "person_id": person.id if person else None,
        "to_address": one_line(address or "")[:200],
        "subject": subject[:300],
        "text": text,
        "html": html,
        "state": MessageState.FAILED if problem else MessageState.PENDING,
        "attempts": 0,
        "send_after": send_after,
        "last_error": problem[:ERROR_MAX] if problem else None,
        "created_at": now,
    }
    return _insert_unless_present(session, values)  # not read back: bodies can be megabytes


def enqueue_message(
    session: Session,
    *,
    key: str,
    kind: str,
    person: Person | None,
    context: dict[str, Any],
    send_after: datetime,
    now: datetime,
    base_url: str,
    to_address: str | None = None,
) -> int | None:
    """Render and enqueue; a template error becomes this message's FAILED row."""
    try:
        rendered: Rendered | RenderFailure = render(kind, context, base_url=base_url)
    except RenderError as error:
        rendered = RenderFailure(str(error))
    return enqueue(
        session,
        key=key,
        kind=kind,
        person=person,
        to_address=to_address,
        rendered=rendered,
        send_after=send_after,
        now=now,
    )


def _insert_unless_present(session: Session, values: dict[str, Any]) -> int | None:
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(table.c.id)
        )
        return session.exec(statement).scalar_one_or_none()
    try:  # any other database: let the unique key decide, inside a savepoint
        with session.begin_nested():
            return session.exec(insert(table).values(**values).returning(table.c.id)).scalar_one()
    except IntegrityError:
        return None


# --- claim and settle ------------------------------------------------------------------------


def _due(now: datetime, due_by: datetime, lease: timedelta) -> Any:
    """The one "due" rule: pending and its time has come, or claimed by a run that died."""
    return or_(
        and_(OutboxMessage.state == MessageState.PENDING, OutboxMessage.send_after <= due_by),
        and_(OutboxMessage.state == MessageState.SENDING, OutboxMessage.claimed_at < now - lease),
    )


def claim(
    session: Session,
    now: datetime,
    limit: int,
    *,
    lease: timedelta = LEASE,
    due_by: datetime | None = None,
) -> list[OutboxMessage]:
    """Mark up to `limit` due rows SENDING for this caller and return them (oldest first).

    Each row is taken with `UPDATE … WHERE id = ? AND state = <read> AND <still due>`; a row
    count of 0 means another process took it first. On PostgreSQL the read skips rows other
    claimers hold locked. `due_by` (default `now`) bounds send_after, so a long delivery run
    does not pick up the retries it scheduled itself.
    """
    due = _due(now, due_by or now, lease)
    query = (
        select(OutboxMessage.id, OutboxMessage.state)
        .where(due)
        .order_by(OutboxMessage.send_after, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    taken = []
    for row_id, state in session.exec(query).all():
        result = session.exec(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.state == state, due)
            .values(state=MessageState.SENDING, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            taken.append(row_id)
    if not taken:
        return []
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(taken))
            .order_by(OutboxMessage.send_after, OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def _settle(session: Session, message: OutboxMessage, **values: Any) -> bool:
    """Change a row this caller claimed, if the claim still holds (same claimed_at)."""
    result = session.exec(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.state == MessageState.SENDING,
            OutboxMessage.claimed_at == message.claimed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(message, name, value)
    return True


def mark_sent(session: Session, message: OutboxMessage, now: datetime) -> MessageState | None:
    """The server accepted the message (or it was captured). None if the claim was lost."""
    ok = _settle(session, message, state=MessageState.SENT, sent_at=now)
    return MessageState.SENT if ok else None


def mark_retry(
    session: Session, message: OutboxMessage, now: datetime, error: str
) -> MessageState | None:
    """A transient failure: try again after a backoff, or park it after MAX_ATTEMPTS."""
    attempts = message.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        reason = f"已尝试 {attempts} 次仍未发出，最后一次：{error}"
        ok = _settle(
            session,
            message,
            state=MessageState.FAILED,
            attempts=attempts,
            last_error=reason[:ERROR_MAX],
        )
        return MessageState.FAILED if ok else None
    ok = _settle(
        session,
        message,
        state=MessageState.PENDING,
        attempts=attempts,
        send_after=now + backoff(attempts),
        last_error=error[:ERROR_MAX],
    )
    return MessageState.PENDING if ok else None


def mark_failed(
    session: Session, message: OutboxMessage, now: datetime, error: str
) -> MessageState | None:
    """A permanent failure (e.g. 550 from the server): parked with the server's reply."""
    ok = _settle(
        session,
        message,
        state=MessageState.FAILED,
        attempts=message.attempts + 1,
        last_error=error[:ERROR_MAX],
    )
    return MessageState.FAILED if ok else None


def requeue(session: Session, message_id: int, now: datetime) -> OutboxMessage:
    """Send a FAILED message again now (`rectify mail retry`); any other state is refused.

    If the stored address was the problem, the person's current address is used.
    """
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"找不到邮件 {message_id}")
    if row.state != MessageState.FAILED:
        label = MESSAGE_STATE_LABELS[MessageState(row.state)]
        raise Refused(f"邮件 {message_id} 的状态是“{label}”，只有“发送失败”的邮件可以重新发送")
    if not row.text and not row.html:
        raise Refused(f"邮件 {message_id} 的内容未能生成，无法重新发送（{row.last_error}）")
    address = row.to_address
    if address_problem(address) and row.person_id is not None:
        person = session.get(Person, row.person_id)
        address = person.email if person and person.email else address
    problem = address_problem(address)
    if problem:
        raise Refused(f"邮件 {message_id} 无法重新发送：{problem}，请先更正人员的邮箱")
    result = session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == MessageState.FAILED)
        .values(
            state=MessageState.PENDING,
            to_address=address,
            attempts=0,
            send_after=now,
            claimed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Refused(f"邮件 {message_id} 刚刚被其他操作修改，请重试")
    session.refresh(row)
    return row
