"""`rectify deploy` against a real Prefect server: one deployment per entry of the schedule
table, with the same cron and zone, in a process work pool; again, and nothing doubles."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.local_prefect import LocalPrefect
from flows.schedule import SCHEDULE
from tests.scaled_harness import get, post
from tests.test_delivery import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    server = LocalPrefect(tmp_path_factory.mktemp("prefect"), free_port())
    server.launch()
    try:
        server.wait_ready()
        yield server.api_url
    finally:
        server.stop()


def rectify(tmp_path: Path, *args: str, api: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    env["RECTIFY_HOME"] = str(tmp_path / "home")
    if api:
        env["PREFECT_API_URL"] = api
    return subprocess.run(
        [sys.executable, "-c", "import cli; cli.entry()", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def deployments(api: str) -> dict[str, dict]:
    return {d["name"]: d for d in post(api, "/deployments/filter", {})}


def test_every_scheduled_flow_is_deployed_with_its_cron_and_zone_once(prefect_api, tmp_path):
    done = rectify(tmp_path, "deploy", api=prefect_api)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prefect worker start --pool rectify" in done.stdout

    first = deployments(prefect_api)
    assert set(first) == {entry.name for entry in SCHEDULE}
    for entry in SCHEDULE:
        deployment = first[entry.name]
        assert deployment["work_pool_name"] == "rectify"
        assert deployment["entrypoint"] == f"flows/jobs.py:{entry.name}"
        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["cron"] == entry.cron
        assert schedule["schedule"]["timezone"] == entry.timezone
        assert schedule["active"]
    assert get(prefect_api, "/work_pools/rectify")["type"] == "process"

    again = rectify(tmp_path, "deploy", api=prefect_api)
    assert again.returncode == 0, again.stdout + again.stderr
    second = deployments(prefect_api)
    assert {n: d["id"] for n, d in second.items()} == {n: d["id"] for n, d in first.items()}
    assert all(len(d["schedules"]) == 1 for d in second.values())


def test_without_a_prefect_server_deploy_says_what_is_missing(tmp_path):
    done = rectify(tmp_path, "deploy", api=None)
    assert done.returncode == 1
    assert "PREFECT_API_URL" in done.stderr + done.stdout
