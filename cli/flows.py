"""Running the flows by hand: `rectify flow run NAME [--at DATETIME]` and `rectify flow list`."""

import json
import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, settings, unit_of_work
from flows.schedule import WORK_POOL
from models.calendar import SHANGHAI
from models.errors import RectifyError

flow_app = typer.Typer(help="自动任务（Prefect 流程）", no_args_is_help=True)

FLOW_NAMES = (
    "deadline_reminders",
    "deliver_outbox",
    "quarterly_dispatch",
    "dispatch_chasers",
    "lookback_sweep",
)


def parse_moment(text: str) -> datetime:
    """2026-09-30T08:30+08:00; a moment without a zone is read as Beijing time."""
    from models.calendar import SHANGHAI
    from models.errors import BadInput

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"时间格式不正确：“{text}”（例如 2026-09-30T08:30+08:00）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def prepare_prefect() -> None:
    """Prefect keeps its state under RECTIFY_HOME; no telemetry. Set before prefect loads."""
    home = settings().home.resolve() / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # Prefect's temporary API server took up to 20 s to start on a busy 2-core machine,
    # Prefect's own limit: give it room rather than fail the run.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def schedule_table(now: datetime, stored: dict[str, datetime | None] | None = None) -> Table:
    """The schedule table with each job's next run (as stored by the scheduler, if given)."""
    from flows.schedule import SCHEDULE

    table = Table(title="计划任务（Asia/Shanghai）", show_lines=False)
    for column in ("流程", "计划（cron）", "下次运行", "说明"):
        table.add_column(column)
    for entry in SCHEDULE:
        when = (stored or {}).get(entry.name) or entry.next_run(now)
        shown = when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if when else "—"
        table.add_row(entry.name, entry.cron, shown, entry.description)
    return table


@flow_app.command("list")
def flow_list() -> None:
    """列出计划任务：每个流程的计划和下次运行时间。"""
    console.print(schedule_table(datetime.now(UTC), _stored_next_runs()))


def _stored_next_runs() -> dict[str, datetime | None]:
    """Next run times the scheduler kept in the database (a missed one shows as past)."""
    from sqlalchemy import select

    from models.dispatch_tables import apscheduler_jobs

    try:
        with unit_of_work() as (session, _):
            rows = session.execute(
                select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time)
            ).all()
    except RectifyError:  # no database yet: the schedule alone
        return {}
    return {
        name: datetime.fromtimestamp(stamp, UTC) if stamp is not None else None
        for name, stamp in rows
    }


@flow_app.command("run")
def flow_run(
    name: Annotated[str, typer.Argument(help="流程名，见 rectify flow list")],
    at: Annotated[
        str | None, typer.Option("--at", help="按此时刻运行，如 2026-09-30T08:30+08:00")
    ] = None,
) -> None:
    """立即运行一个流程（作为 Prefect 流程运行；--at 按指定时刻运行，便于核对规则）。"""
    from models.errors import NotFound

    if name not in FLOW_NAMES:
        raise NotFound(f"没有流程“{name}”（可选：{'、'.join(FLOW_NAMES)}）")
    moment = parse_moment(at) if at else None
    prepare_prefect()
    from flows.local_prefect import LocalPrefect

    local = LocalPrefect(settings().home.resolve() / "prefect", settings().prefect_port)
    if "PREFECT_API_URL" not in os.environ and local.healthy():  # `rectify run` is up
        os.environ["PREFECT_API_URL"] = local.api_url  # so this run's history joins the rest
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.jobs import FLOWS

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = FLOWS[name](at=moment)
    console.print(json.dumps(result, ensure_ascii=False, default=str))


def deploy(
    pool: Annotated[
        str, typer.Option("--pool", help="Prefect 工作池（process 类型；不存在则创建）")
    ] = WORK_POOL,
) -> None:
    """在 PREFECT_API_URL 所指的 Prefect 服务上为计划表中的每个流程注册部署（同一 cron 与时区）。"""
    prepare_prefect()
    from flows.deployments import deploy_schedule

    deployed = deploy_schedule(pool)
    table = Table(title=f"已注册的 Prefect 部署（工作池 {pool}）")
    for column in ("流程", "计划（cron）", "时区", "部署编号"):
        table.add_column(column)
    for item in deployed:
        table.add_row(item.name, item.cron, item.timezone, item.deployment_id)
    console.print(table)
    console.print(f"在运行流程的机器上启动 worker：prefect worker start --pool {pool}")
