"""`rectify serve`: the desk alone, for the scaled path where Prefect schedules the flows.

Several desks (processes here, or machines) share one PostgreSQL: each request is its own
short transaction and every change is a conditional update, so nothing is applied twice.
With --workers N, N processes each listen on a socket of their own on the one port
(cli.desk_processes), each building its own app.
"""

from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from cli.common import console, engine_for, settings
from cli.desk import desk_app
from cli.desk_processes import can_spread, port_refused, serve_processes
from cli.run import settle_for_serving
from models.db import require_current_schema
from models.settings import Settings

DESK_FACTORY = "cli.serve:desk_from_environment"


def serve(
    host: Annotated[str, typer.Option(help="工作台监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="工作台端口", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="工作台进程数", min=1, max=64)] = 1,
) -> None:
    """只启动网页工作台（多机部署：提醒、邮件、调度与回头看由 Prefect 工作进程运行）。"""
    current = settings()
    engine = engine_for(current)
    try:
        require_current_schema(engine)
    finally:
        engine.dispose()
    shown = f"[{host}]" if ":" in host else host
    console.print(f"工作台：http://{shown}:{port}/（{workers} 个进程；数据库 {current.db_url}）",
                  soft_wrap=True)  # fmt: skip
    if workers > 1 and can_spread():
        try:
            status = serve_processes(DESK_FACTORY, host, port, workers)
        except OSError as error:  # the port, bound before any desk starts
            raise SystemExit(port_refused("serve", host, port, error)) from None
        raise typer.Exit(status)
    uvicorn.run(
        DESK_FACTORY, factory=True, host=host, port=port,
        workers=workers, log_level="warning", access_log=False, proxy_headers=True,
    )  # fmt: skip


def desk_from_environment() -> FastAPI:
    """What each desk process serves: the desk on the settings of its environment."""
    app = desk_app(Settings())
    settle_for_serving()
    return app
