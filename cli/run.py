"""`rectify run`: Rectify on one machine — the embedded scheduler and its local Prefect API."""

import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime

from cli.common import console, engine_for, settings
from cli.flows import prepare_prefect, schedule_table
from models.db import require_current_schema


def run() -> None:
    """启动 Rectify：按计划自动运行整改提醒、发送邮件、季度调度和回头看（Ctrl-C 停止）。"""
    started = time.monotonic()
    current = settings()
    engine = engine_for(current)
    require_current_schema(engine)
    prepare_prefect()
    from flows.local_prefect import LocalPrefect
    from flows.runner import EmbeddedScheduler, SchedulerBusy

    scheduler = EmbeddedScheduler(engine)
    try:
        scheduler.acquire()  # before anything starts: a second `rectify run` stops here
    except SchedulerBusy as busy:
        engine.dispose()
        raise SystemExit(f"rectify run：{busy}") from None
    prefect = LocalPrefect(current.home.resolve() / "prefect", current.prefect_port)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        prefect.launch()
        os.environ["PREFECT_API_URL"] = prefect.api_url
        scheduler.start()
        _say_where_to_look(current, prefect, scheduler.next_runs(), started)
        ready = threading.Thread(
            target=_await_prefect, args=(prefect, started, stopping), daemon=True
        )
        ready.start()
        while not stopping.wait(1):
            if scheduler.lost.is_set():
                console.print("调度租约已被另一个进程取得，本进程停止调度。")
                break
    finally:
        console.print("正在停止…（等待进行中的任务完成）")
        scheduler.stop()
        prefect.stop()
        engine.dispose()
    console.print("Rectify 已停止。")


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
    state = "" if prefect.healthy() else "；正在启动，首次需十几秒初始化"
    say(f"  Prefect：{prefect.ui_url}（各流程的运行记录与日志{state}）")
    if current.smtp_host:
        say(f"  邮件：经 {current.smtp_host}:{current.smtp_port_or_default} 发送")
    else:
        say(f"  邮件：未配置 SMTP，保存在 {current.mail_capture_dir}（rectify mail list 查看）")
    say(schedule_table(datetime.now(UTC), next_runs))
    sys.stdout.flush()  # whoever reads us through a pipe learns we are up
