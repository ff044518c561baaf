"""Delivery: send what is due from the outbox over a few reused connections, never waiting.

One run: a feed claims rows in batches (one short transaction each) and hands them one by
one to up to `mail_connections` connections sending in parallel (each sends its share one
message after another: the measured ceiling, STACK-NOTES.md). When the feed runs low it
settles the outcomes so far and claims the next batch in the background, so the
connections never wait for the database nor for each other. A row is marked sent only after
the server accepted it, retried later on transient failures, parked as failed with the
server's reply on permanent ones. A connection that fails stops for the run; when none is
left, what was claimed and not sent is retried later and the run ends.

A crash between sending and settling leaves rows SENDING; after the lease they are claimed
and sent again under the same Message-ID, so the duplicate is recognisable.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Engine

from models.db import transaction
from models.mail import MessageState, OutboxMessage
from models.settings import Settings
from notifications.message import Attachment, Content, email_bytes
from notifications.outbox import (
    address_problem,
    attachments_of,
    bodies_of,
    claim,
    mark_failed,
    mark_retry,
    mark_sent_many,
)
from notifications.transports import (
    ConnectionFailure,
    PermanentFailure,
    TransientFailure,
    Transport,
    open_transports,
)

log = logging.getLogger(__name__)

BATCH_PER_CONNECTION = 25  # rows claimed at a time, per connection
# Bounds in characters of text and HTML (a leadership digest can be megabytes): what one
# claim holds, and what is being built and sent at once (each message in flight holds
# several copies: text, UTF-8, base64, the socket's buffer). One message always goes.
CLAIM_CHARS = 8_000_000
IN_FLIGHT_CHARS = 4_000_000


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0  # back to pending, with a later send_after
    failed: int = 0  # parked: refused for good, or out of attempts
    problem: str | None = None  # why the run stopped early (e.g. the server is down)

    def __add__(self, other: "DeliveryReport") -> "DeliveryReport":
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            other.problem or self.problem,
        )


class Result(Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    row: OutboxMessage
    result: Result
    reason: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A row this run claimed, with its content."""

    row: OutboxMessage
    body: Content | None
    attachments: tuple[Attachment, ...] = ()


def _clock(start: datetime) -> Callable[[], datetime]:
    """`start` advanced by the time elapsed since: claims and sent times stay truthful."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


async def deliver(
    engine: Engine,
    now: datetime,
    settings: Settings,
    *,
    transports: list[Transport] | None = None,
) -> DeliveryReport:
    """Send every message due at `now`; return how many were sent, retried and failed."""
    clock = _clock(now)
    transports = transports if transports is not None else open_transports(settings)
    feed = _Feed(engine, now, clock, batch=BATCH_PER_CONNECTION * len(transports))
    in_flight = _InFlight(IN_FLIGHT_CHARS)
    problems: list[str | None] = []
    try:
        problems = await asyncio.gather(
            *(_work(t, feed, in_flight, settings, clock) for t in transports)
        )
    finally:
        await asyncio.gather(*(t.close() for t in transports), return_exceptions=True)
        broken = [problem for problem in problems if problem]
        # Every connection broke: what was claimed and not sent waits for the next run.
        await feed.close(broken[-1] if broken and len(broken) == len(transports) else None)
    return feed.report + DeliveryReport(problem=broken[-1] if broken else None)


def deliver_due(engine: Engine, now: datetime, settings: Settings) -> DeliveryReport:
    """The synchronous entry point (flows, the CLI): runs `deliver` in its own event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(deliver(engine, now, settings))
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from inside a running loop
        return pool.submit(asyncio.run, deliver(engine, now, settings)).result()


