"""Running the flows by hand: `rectify flow run NAME [--at DATETIME]` and `rectify flow list`."""

import json
import os
from datetime import datetime
from typing import Annotated

import typer

from cli.common import console, settings

flow_app = typer.Typer(help="自动任务（Prefect 流程）", no_args_is_help=True)

FLOW_HELP = {
    "deadline_reminders": "整改时限提醒：按工作日计划当天的提醒邮件（每人一封）",
    "deliver_outbox": "发送邮件：把新的流程事件变成通知，并发送所有到期的邮件",
}


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


@flow_app.command("list")
def flow_list() -> None:
    """列出可运行的流程。"""
    for name, help_text in FLOW_HELP.items():
        console.print(f"{name}\t{help_text}")


@flow_app.command("run")
def flow_run(
    name: Annotated[str, typer.Argument(help="流程名，见 rectify flow list")],
    at: Annotated[
        str | None, typer.Option("--at", help="按此时刻运行，如 2026-09-30T08:30+08:00")
    ] = None,
) -> None:
    """立即运行一个流程（作为 Prefect 流程运行；--at 按指定时刻运行，便于核对规则）。"""
    from models.errors import NotFound

    if name not in FLOW_HELP:
        raise NotFound(f"没有流程“{name}”（可选：{'、'.join(FLOW_HELP)}）")
    moment = parse_moment(at) if at else None
    prepare_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.jobs import FLOWS

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = FLOWS[name](at=moment)
    console.print(json.dumps(result, ensure_ascii=False, default=str))
