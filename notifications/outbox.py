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
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import and_, func, insert, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from models.db import among
from models.errors import NotFound, Refused
from models.mail import (
    MESSAGE_STATE_LABELS,
    MessageState,
    OutboxAttachment,
    OutboxBody,
    OutboxMessage,
)
from models.people import Person
from notifications.links import LinkSigner
from notifications.message import Attachment, Content
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
CHUNK_ROWS, CHUNK_CHARS = 500, 2_000_000  # drafts written by one INSERT, at most
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


class Addressee(Protocol):
    """Who a message is for: a Person, or a row of one's id and address."""

    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str | None: ...


@dataclass(frozen=True)
class Draft:
    """A message to store: its key, who it is for and its rendered content (or why not)."""

    key: str
    kind: str
    person: Addressee | None
    rendered: Rendered | RenderFailure
    send_after: datetime
    to_address: str | None = None  # default: the person's address
    attachments: tuple[Attachment, ...] = ()


def compose(
    *,
    key: str,
    kind: str,
    person: Addressee | None,
    context: dict[str, Any],
    send_after: datetime,
    base_url: str,
    to_address: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    links: LinkSigner | None = None,
) -> Draft:
    """Render a message into a draft; a template error becomes the draft's failure.

    With `links`, the message's task links carry the reader's signed token (one per message).
    """
    if links is not None and person is not None and person.id is not None:
        context = {**context, "link_token": links.token(person.id)}
    try:
        rendered: Rendered | RenderFailure = render(kind, context, base_url=base_url)
    except RenderError as error:
        rendered = RenderFailure(str(error))
    return Draft(key, kind, person, rendered, send_after, to_address, attachments)


def enqueue_many(session: Session, drafts: Iterable[Draft], now: datetime) -> list[int]:
    """Store the drafts, many to a statement; the ids of the rows added, in draft order.

    A key already in the outbox is skipped (INSERT … ON CONFLICT (key) DO NOTHING), so
    planning the same day twice, or in two processes at once, stores each message once. A
    message that cannot be sent (no or an invalid address, a template error) is stored as
    FAILED with the reason, so it is reported, not lost and not crashed on.

    While one chunk is written (in a helper thread, which alone uses the session meanwhile),
    the drafts of the next are made here: rendering and the database overlap. So `drafts`,
    if it is a generator, must not touch the session (no lazy loads): load what it needs first.
    """
    added: list[int] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="enqueue") as writer:
        writing: Future[list[int]] | None = None
        for chunk in _chunks(drafts):
            if writing is not None:
                added += writing.result()
            writing = writer.submit(_enqueue_chunk, session, chunk, now)
        if writing is not None:
            added += writing.result()
    return added


def _chunks(drafts: Iterable[Draft]) -> Iterator[list[Draft]]:
    """Up to CHUNK_ROWS drafts or CHUNK_CHARS characters of content: a few leadership
    digests of megabytes each make a chunk of their own."""
    chunk: list[Draft] = []
    chars = 0
    for draft in drafts:
        chunk.append(draft)
        if isinstance(draft.rendered, Rendered):
            chars += len(draft.rendered.text) + len(draft.rendered.html)
        if len(chunk) == CHUNK_ROWS or chars >= CHUNK_CHARS:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


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
    """Store one message under `key`: its id, or None when that key is already in the outbox."""
    draft = Draft(key, kind, person, rendered, send_after, to_address)
    return next(iter(enqueue_many(session, [draft], now)), None)


def enqueue_message(session: Session, *, now: datetime, **draft: Any) -> int | None:
    """Render (see `compose` for the arguments) and enqueue one message."""
    return next(iter(enqueue_many(session, [compose(**draft)], now)), None)


