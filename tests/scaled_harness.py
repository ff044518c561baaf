"""The scaled path, for real, on loopback: a Prefect server keeping its state in PostgreSQL,
Rectify's database in PostgreSQL, and Prefect process workers that run the deployed flows.

Used by the scaled-path tests and by bench/workers.py. The server runs with Prefect's own
services except its scheduler: the tests and the benchmark start each flow run themselves,
so they know which runs there are (the cron schedules are checked in test_deploy.py).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`; its URL, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}


def scaled_environment(
    home: Path, database_url: str, smtp_port: int, api_url: str, connections: int
) -> dict[str, str]:
    """What `rectify` and the workers run with: Rectify on PostgreSQL, plain SMTP on
    loopback, the Prefect server's API."""
    return clean_environment() | {
        "RECTIFY_HOME": str(home),
        "RECTIFY_DATABASE_URL": database_url,
        "RECTIFY_SMTP_HOST": "127.0.0.1",
        "RECTIFY_SMTP_PORT": str(smtp_port),
        "RECTIFY_SMTP_SECURITY": "none",
        "RECTIFY_MAIL_CONNECTIONS": str(connections),
        "PREFECT_API_URL": api_url,
    }


class PrefectServer:
    """`prefect server start` on PostgreSQL (asyncpg), in its own process group."""

    def __init__(self, home: Path, port: int, database_url: str) -> None:
        self.home, self.port, self.database_url = home, port, database_url
        self.log_path = home / "prefect-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 180) -> "PrefectServer":
        self.home.mkdir(parents=True, exist_ok=True)
        env = clean_environment() | {
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_DATABASE_CONNECTION_URL": self.database_url.replace(
                "postgresql://", "postgresql+asyncpg://"
            ),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                get(self.api_url, "/health")
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Prefect server did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None


class Worker:
    """`prefect worker start --pool rectify --type process`, one flow run at a time, in its
    own process group (so killing it kills the flow run it started, too)."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        limit: int = 1,
        poll: float = 1,
        prefetch: float = 10,
    ) -> None:
        """`poll`: seconds between the worker's queries for runs (Prefect's default is 10; a
        second here, so that a test's runs start at once). `prefetch`: how far ahead of its
        scheduled time a run is taken (Prefect's default is 10 s): its process starts then,
        and waits for the time."""
        self.name, self.env, self.limit = name, env, limit
        self.poll, self.prefetch = poll, prefetch
        self.log_path = log_dir / f"worker-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        env = self.env | {
            "PREFECT_WORKER_QUERY_SECONDS": str(self.poll),
            "PREFECT_WORKER_PREFETCH_SECONDS": str(self.prefetch),
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "rectify",
                 "--type", "process", "--name", self.name, "--limit", str(self.limit)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=ROOT, start_new_session=True,
            )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and the flow runs it started (Prefect gives each its own
        session, so they are found as its descendants): no chance to settle anything."""
        if self.process is None or self.process.poll() is not None:
            return
        doomed = [self.process.pid, *descendants(self.process.pid)]
        for pid in doomed:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def stop_group(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def get(api: str, path: str) -> dict | list:
    with urllib.request.urlopen(f"{api}{path}", timeout=10) as answer:
        return json.loads(answer.read())


def post(api: str, path: str, body: dict) -> dict | list:
    request = urllib.request.Request(
        f"{api}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def deployment_id(api: str, name: str) -> str:
    return get(api, f"/deployments/name/{name}/{name}")["id"]


def start_run(api: str, name: str, *, start: datetime | None = None, **parameters: object) -> str:
    """A flow run of the deployment `name`, scheduled now or at `start`: a worker picks it up
    (ahead of time, by its prefetch) and Prefect holds it until then."""
    body: dict[str, object] = {"parameters": parameters}
    if start is not None:
        scheduled = {"scheduled_time": start.isoformat()}
        body["state"] = {"type": "SCHEDULED", "state_details": scheduled}
    run = post(api, f"/deployments/{deployment_id(api, name)}/create_flow_run", body)
    return run["id"]


def run_state(api: str, run_id: str) -> str:
    return get(api, f"/flow_runs/{run_id}")["state"]["type"]


def wait_final(api: str, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run_state(api, run_id)
        if state in FINAL:
            return state
        time.sleep(0.5)
    raise TimeoutError(f"flow run {run_id} still {run_state(api, run_id)} after {timeout} s")


def run_logs(api: str, run_id: str) -> list[str]:
    logs = post(api, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    return [entry["message"] for entry in logs]
