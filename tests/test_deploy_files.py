"""deploy/: the compose file passes `docker compose config` and lays out the scaled path;
the systemd units pass `systemd-analyze verify`; the image carries every package."""

import json
import re
import shutil
import subprocess
from importlib.metadata import version

import pytest

from tests.paths import TESTS

ROOT = TESTS.parent
DEPLOY = ROOT / "deploy"
RECTIFY_SERVICES = {"setup", "worker", "desk"}


def compose_config(*args: str) -> dict:
    docker = shutil.which("docker")
    assert docker, "the docker CLI is missing: run deploy/compose-for-tests.sh"
    done = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), *args, "config", "--format",
         "json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def staging() -> dict:
    return compose_config("--profile", "staging")


def test_compose_config_accepts_the_file_and_the_mail_catcher_is_staging_only(staging):
    production = compose_config()
    assert set(production["services"]) == {"db", "prefect"} | RECTIFY_SERVICES
    assert set(staging["services"]) == set(production["services"]) | {"mail"}


def test_every_rectify_service_shares_one_image_database_prefect_and_home(staging):
    services = staging["services"]
    images = {services[name]["image"] for name in RECTIFY_SERVICES}
    assert len(images) == 1
    for name in RECTIFY_SERVICES:
        env = services[name]["environment"]
        assert env["RECTIFY_DATABASE_URL"].startswith("postgresql://rectify:")
        assert env["RECTIFY_DATABASE_URL"].endswith("@db:5432/rectify")
        assert env["PREFECT_API_URL"] == "http://prefect:4200/api"
        [volume] = services[name]["volumes"]
        assert (volume["source"], volume["target"]) == ("rectify-home", env["RECTIFY_HOME"])
    assert services["worker"]["command"][:4] == ["prefect", "worker", "start", "--pool"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["setup"]["command"][-1] == "rectify init && rectify deploy"
    for name in ("worker", "desk"):
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_prefect_server_matches_the_installed_prefect_and_keeps_state_in_postgresql(staging):
    prefect = staging["services"]["prefect"]
    assert prefect["image"].startswith(f"prefecthq/prefect:{version('prefect')}-")
    url = prefect["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert url.startswith("postgresql+asyncpg://") and url.endswith("@db:5432/prefect")
    init = (DEPLOY / "postgres-init.sql").read_text()
    assert "CREATE DATABASE prefect" in init


def test_the_image_carries_every_package_the_wheel_does():
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = json.loads(re.search(r"only-include = (\[.*?\])", pyproject).group(1))
    copied = re.findall(r"^COPY (\w+) \1$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert sorted(copied) == sorted(packages)


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """Verified as installed: the units' /opt/rectify is this checkout, whose .venv has the
    `rectify` and `prefect` commands they start."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd)"
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text().replace("/opt/rectify", str(ROOT))
        (tmp_path / unit.name).write_text(text.replace("/var/lib/rectify", str(tmp_path)))
        units.append(str(tmp_path / unit.name.replace("@.", "@1.")))
    assert len(units) == 3
    done = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
