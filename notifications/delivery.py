"""Delivery: send what is due from the outbox, in batches, over a few reused connections.

One run: claim a batch (one short transaction), send it over up to `mail_connections`
connections in parallel (each sends its share one message after another: the measured
ceiling, STACK-NOTES.md), then settle the batch (one short transaction): sent only after
the server accepted the message, retried later on transient failures, parked as failed
with the server's reply on permanent ones. A connection that fails stops for the run; when
none is left, the rest of the batch is retried later and the run ends.

A crash between sending and settling leaves rows SENDING; after the lease they are claimed
and sent again under the same Message-ID, so the duplicate is recognisable.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Engine

from models.db import transaction
from models.mail import MessageState, OutboxMessage
from models.settings import Settings
from notifications.message import build_email
from notifications.outbox import address_problem, claim, mark_failed, mark_retry, mark_sent
from notifications.transports import (
    ConnectionFailure,
    PermanentFailure,
    TransientFailure,
    Transport,
    open_transports,
)

log = logging.getLogger(__name__)

BATCH_PER_CONNECTION = 25  # rows claimed per run of the batch loop, per live connection


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
    alive = list(transports)
    report = DeliveryReport()
    try:
        while alive:
            limit = BATCH_PER_CONNECTION * len(alive)
            batch = await asyncio.to_thread(_claim, engine, clock(), now, limit)
            if not batch:
                break
            outcomes, problem = await _send_batch(batch, alive, settings, clock)
            report += await asyncio.to_thread(_settle, engine, outcomes, clock())
            if problem:
                report += DeliveryReport(problem=problem)
    finally:
        await asyncio.gather(*(t.close() for t in transports), return_exceptions=True)
    return report


def deliver_due(engine: Engine, now: datetime, settings: Settings) -> DeliveryReport:
    """The synchronous entry point (flows, the CLI): runs `deliver` in its own event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(deliver(engine, now, settings))
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from inside a running loop
        return pool.submit(asyncio.run, deliver(engine, now, settings)).result()


def _claim(engine: Engine, now: datetime, due_by: datetime, limit: int) -> list[OutboxMessage]:
    with transaction(engine) as session:
        return claim(session, now, limit, due_by=due_by)


async def _send_batch(
    batch: list[OutboxMessage],
    alive: list[Transport],
    settings: Settings,
    clock: Callable[[], datetime],
) -> tuple[list[Outcome], str | None]:
    """Share the batch among the live connections; drop connections that fail."""
    queue = deque(batch)
    outcomes: list[Outcome] = []
    broken: list[tuple[Transport, str]] = []

    async def work(transport: Transport) -> None:
        while queue:
            row = queue.popleft()
            try:
                outcomes.append(await _send_one(transport, row, settings, clock))
            except ConnectionFailure as error:
                outcomes.append(Outcome(row, Result.RETRY, str(error)))
                broken.append((transport, str(error)))
                return

    await asyncio.gather(*(work(t) for t in list(alive)))
    for transport, _ in broken:
        alive.remove(transport)
    problem = broken[-1][1] if broken else None  # messages were held back by it
    if queue:  # every connection failed before the batch was done
        outcomes.extend(Outcome(row, Result.RETRY, problem) for row in queue)
    return outcomes, problem


async def _send_one(
    transport: Transport, row: OutboxMessage, settings: Settings, clock: Callable[[], datetime]
) -> Outcome:
    problem = address_problem(row.to_address)
    if problem:
        return Outcome(row, Result.FAILED, problem)
    try:
        message = build_email(
            row, sender=settings.mail_from, domain=settings.mail_domain, now=clock()
        )
    except (ValueError, TypeError) as error:  # e.g. a header the email package refuses
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
    with transaction(engine) as session:
        for outcome in outcomes:
            row, reason = outcome.row, outcome.reason or ""
            if outcome.result is Result.SENT:
                state = mark_sent(session, row, now)
            elif outcome.result is Result.RETRY:
                state = mark_retry(session, row, now, reason)
            else:
                state = mark_failed(session, row, now, reason)
            if state is None:
                log.warning("outbox %s: claim lost before it was settled", row.id)
                continue
            counts[state] += 1
            if state != MessageState.SENT:
                log.warning("outbox %s → %s: %s", row.id, state, reason)
    return DeliveryReport(
        sent=counts[MessageState.SENT],
        retried=counts[MessageState.PENDING],
        failed=counts[MessageState.FAILED],
    )