def _row_of(draft: Draft, now: datetime) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The outbox row of a draft, and its body (None when it could not be rendered)."""
    key, kind, person, rendered = draft.key, draft.kind, draft.person, draft.rendered
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"outbox key must have 1 to {KEY_MAX} characters: {key!r}")
    address = draft.to_address
    if address is None and person is not None:
        address = person.email
    body: dict[str, str] | None = None
    if isinstance(rendered, RenderFailure):
        problem, subject = rendered.reason, f"（未能生成的{KIND_LABELS.get(kind, kind)}邮件）"
    else:
        problem, subject = address_problem(address), rendered.subject
        body = {"text": rendered.text, "html": rendered.html}
    row = {
        "key": key,
        "kind": kind,
        "person_id": person.id if person else None,
        "to_address": one_line(address or "")[:200],
        "subject": subject[:300],
        "size": (len(body["text"]) + len(body["html"]) if body else 0)
        + sum(len(a.data) for a in draft.attachments),
        "state": (MessageState.FAILED if problem else MessageState.PENDING).value,
        "attempts": 0,
        "send_after": draft.send_after,
        "last_error": problem[:ERROR_MAX] if problem else None,
        "created_at": now,
    }
    return row, body


def _enqueue_chunk(session: Session, drafts: list[Draft], now: datetime) -> list[int]:
    rows: list[dict[str, Any]] = []
    bodies: dict[str, dict[str, str]] = {}
    for draft in drafts:
        row, body = _row_of(draft, now)
        rows.append(row)
        if body is not None:
            bodies.setdefault(draft.key, body)  # a key twice in one chunk: the first wins
    ids = _insert_unless_present(session, rows)
    stored = [{"message_id": ids[key], **body} for key, body in bodies.items() if key in ids]
    if stored:  # not read back: bodies can be megabytes
        session.exec(insert(OutboxBody.__table__), params=stored)
    files = {}
    for draft in drafts:
        if draft.attachments and draft.key in ids and not isinstance(draft.rendered, RenderFailure):
            files.setdefault(draft.key, draft.attachments)
    attached = [
        {"message_id": ids[key], **asdict(attachment)}
        for key, attachments in files.items()
        for attachment in attachments
    ]
    if attached:
        session.exec(insert(OutboxAttachment.__table__), params=attached)
    return [ids[row["key"]] for row in rows if row["key"] in ids]


def attachments_of(session: Session, message_ids: list[int]) -> dict[int, list[Attachment]]:
    """The files of these messages, in the order they were given (most messages have none)."""
    found: dict[int, list[Attachment]] = defaultdict(list)
    for condition in among(session, OutboxAttachment.message_id, message_ids):
        query = select(OutboxAttachment).where(condition).order_by(OutboxAttachment.id)
        for row in session.exec(query):
            found[row.message_id].append(
                Attachment(row.filename, row.content_type, row.data, row.content_id)
            )
    return dict(found)


def bodies_of(session: Session, message_ids: list[int]) -> dict[int, Content]:
    """The text and HTML of these messages (rows that could not be rendered have none).

    Plain rows, not OutboxBody objects: delivery reads thousands a second, and building an
    ORM object is most of the cost of reading one (BENCHMARKS.md, issue 7)."""
    columns = select(OutboxBody.message_id, OutboxBody.text, OutboxBody.html)
    return {
        body.message_id: body
        for condition in among(session, OutboxBody.message_id, message_ids)
        for body in session.exec(columns.where(condition))
    }


@cache
def _sqlite_insert() -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING key, id, bound once per row."""
    table = OutboxMessage.__table__
    return (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key, table.c.id)
    )


@cache
def _postgres_insert(columns: tuple[str, ...]) -> Any:
    """The same for a whole chunk as one INSERT … SELECT FROM unnest(one array per column).

    A multi-row VALUES statement has ten parameters a row, and psycopg parses such a query in
    Python every time: 0.47 s for 3,848 rows, against 0.10 s for this one.
    """
    table = OutboxMessage.__table__
    dialect = postgresql.dialect()
    arrays = ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in columns
    )
    return text(
        f"INSERT INTO outbox_message ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT (key) DO NOTHING RETURNING key, id"
    )