class _Feed:
    """Rows claimed ahead of the connections, and their outcomes settled behind them.

    Database work is one call at a time in a worker thread: settle what was sent so far,
    then claim the next batch. It starts when fewer than half a batch of rows is left, so
    the connections still have rows to send while it runs.
    """

    def __init__(
        self, engine: Engine, due_by: datetime, clock: Callable[[], datetime], batch: int
    ) -> None:
        self.engine, self.due_by, self.clock, self.batch = engine, due_by, clock, batch
        self.rows: deque[Claimed] = deque()
        self.outcomes: list[Outcome] = []
        self.report = DeliveryReport()
        self.exhausted = False  # the last claim found nothing more that is due
        self.closed = False
        self._sync: asyncio.Task[None] | None = None

    async def take(self) -> Claimed | None:
        """The next row to send, or None when nothing more is due."""
        while not self.rows and not self.exhausted and not self.closed:
            await asyncio.shield(self._start_sync())
        if len(self.rows) < self.batch // 2 and not self.exhausted and not self.closed:
            self._start_sync()  # claim ahead while the connections send what is left
        return self.rows.popleft() if self.rows and not self.closed else None

    def done(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def _start_sync(self) -> asyncio.Task[None]:
        if self._sync is None or self._sync.done():
            if self._sync is not None:
                self._sync.result()  # a database error stops the run here
            self._sync = asyncio.create_task(self._settle_and_claim(claim_more=True))
        return self._sync

    async def _settle_and_claim(self, *, claim_more: bool) -> None:
        outcomes, self.outcomes = self.outcomes, []
        claim_more = claim_more and not self.exhausted and not self.closed
        limit = self.batch if claim_more else 0
        report, batch = await asyncio.to_thread(
            _settle_and_claim, self.engine, outcomes, self.clock, self.due_by, limit
        )
        self.report += report
        if claim_more and not batch:
            self.exhausted = True
        self.rows.extend(batch)

    async def close(self, problem: str | None) -> None:
        """Settle everything; rows claimed and not sent are retried later (with `problem`)."""
        self.closed = True
        if self._sync is not None:
            await asyncio.gather(self._sync, return_exceptions=True)
        reason = problem or "投递中断，稍后重试"
        self.outcomes.extend(Outcome(claimed.row, Result.RETRY, reason) for claimed in self.rows)
        self.rows.clear()
        await self._settle_and_claim(claim_more=False)


class _InFlight:
    """A budget of content being sent at once; one message may always go, however large."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self.changed = asyncio.Condition()

    @asynccontextmanager
    async def holding(self, size: int) -> AsyncIterator[None]:
        async with self.changed:
            await self.changed.wait_for(lambda: not self.used or self.used + size <= self.limit)
            self.used += size
        try:
            yield
        finally:
            async with self.changed:
                self.used -= size
                self.changed.notify_all()


async def _work(
    transport: Transport,
    feed: _Feed,
    in_flight: _InFlight,
    settings: Settings,
    clock: Callable[[], datetime],
) -> str | None:
    """Send rows from the feed over one connection until none is left or it breaks."""
    while (claimed := await feed.take()) is not None:
        row = claimed.row
        try:
            async with in_flight.holding(row.size):
                feed.done(await _send_one(transport, claimed, settings, clock))
        except ConnectionFailure as error:
            feed.done(Outcome(row, Result.RETRY, str(error)))
            return str(error)
    return None


def _settle_and_claim(
    engine: Engine,
    outcomes: list[Outcome],
    clock: Callable[[], datetime],
    due_by: datetime,
    limit: int,
) -> tuple[DeliveryReport, list[Claimed]]:
    """Record outcomes (one transaction), then claim up to `limit` rows (another)."""
    report = _settle(engine, outcomes, clock()) if outcomes else DeliveryReport()
    if not limit:
        return report, []
    with transaction(engine) as session:
        rows = claim(session, clock(), limit, max_size=CLAIM_CHARS, due_by=due_by)
        ids = [row.id for row in rows]
        bodies, files = bodies_of(session, ids), attachments_of(session, ids)
    return report, [Claimed(r, bodies.get(r.id), tuple(files.get(r.id, ()))) for r in rows]


async def _send_one(
    transport: Transport, claimed: Claimed, settings: Settings, clock: Callable[[], datetime]
) -> Outcome:
    row, body = claimed.row, claimed.body
    problem = address_problem(row.to_address)
    if problem:
        return Outcome(row, Result.FAILED, problem)
    if body is None:  # only a hand-edited database gets here
        return Outcome(row, Result.FAILED, "邮件内容缺失，无法发送")
    try:
        message = email_bytes(
            row,
            body,
            sender=settings.mail_from,
            domain=settings.mail_domain,
            now=clock(),
            attachments=claimed.attachments,
        )
    except (ValueError, TypeError) as error:  # e.g. a line break in a header value
        return Outcome(row, Result.FAILED, f"邮件无法生成：{error}")
    try:
        await transport.send(row.id, message, settings.mail_from_address, row.to_address)
    except PermanentFailure as error:
        return Outcome(row, Result.FAILED, str(error))
    except ConnectionFailure:
        raise
    except TransientFailure as error:
        return Outcome(row, Result.RETRY, str(error))
    return Outcome(row, Result.SENT)


def _settle(engine: Engine, outcomes: list[Outcome], now: datetime) -> DeliveryReport:
    """Record a batch's outcomes in one transaction; rows whose claim was lost are skipped."""
    counts = {MessageState.SENT: 0, MessageState.PENDING: 0, MessageState.FAILED: 0}
    sent = [outcome.row for outcome in outcomes if outcome.result is Result.SENT]
    with transaction(engine) as session:
        settled = mark_sent_many(session, sent, now)
        counts[MessageState.SENT] = len(settled)
        for row in sent:
            if row.id not in settled:
                log.warning("outbox %s: claim lost before it was settled", row.id)
        for outcome in outcomes:
            row, reason = outcome.row, outcome.reason or ""
            if outcome.result is Result.SENT:
                continue
            if outcome.result is Result.RETRY:
                state = mark_retry(session, row, now, reason)
            else:
                state = mark_failed(session, row, now, reason)
            if state is None:
                log.warning("outbox %s: claim lost before it was settled", row.id)
                continue
            counts[state] += 1
            log.warning("outbox %s → %s: %s", row.id, state, reason)
    return DeliveryReport(
        sent=counts[MessageState.SENT],
        retried=counts[MessageState.PENDING],
        failed=counts[MessageState.FAILED],
    )
