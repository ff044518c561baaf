"""The Prefect flows: what runs on a schedule, or by hand as if at a given moment.

Each flow opens the configured database, calls one batched function (flows.reminders,
flows.dispatch, notifications.delivery) and reports what it did in its return value and its
log, so a run's history is where Prefect users look. `at` lets an admin or a test run a
flow as if at that moment; without it the flow runs at the current time.
"""

import gc
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL
from sqlalchemy import Engine

from flows.dispatch import chase_and_close, open_due_rounds, sweep_lookbacks
from flows.prefect_events import post_stage_events
from flows.reminders import notify_events, plan_day
from models import lease
from models.db import make_engine, require_current_schema, transaction
from models.settings import Settings
from notifications.delivery import deliver_due

JOB_LEASE = timedelta(minutes=30)  # a run that died frees its job after this


def _moment(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """The configured database, refused unless `rectify init` brought it up to date: a
    worker of a newer version never writes into an older schema (nor the reverse)."""
    engine = make_engine(settings.db_url)
    try:
        require_current_schema(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _alone(settings: Settings, job: str) -> Iterator[Engine | None]:
    """The database while this run is the only one of `job` on it; None when another run
    (another worker, or a run started by hand) holds the job.

    What a job writes is protected by unique keys and version checks anyway; this spares the
    second of two simultaneous runs a failed run (a refused duplicate round, a look-back
    changed meanwhile). The lease is taken on the wall clock, whatever `at` the run has.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    name = f"job:{job}"
    with _database(settings) as engine:
        with transaction(engine) as session:
            taken = lease.acquire(session, holder, datetime.now(UTC), name=name, ttl=JOB_LEASE)
        if not taken:
            get_run_logger().info("%s 已有一次运行正在进行，本次不重复执行", job)
            yield None
            return
        try:
            yield engine
        finally:
            with transaction(engine) as session:
                lease.release(session, holder, name=name)


SKIPPED = {"skipped": "已有一次运行正在进行"}


@contextmanager
def _older_objects_set_aside() -> Iterator[None]:
    """Spare the batch's garbage collections a walk over everything the process already
    holds (Prefect alone is hundreds of thousands of objects): planning 100,000 tasks inside
    a flow run took 2.0 s instead of 2.6–2.9 s (BENCHMARKS.md). Garbage is still collected."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@flow(name="deadline_reminders", log_prints=False)
def deadline_reminders(at: datetime | None = None) -> dict[str, Any]:
    """Plan the day's digests (one per person) into the outbox; nothing on days off."""
    settings, now = Settings(), _moment(at)
    with _alone(settings, "deadline_reminders") as engine:
        if engine is None:
            return SKIPPED
        with _older_objects_set_aside():
            report = plan_day(engine, now, settings)
    logger = get_run_logger()
    for warning in report.warnings:
        logger.warning(warning)
    logger.info(
        "提醒：%s 人 %s 项，新入发件箱 %s 封", report.digests, report.items, report.enqueued
    )
    return asdict(report)


@flow(name="deliver_outbox", log_prints=False)
def deliver_outbox(at: datetime | None = None) -> dict[str, Any]:
    """Turn new audit events into messages (and Prefect events), then send what is due.

    Several runs at once share the work (each message is claimed by one of them)."""
    settings, now = Settings(), _moment(at)
    with _database(settings) as engine, _older_objects_set_aside():
        events = notify_events(engine, now, settings)
        api_url = PREFECT_API_URL.value() if settings.prefect_events else None
        posted = post_stage_events(engine, now, api_url, PREFECT_API_KEY.value())
        delivery = deliver_due(engine, now, settings)
    logger = get_run_logger()
    logger.info(
        "事件 %s 条，新消息 %s 封；发送 %s，重试 %s，失败 %s",
        events.events,
        events.enqueued,
        delivery.sent,
        delivery.retried,
        delivery.failed,
    )
    if posted.posted:
        logger.info("Prefect 事件 %s 条", posted.posted)
    for problem in (delivery.problem, posted.problem):
        if problem:
            logger.warning(problem)
    return {"events": asdict(events), "prefect_events": asdict(posted),
            "delivery": asdict(delivery)}  # fmt: skip


@flow(name="quarterly_dispatch", log_prints=False)
def quarterly_dispatch(at: datetime | None = None) -> dict[str, Any]:
    """Open the quarter's dispatch round (first working day, 09:00) and ask every officer."""
    settings, now = Settings(), _moment(at)
    with _alone(settings, "quarterly_dispatch") as engine:
        if engine is None:
            return SKIPPED
        report = open_due_rounds(engine, now, settings)
    if report.opened:
        get_run_logger().info(
            "开启%s，涉及任务 %s 项，发出 %s 封", "、".join(report.opened), report.requested,
            report.enqueued,
        )  # fmt: skip
    return asdict(report)


@flow(name="dispatch_chasers", log_prints=False)
def dispatch_chasers(at: datetime | None = None) -> dict[str, Any]:
    """Chase unanswered dispatch requests; on the closing day escalate, close and report."""
    settings, now = Settings(), _moment(at)
    with _alone(settings, "dispatch_chasers") as engine:
        if engine is None:
            return SKIPPED
        report = chase_and_close(engine, now, settings)
    logger = get_run_logger()
    if report.chased:
        logger.info("催报 %s 项任务", report.chased)
    for title in report.closed:
        logger.info("%s结束：督办 %s 项，报告已发领导小组", title, report.escalated)
    return asdict(report)


@flow(name="lookback_sweep", log_prints=False)
def lookback_sweep(at: datetime | None = None) -> dict[str, Any]:
    """Open the look-backs due (signed off 3 months ago or more), reviewers in turn."""
    settings, now = Settings(), _moment(at)
    with _alone(settings, "lookback_sweep") as engine:
        if engine is None:
            return SKIPPED
        report = sweep_lookbacks(engine, now)
    logger = get_run_logger()
    for problem in report.unassigned:
        logger.warning("回头看未能启动：%s", problem)
    if report.opened:
        logger.info("启动回头看 %s 项", report.opened)
    return asdict(report)


FLOWS = {
    "deadline_reminders": deadline_reminders,
    "deliver_outbox": deliver_outbox,
    "quarterly_dispatch": quarterly_dispatch,
    "dispatch_chasers": dispatch_chasers,
    "lookback_sweep": lookback_sweep,
}
