"""`rectify serve`: the desk alone, for the scaled path where Prefect schedules the flows.

Several desks (processes here, or machines) share one PostgreSQL: each request is its own
short transaction and every change is a conditional update, so nothing is applied twice.
With --workers N, this process accepts the connections and hands them to N desk
processes in turn (cli.desk_processes), each building its own app.
"""

from typing import Annotated

import typer
import uvicorn

from cli.common import console, engine_for, settings
from cli.desk import DESK_FACTORY
from cli.desk_processes import can_spread, port_refused, serve_processes
from models.db import require_current_schema


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
