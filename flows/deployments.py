"""The scaled path's schedule: a Prefect deployment for every entry of the schedule table.

One table, two runners: `rectify run` schedules SCHEDULE itself (flows.runner); on the
scaled path a Prefect server does, from deployments made here with the same cron and zone,
and process workers run them from this checkout (their working directory is its root).
"""

from dataclasses import dataclass
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL

from flows.jobs import FLOWS
from flows.schedule import SCHEDULE, WORK_POOL
from models.errors import RectifyError

SOURCE = Path(__file__).resolve().parents[1]  # where `flows/jobs.py` is found


@dataclass(frozen=True)
class Deployed:
    name: str
    deployment_id: str
    cron: str
    timezone: str


def deploy_schedule(work_pool: str = WORK_POOL, source: Path = SOURCE) -> list[Deployed]:
    """Create or update one deployment per scheduled flow, in a process work pool (created if
    missing). Running it again updates the same deployments: nothing is doubled."""
    if not PREFECT_API_URL.value():
        raise RectifyError(
            "rectify deploy 需要一个 Prefect 服务：请设置 PREFECT_API_URL（如 http://127.0.0.1:4200/api）"
        )
    _ensure_work_pool(work_pool)
    deployed = []
    for entry in SCHEDULE:
        remote = FLOWS[entry.name].from_source(
            source=str(source), entrypoint=f"flows/jobs.py:{entry.name}"
        )
        deployment_id = remote.deploy(
            name=entry.name, work_pool_name=work_pool, description=entry.description,
            schedule=Cron(entry.cron, timezone=entry.timezone), build=False, push=False,
            print_next_steps=False,
        )  # fmt: skip
        deployed.append(Deployed(entry.name, str(deployment_id), entry.cron, entry.timezone))
    return deployed


def _ensure_work_pool(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return
    if pool.type != "process":
        raise RectifyError(f"工作池 {name} 的类型是 {pool.type}，Rectify 需要 process 类型的工作池")
