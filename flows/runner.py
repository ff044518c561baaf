"""The embedded scheduler: APScheduler on the schedule table, in the `rectify run` process.

- One scheduler per database: it starts only while holding the lease (models.lease), and
  stops scheduling if the lease is lost.
- Jobs live in the database (APScheduler's SQLAlchemyJobStore, table apscheduler_jobs),
  so their next run times survive a restart. A job whose time passed while Rectify was
  down runs once when it starts again (coalesce, no grace limit), not once per missed slot.
  A job is added only when missing, or rescheduled when its cron changed: re-adding every
  job at start-up would reset the next run times and lose the catch-up (STACK-NOTES.md).
- Each job runs its flow as a Prefect flow run (flows.jobs), one at a time per job.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from flows.local_prefect import wait_for_api
from flows.schedule import SCHEDULE, Scheduled
from models import lease
from models.calendar import SHANGHAI
from models.db import transaction

log = logging.getLogger(__name__)

RENEW_EVERY = timedelta(seconds=30)
JOB_FUNCTION = "flows.runner:run_scheduled"  # by reference: the job store pickles jobs


class SchedulerBusy(Exception):
    """Another process schedules on this database; str() says who, in Chinese."""


def holder_name() -> str:
    return f"{socket.gethostname()} 进程 {os.getpid()}"


def run_scheduled(name: str) -> None:
    """What a job runs: the flow of that name, as a Prefect flow run."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.jobs import FLOWS

    wait_for_api(os.environ.get("PREFECT_API_URL"))  # just after start it may still be coming
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        FLOWS[name]()


class EmbeddedScheduler:
    def __init__(
        self,
        engine: Engine,
        *,
        schedule: tuple[Scheduled, ...] = SCHEDULE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        holder: str | None = None,
        job_function: str = JOB_FUNCTION,
        workers: int = 4,
    ) -> None:
        self.engine, self.schedule, self.clock = engine, schedule, clock
        self.holder = holder or holder_name()
        self.job_function = job_function
        self.lost = threading.Event()  # set when another process took the lease
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=engine),
                "local": MemoryJobStore(),  # the lease renewal: this process only
            },
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def acquire(self) -> None:
        """Take the lease; SchedulerBusy if another process holds it (nothing is started)."""
        with transaction(self.engine) as session:
            taken = lease.acquire(session, self.holder, self.clock())
            held_by = None if taken else lease.current(session)
        if taken is None:
            who = ""
            if held_by is not None:
                until = held_by.expires_at.astimezone(SHANGHAI)
                who = f"（{held_by.holder}，租约至 {until:%Y-%m-%d %H:%M:%S}）"
            raise SchedulerBusy(
                f"另一个 Rectify 已在调度本数据库{who}；本进程不再调度，以免重复发送"
            )

    def start(self) -> None:
        """Take (or keep) the lease and start the jobs; a job missed while down runs now."""
        self.acquire()
        self.scheduler.start(paused=True)
        for entry in self.schedule:
            self._ensure(entry)
        self.scheduler.add_job(
            self._renew, "interval", seconds=RENEW_EVERY.total_seconds(), id="lease",
            jobstore="local", replace_existing=True,
        )  # fmt: skip
        self.scheduler.resume()
        log.info("scheduler started: %s jobs, lease held by %s", len(self.schedule), self.holder)

    def _ensure(self, entry: Scheduled) -> None:
        """Add a missing job; keep an existing one (its next run time is the catch-up)."""
        job = self.scheduler.get_job(entry.name, jobstore="default")
        trigger = entry.trigger
        if job is None:
            self.scheduler.add_job(
                self.job_function, trigger, args=[entry.name], id=entry.name, name=entry.name,
                jobstore="default",
            )  # fmt: skip
        elif str(job.trigger) != str(trigger):
            self.scheduler.reschedule_job(entry.name, jobstore="default", trigger=trigger)

    def _renew(self) -> None:
        try:
            with transaction(self.engine) as session:
                still = lease.renew(session, self.holder, self.clock())
        except Exception:  # the database is briefly unreachable: try again next time
            log.exception("could not renew the scheduler lease")
            return
        if not still:
            log.error("the scheduler lease was taken by another process: scheduling stops")
            self.lost.set()
            self.scheduler.pause()

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs(jobstore="default")}

    def stop(self) -> None:
        """Let running jobs finish, stop, and give the lease up."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with transaction(self.engine) as session:
            lease.release(session, self.holder)
