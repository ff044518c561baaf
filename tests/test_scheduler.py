"""The embedded scheduler, on SQLite and PostgreSQL: one scheduler per database, a job missed
while Rectify was down runs once at restart, and `rectify run` end to end (real processes, a
real local Prefect API)."""

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from flows.runner import EmbeddedScheduler, SchedulerBusy
from flows.schedule import SCHEDULE, Scheduled
from models.dispatch_tables import SchedulerLease, apscheduler_jobs
from models.lease import EMBEDDED
from tests.cli_harness import clear_rectify_environment
from tests.test_delivery import free_port

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBE = (Scheduled("probe", "0 9 * * *", "a daily job that records its runs"),)
RUNS: list[tuple[str, datetime]] = []
RAN = threading.Event()


def probe(name: str) -> None:
    """The job function of PROBE (jobs are stored by reference, like flows.runner's)."""
    RUNS.append((name, datetime.now(UTC)))
    RAN.set()


def scheduler(engine, holder: str, schedule=PROBE) -> EmbeddedScheduler:
    return EmbeddedScheduler(
        engine, schedule=schedule, holder=holder, job_function="tests.test_scheduler:probe"
    )


@pytest.fixture(autouse=True)
def fresh_runs():
    RUNS.clear()
    RAN.clear()


def test_one_scheduler_per_database_the_second_refuses_and_says_who(engine):
    first, second = scheduler(engine, "机器甲 进程 1"), scheduler(engine, "机器乙 进程 2")
    first.start()
    try:
        with pytest.raises(SchedulerBusy, match=r"机器甲 进程 1.*本进程不再调度，以免重复发送"):
            second.start()
        assert not second.scheduler.running
    finally:
        first.stop()

    second.start()  # once the first has stopped, the lease is free
    second.stop()
    with Session(engine) as session:
        assert session.get(SchedulerLease, EMBEDDED) is None


def test_an_expired_lease_is_taken_over(engine):
    dead = scheduler(engine, "死机 进程 9", schedule=())
    dead.acquire()  # and the process dies: never renewed, never released
    later = datetime.now(UTC) + timedelta(minutes=5)
    heir = EmbeddedScheduler(engine, schedule=(), holder="接替 进程 1", clock=lambda: later)

    heir.acquire()

    with Session(engine) as session:
        assert session.get(SchedulerLease, EMBEDDED).holder == "接替 进程 1"


def down_since(engine, job_id: str, since: datetime) -> None:
    """The job store as Rectify leaves it when it stops before `since` and stays down: the
    job's next run time, in its pickled state and its column, is `since`."""
    since = since.astimezone(SHANGHAI)
    with engine.begin() as db:
        stored = db.execute(
            select(apscheduler_jobs.c.job_state).where(apscheduler_jobs.c.id == job_id)
        ).scalar_one()
        state = pickle.loads(stored)
        state["next_run_time"] = since
        db.execute(
            update(apscheduler_jobs)
            .where(apscheduler_jobs.c.id == job_id)
            .values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL),
                    next_run_time=since.timestamp())
        )  # fmt: skip


def missed(engine, days: int) -> None:
    """Run the scheduler once, then pretend it was down over `days` of the probe's slots."""
    first = scheduler(engine, "第一次 进程 1")
    first.start()
    first.stop()
    down_since(engine, "probe", datetime.now(UTC) - timedelta(days=days))
    assert RUNS == []


def test_a_job_missed_over_several_slots_runs_once_at_restart(engine):
    missed(engine, days=3)  # three daily 09:00 slots passed while nothing ran

    restarted = scheduler(engine, "重启 进程 2")
    restarted.start()
    try:
        assert RAN.wait(15)
        time.sleep(1.5)  # would a second catch-up run follow?
        next_run = restarted.next_runs()["probe"]
    finally:
        restarted.stop()

    assert [name for name, _ in RUNS] == ["probe"]
    assert next_run > datetime.now(UTC)  # back on its cron: the next 09:00 in Shanghai
    assert next_run.astimezone(SHANGHAI).time() == dt_time(9, 0)


