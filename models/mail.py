"""What Rectify has to say to people, kept until delivered: the outbox and the event cursor."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, LargeBinary
from sqlmodel import Field, SQLModel, String


class MessageState(StrEnum):
    PENDING = "pending"  # waiting for its send time or a retry
    SENDING = "sending"  # claimed by a delivery run
    SENT = "sent"  # accepted by the server (or captured locally)
    FAILED = "failed"  # refused for good; reason kept, `rectify mail retry` requeues


MESSAGE_STATE_LABELS: dict[MessageState, str] = {
    MessageState.PENDING: "待发送",
    MessageState.SENDING: "发送中",
    MessageState.SENT: "已发送",
    MessageState.FAILED: "发送失败",
}


class OutboxMessage(SQLModel, table=True):
    """One e-mail, rendered and stored before anything is sent, under a unique key.

    Its text and HTML are in OutboxBody: a row changes state three times or more, and a
    database that rewrites the whole row on UPDATE (SQLite does) would rewrite the bodies,
    megabytes for a leadership digest, every time.
    """

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # e.g. "digest:officer:12:2026-09-30"
    kind: str = Field(max_length=40, index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    to_address: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    # Characters of text and HTML: delivery bounds what it holds at once without reading them.
    size: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    state: str = Field(default=MessageState.PENDING, sa_type=String(20), index=True)
    attempts: int = Field(default=0)
    send_after: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime


class OutboxBody(SQLModel, table=True):
    """The rendered content of a message, written once with it. A message that could not be
    rendered (FAILED with the reason) has none."""

    __tablename__ = "outbox_body"

    message_id: int = Field(primary_key=True, foreign_key="outbox_message.id")
    text: str
    html: str


class OutboxAttachment(SQLModel, table=True):
    """A file sent with a message (the 调度表 with a dispatch report), or an image its HTML
    shows inline (a chart, by its content id)."""

    __tablename__ = "outbox_attachment"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox_message.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)  # e.g. image/png
    content_id: str | None = Field(default=None, max_length=100)  # set: shown inline
    data: bytes = Field(sa_type=LargeBinary)


class EventCursor(SQLModel, table=True):
    """How far a reader of the audit trail has got, so each event is handled once."""

    __tablename__ = "event_cursor"

    name: str = Field(max_length=50, primary_key=True)
    last_event_id: int = Field(default=0)
    last_txid: int = Field(  # PostgreSQL: with last_event_id, a place in commit order
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    updated_at: datetime


class CalendarDay(SQLModel, table=True):
    """A user's override of the working calendar: a holiday or a make-up working day."""

    __tablename__ = "calendar_day"

    day: date = Field(primary_key=True)
    working: bool
    note: str | None = Field(default=None, max_length=100)
    updated_at: datetime