def _insert_unless_present(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows whose key is new; {key: id} of those inserted."""
    table = OutboxMessage.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return dict(session.exec(_sqlite_insert(), params=rows).all())
    if dialect == "postgresql":
        columns = tuple(rows[0])
        arrays = {name: [row[name] for row in rows] for name in columns}
        return dict(session.exec(_postgres_insert(columns), params=arrays).all())
    inserted: dict[str, int] = {}
    for row in rows:  # any other database: let the unique key decide, inside a savepoint
        try:
            with session.begin_nested():
                statement = insert(table).values(**row).returning(table.c.id)
                inserted[row["key"]] = session.exec(statement).scalar_one()
        except IntegrityError:
            continue
    return inserted


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
    max_size: int | None = None,
    lease: timedelta = LEASE,
    due_by: datetime | None = None,
) -> list[OutboxMessage]:
    """Mark up to `limit` due rows SENDING for this caller and return them (oldest first).

    One statement: `WITH chosen AS (the oldest due rows) UPDATE … SET state = sending WHERE
    id IN chosen AND <still due> RETURNING *`, so a row another process took meanwhile is
    no longer due and is not returned; on PostgreSQL the inner read also skips rows other
    claimers hold locked. With `max_size`, the rows stop once their sizes add up to it (the
    first row is always taken), so a claim of megabyte digests holds a few of them, not
    hundreds. `due_by` (default `now`) bounds send_after, so a long delivery run does not
    pick up the retries it scheduled itself.
    """
    due = _due(now, due_by or now, lease)
    oldest = (
        select(OutboxMessage.id, OutboxMessage.size, OutboxMessage.send_after)
        .where(due)
        .order_by(OutboxMessage.send_after, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A locking read as a plain IN (…) subquery may be rescanned and then return more
        # than `limit` rows: a materialised CTE is read once.
        oldest = oldest.with_for_update(skip_locked=True)
    chosen = oldest.cte("chosen").prefix_with("MATERIALIZED")
    ids = select(chosen.c.id)
    if max_size is not None:  # the size of the rows before each one, oldest first
        before = func.sum(chosen.c.size).over(order_by=(chosen.c.send_after, chosen.c.id))
        ranked = select(chosen.c.id, (before - chosen.c.size).label("before")).subquery()
        ids = select(ranked.c.id).where(ranked.c.before < max_size)
    taken = session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(state=MessageState.SENDING, claimed_at=now)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalars()
    return sorted(taken, key=lambda row: (row.send_after, row.id))


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


def mark_sent_many(session: Session, messages: list[OutboxMessage], now: datetime) -> set[int]:
    """The server accepted these messages: the ids whose claim still held, now SENT.

    One UPDATE per claim (a delivery run's rows share a few claim times), not one per row.
    """
    by_claim: dict[datetime | None, list[int]] = defaultdict(list)
    for message in messages:
        by_claim[message.claimed_at].append(message.id)
    settled: set[int] = set()
    for claimed_at, ids in by_claim.items():
        for condition in among(session, OutboxMessage.id, ids):
            settled.update(
                session.exec(
                    update(OutboxMessage)
                    .where(
                        condition,
                        OutboxMessage.state == MessageState.SENDING,
                        OutboxMessage.claimed_at == claimed_at,
                    )
                    .values(state=MessageState.SENT, sent_at=now)
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                ).scalars()
            )
    for message in messages:
        if message.id in settled:
            set_committed_value(message, "state", MessageState.SENT)
            set_committed_value(message, "sent_at", now)
    return settled


def mark_sent(session: Session, message: OutboxMessage, now: datetime) -> MessageState | None:
    """The server accepted the message (or it was captured). None if the claim was lost."""
    return MessageState.SENT if mark_sent_many(session, [message], now) else None


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
    if session.get(OutboxBody, message_id) is None:
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
