"""The audit trail: append-only, hash-chained per task, and verifiable.

Every event carries the hash of the previous event of its chain (a task's events form
one chain; events about no task form chains such as "people"). The head table keeps the
last sequence number and hash of every chain, so a deleted or appended tail is noticed too.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, FetchedValue, Index, UniqueConstraint, bindparam
from sqlmodel import Field, Session, SQLModel, select

from models.people import Person

GENESIS = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_event_txid_id", "txid", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=50, index=True)
    seq: int
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True)
    action: str = Field(max_length=30)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor_name: str = Field(max_length=50)
    at: datetime
    stage_from: str | None = Field(default=None, max_length=20)
    stage_to: str | None = Field(default=None, max_length=20)
    details: str = "{}"
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # PostgreSQL: the writing transaction's id, set by the column's default (migration
    # 0007), so readers follow commit order (models.audit_feed). Not part of the hash.
    txid: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, server_default=FetchedValue())
    )

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.details)


class AuditHead(SQLModel, table=True):
    """The last event of each chain, updated in the same transaction as the append."""

    __tablename__ = "audit_head"

    chain: str = Field(max_length=50, primary_key=True)
    seq: int
    hash: str = Field(max_length=64)


def task_chain(task_id: int) -> str:
    return f"task:{task_id}"


def _canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 over every field a reader relies on, in a canonical form."""
    body = {
        "chain": event.chain,
        "seq": event.seq,
        "task_id": event.task_id,
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "at": _canonical_time(event.at),
        "stage_from": event.stage_from,
        "stage_to": event.stage_to,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_HEAD = select(AuditHead).where(AuditHead.chain == bindparam("chain"))  # built once: every action


def append_event(
    session: Session,
    *,
    chain: str,
    action: str,
    actor: Person,
    now: datetime,
    task_id: int | None = None,
    stage_from: str | None = None,
    stage_to: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to its chain; the caller's transaction makes it durable."""
    with session.no_autoflush:  # a batch (apply(flush=False)) is flushed by its caller
        head = session.exec(_HEAD, params={"chain": chain}).first()
    event = AuditEvent(
        chain=chain,
        seq=(head.seq + 1) if head else 1,
        task_id=task_id,
        action=action,
        actor_id=actor.id,
        actor_name=actor.name,
        at=now,
        stage_from=stage_from,
        stage_to=stage_to,
        details=json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str),
        prev_hash=head.hash if head else GENESIS,
        hash="",
    )
    event.hash = event_hash(event)
    if head is None:
        session.add(AuditHead(chain=chain, seq=event.seq, hash=event.hash))
    else:
        head.seq, head.hash = event.seq, event.hash
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditProblem:
    chain: str
    seq: int | None
    event_id: int | None
    what: str

    def __str__(self) -> str:
        where = _chain_label(self.chain)
        event = f"事件 #{self.seq}" if self.seq is not None else "事件链"
        if self.event_id is not None:
            event += f"（记录编号 {self.event_id}）"
        return f"{where} {event}：{self.what}"


def _chain_label(chain: str) -> str:
    kind, _, ident = chain.partition(":")
    return {"task": f"任务 {ident}", "inspection": f"巡察 {ident}"}.get(kind, f"{chain} 记录")


def verify(session: Session) -> list[AuditProblem]:
    """Check every chain; an empty list means the trail is intact."""
    heads = {h.chain: h for h in session.exec(select(AuditHead))}
    events = session.exec(select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq))
    problems: list[AuditProblem] = []
    seen: set[str] = set()
    for chain, chain_events in _group_by_chain(events):
        seen.add(chain)
        problems += _verify_chain(chain, chain_events, heads.get(chain))
    for chain in sorted(heads.keys() - seen):
        last = heads[chain].seq
        what = f"事件 #1 至 #{last} 全部缺失（被删除）"
        problems.append(AuditProblem(chain, last, None, what))
    return problems


def _group_by_chain(events: Iterable[AuditEvent]) -> Iterable[tuple[str, list[AuditEvent]]]:
    current: list[AuditEvent] = []
    for event in events:
        if current and current[0].chain != event.chain:
            yield current[0].chain, current
            current = []
        current.append(event)
    if current:
        yield current[0].chain, current


def _verify_chain(
    chain: str, events: list[AuditEvent], head: AuditHead | None
) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    prev_hash, expected_seq = GENESIS, 1
    for event in events:
        here = (chain, event.seq, event.id)
        if event.seq != expected_seq:
            what = (
                f"之前的事件 #{expected_seq} 至 #{event.seq - 1} 缺失（被删除）"
                if event.seq > expected_seq
                else "序号异常"
            )
            problems.append(AuditProblem(*here, what))
        expected_seq = event.seq + 1
        if event_hash(event) != event.hash:
            problems.append(AuditProblem(*here, "内容与哈希不符（被修改）"))
        elif event.prev_hash != prev_hash:
            problems.append(AuditProblem(*here, "与前一事件的哈希不衔接（被插入、删除或调换顺序）"))
        prev_hash = event.hash
    last = events[-1]
    if head is None:
        problems.append(AuditProblem(chain, last.seq, last.id, "事件链没有登记的链尾（被插入）"))
    elif head.seq != last.seq or head.hash != last.hash:
        what = (
            f"链尾应为事件 #{head.seq}，实际为 #{last.seq}（末尾事件被删除或追加）"
            if head.seq != last.seq
            else "链尾哈希不符（末尾事件被替换）"
        )
        problems.append(AuditProblem(chain, last.seq, last.id, what))
    return problems
