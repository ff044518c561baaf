"""The local Prefect API of the embedded mode: started once by `rectify run`, and kept.

Without an API URL every flow call would start Prefect's temporary server (5–13 s) and
lose its history when the process ends (STACK-NOTES.md). `rectify run` starts
`prefect server start` once, with its state under RECTIFY_HOME/prefect, so flow runs,
their logs and states stay where Prefect users look, across restarts. Only the API and UI
run: scheduling is ours (flows.runner), so Prefect's own services are off.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import closing
from importlib.metadata import version
from pathlib import Path


class PrefectStartFailed(Exception):
    """The server did not become healthy; str() says why, in Chinese, with its log."""


def seed_database(home: Path) -> bool:
    """Give a new Prefect home an already migrated database; True if it got one.

    Prefect's first start runs its whole migration chain (10 s here, 25 s on a busy
    machine) before its API answers, which alone made `rectify run` miss 20 s. The chain
    is run once per installation into a template (kept beside the interpreter, named by
    Prefect's version) and each new data folder starts from a copy. A home that already has
    a database is left alone: Prefect upgrades it on start, as usual.
    """
    target = home / "prefect.db"
    if target.exists():
        return False
    template = template_path()
    try:
        if not template.exists():
            _build_template(template)
        home.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".db.partial")
        shutil.copyfile(template, partial)
        partial.replace(target)
    except (OSError, sqlite3.Error, subprocess.SubprocessError):
        return False  # Prefect migrates on its first start instead: slower, same result
    return True


def template_path() -> Path:
    return Path(sys.prefix) / "var" / "rectify" / f"prefect-{version('prefect')}.db"


def _build_template(template: Path) -> None:
    """`prefect server database upgrade` into a scratch home, then moved into place whole,
    so a template is either complete or absent."""
    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as scratch:
        database = Path(scratch) / "prefect.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=scratch,
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{database}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
            env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
        with closing(sqlite3.connect(database)) as check:  # one self-contained file, no WAL
            check.execute("PRAGMA journal_mode=DELETE")
        database.replace(template)


class LocalPrefect:
    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.process: subprocess.Popen | None = None
        self.log_path = home / "prefect-server.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def launch(self) -> bool:
        """Start the server in the background, unless one already answers on the port (then
        that one is used, and False returned). It is ready after `wait_ready`."""
        if self.healthy():
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        seed_database(self.home)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port), "--no-services"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # Ctrl-C reaches Rectify, which stops it in order
            )  # fmt: skip
        return True

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the API answers (about 5 s); PrefectStartFailed, with the server's log,
        if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.25)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-1500:] if self.log_path.exists() else ""
        raise PrefectStartFailed(
            f"本地 Prefect 服务未能在 {timeout:.0f} 秒内启动（端口 {self.port}），日志：{tail}"
        )

    def stop(self) -> None:
        """Stop the server this process started (one it found running is left alone)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for_api(api_url: str | None, timeout: float = 120) -> None:
    """A flow run needs its API: a job due right after start waits for the local server."""
    if not api_url:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
