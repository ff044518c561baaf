"""`rectify run`: Rectify on one machine — the desk, the embedded scheduler, a local Prefect API."""

import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from sqlmodel import Session

from cli.common import console, engine_for, settings
from cli.desk import DESK_FACTORY, desk_app, settle_for_serving
from cli.desk_processes import DeskProcesses, family_of, port_refused
from cli.flows import prepare_prefect, schedule_table
from flows.demo import DEMO_PASSWORD, DEMO_SIGN_INS, is_demo_ledger
from models.db import refresh_statistics, require_current_schema
from models.directory import find_person
from models.settings import Settings


def run(
    host: Annotated[str, typer.Option(help="工作台监听地址")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="工作台端口（0：任选空闲端口）", min=0, max=65535)
    ] = 8000,
    workers: Annotated[
        int, typer.Option(help="工作台进程数（台账大、多人同时办理时设为 CPU 核数）", min=1, max=64)
    ] = 1,
) -> None:
    """启动 Rectify：网页工作台，及按计划运行的提醒、邮件、季度调度和回头看（Ctrl-C 停止）。"""
    started = time.monotonic()
    current = settings()
    engine = engine_for(current)
    require_current_schema(engine)
    refresh_statistics(engine)
    prepare_prefect()
    from flows.local_prefect import LocalPrefect
    from flows.runner import EmbeddedScheduler, SchedulerBusy

    scheduler = EmbeddedScheduler(engine)
    try:
        scheduler.acquire()  # before anything starts: a second `rectify run` stops here
    except SchedulerBusy as busy:
        engine.dispose()
        raise SystemExit(f"rectify run：{busy}") from None
    try:
        listener = _listen(host, port)
    except SystemExit:
        scheduler.stop()  # gives the lease back: nothing was started
        engine.dispose()
        raise
    prefect = LocalPrefect(current.home.resolve() / "prefect", current.prefect_port)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    desk = DeskServer(current, listener, workers)
    failed = False
    try:
        desk.start()  # before this process's environment points at the local Prefect API
        prefect.launch()
        os.environ["PREFECT_API_URL"] = prefect.api_url
        os.environ["RECTIFY_PREFECT_EVENTS"] = "false"  # the local API runs no event services
        scheduler.start()
        _say_where_to_look(current, prefect, scheduler.next_runs(), started)
        _say_desk(engine, host, listener.getsockname()[1], workers)
        ready = threading.Thread(
            target=_await_prefect, args=(prefect, started, stopping), daemon=True
        )
        ready.start()
        while not stopping.wait(1):
            if scheduler.lost.is_set():
                console.print("调度租约已被另一个进程取得，本进程停止调度。")
                break
            if desk.ended():
                console.print("错误：工作台进程意外退出，Rectify 随之停止。")
                failed = True
                break
    finally:
        console.print("正在停止…（等待进行中的任务完成）")
        desk.stop()
        listener.close()
        scheduler.stop()
        prefect.stop()
        engine.dispose()
    console.print("Rectify 已停止。")
    if failed:
        raise SystemExit(1)


class DeskServer:
    """The desk of `rectify run`: a uvicorn server in a thread of this process, or with
    `workers` > 1 that many desk processes, fed with connections by a thread of this one
    (cli.desk_processes), so the pages use every core while this process schedules."""

    def __init__(self, current: Settings, listener: socket.socket, workers: int) -> None:
        self._stopping = threading.Event()
        self._ended = False
        if workers > 1:
            self._processes = DeskProcesses(DESK_FACTORY, listener, workers)
            self._thread = threading.Thread(target=self._hand_out, daemon=True)
            return
        self._processes = None
        app = desk_app(current)
        settle_for_serving()
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [listener]}, daemon=True
        )

    def _hand_out(self) -> None:
        assert self._processes is not None
        self._ended = self._processes.hand_out(self._stopping)

    def start(self) -> None:
        if self._processes is not None:
            self._processes.start()
        self._thread.start()

    def ended(self) -> bool:
        """Whether a desk process ended by itself."""
        return self._ended

    def stop(self) -> None:
        self._stopping.set()
        if self._processes is None:
            self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._processes is not None:
            self._processes.close()


def _await_prefect(prefect, started: float, stopping: threading.Event) -> None:
    """Say when the local Prefect API is up; stop Rectify if it cannot start."""
    from flows.local_prefect import PrefectStartFailed

    try:
        prefect.wait_ready()
    except PrefectStartFailed as failed:
        console.print(f"错误：{failed}", soft_wrap=True)
        stopping.set()
        return
    console.print(f"本地 Prefect 服务已就绪（启动后 {time.monotonic() - started:.1f} 秒）")
    sys.stdout.flush()


def _say_where_to_look(current, prefect, next_runs: dict, started: float) -> None:
    say = console.print
    say(f"Rectify 已启动（用时 {time.monotonic() - started:.1f} 秒；按 Ctrl-C 停止）")
    say(f"  数据库：{current.db_url}", soft_wrap=True)
    state = "" if prefect.healthy() else "；正在启动，约需数秒"
    say(f"  Prefect：{prefect.ui_url}（各流程的运行记录与日志{state}）")
    if current.smtp_host:
        say(f"  邮件：经 {current.smtp_host}:{current.smtp_port_or_default} 发送")
    else:
        say(f"  邮件：未配置 SMTP，保存在 {current.mail_capture_dir}（rectify mail list 查看）")
    say(schedule_table(datetime.now(UTC), next_runs))
    sys.stdout.flush()  # whoever reads us through a pipe learns we are up


def _listen(host: str, port: int) -> socket.socket:
    """The desk's socket, bound now so a taken port is a clear error before anything starts."""
    listener = socket.socket(family_of(host), socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise SystemExit(port_refused("run", host, port, error)) from None
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


def _say_desk(engine, host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    processes = f"（{workers} 个进程）" if workers > 1 else ""
    console.print(f"  工作台：http://{shown}:{port}/{processes}")
    with Session(engine) as session:
        if not is_demo_ledger(session):
            return
        console.print(f"  演示账号（密码均为 {DEMO_PASSWORD}）：")
        for role, name in DEMO_SIGN_INS:
            console.print(f"    {role}：{find_person(session, name).email}（{name}）")
    sys.stdout.flush()