def test_restarting_keeps_the_next_run_times_and_adds_no_duplicate_jobs(engine):
    first = scheduler(engine, "进程 1", schedule=SCHEDULE)
    first.start()
    first.scheduler.pause()
    kept = first.next_runs()
    first.stop()

    again = scheduler(engine, "进程 2", schedule=SCHEDULE)
    again.start()
    again.scheduler.pause()
    try:
        assert again.next_runs() == kept
        assert sorted(job.id for job in again.scheduler.get_jobs(jobstore="default")) == sorted(
            entry.name for entry in SCHEDULE
        )
    finally:
        again.stop()


# --- `rectify run`, two real processes --------------------------------------------------------


def rectify(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import cli; cli.entry()", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def wait_for(process: subprocess.Popen, words: str, timeout: float) -> str:
    """Read the process's output until `words` appear; all of it so far."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if words in line:
            return "".join(seen)
    raise AssertionError(f"“{words}” never came:\n{''.join(seen)}")


def flow_runs(api: str) -> list[dict]:
    request = urllib.request.Request(
        f"{api}/flow_runs/filter",
        data=json.dumps({"limit": 50}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_rectify_run_schedules_a_missed_flow_as_a_prefect_run_and_a_second_refuses(
    tmp_path, monkeypatch
):
    clear_rectify_environment(monkeypatch)
    home, port = tmp_path / "home", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    env.update(RECTIFY_HOME=str(home), RECTIFY_PREFECT_PORT=str(port))
    init = subprocess.run(
        [sys.executable, "-c", "import cli; cli.entry()", "init", "--demo"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert (home / "prefect" / "prefect.db").exists()  # migrated by init, not at first start
    # Rectify ran before and was down when deliver_outbox was due: it runs once at start.
    from models.db import make_engine

    engine = make_engine(f"sqlite:///{home / 'rectify.db'}")
    earlier = EmbeddedScheduler(engine, holder="上次 进程 1")
    earlier.start()
    earlier.stop()
    down_since(engine, "deliver_outbox", datetime.now(UTC) - timedelta(hours=5))
    engine.dispose()

    desk_port = free_port()
    first = rectify(env, "run", "--port", str(desk_port), start_new_session=True)
    try:
        started = wait_for(first, "系统管理员：", timeout=60)
        assert "Rectify 已启动" in started and f"Prefect：http://127.0.0.1:{port}" in started
        assert f"工作台：http://127.0.0.1:{desk_port}/" in started
        assert "演示账号（密码均为 rectify-demo）" in started and "hejingyi@" in started
        desk = urllib.request.urlopen(f"http://127.0.0.1:{desk_port}/login", timeout=10)
        assert desk.status == 200 and "登录" in desk.read().decode()
        wait_for(first, "本地 Prefect 服务已就绪", timeout=90)
        second = rectify(env, "run", "--port", str(desk_port))
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "另一个 Rectify 已在调度本数据库" in out and "以免重复发送" in out

        api = f"http://127.0.0.1:{port}/api"
        deadline, runs = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            runs = [r for r in flow_runs(api) if r["state_type"] == "COMPLETED"]
            if runs:
                break
            time.sleep(1)
        assert runs, "the missed deliver_outbox never ran as a Prefect flow run"
    finally:
        first.send_signal(signal.SIGINT)
        rest, _ = first.communicate(timeout=60)

    assert first.returncode == 0, rest
    assert "Rectify 已停止。" in rest
    engine = make_engine(f"sqlite:///{home / 'rectify.db'}")
    with Session(engine) as session:
        assert session.get(SchedulerLease, EMBEDDED) is None  # given up on the way out
    engine.dispose()
    assert (home / "prefect" / "prefect.db").exists()  # the API's state, kept under RECTIFY_HOME
