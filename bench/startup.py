"""How soon `rectify run` is up: scheduling, the desk answering, the local Prefect API ready.

Issue 5's target: `rectify run` is ready in under 20 s. Each round starts a real
`rectify run` on the demo ledger and reads its output:
- cold: the first start on a new data folder, just after `rectify init --demo`;
- warm: the same data folder again (what every later start costs).
`rectify init` gives each data folder a copy of a migrated Prefect database, made once per
installation: the first round's init builds it (the template is removed first), later
inits copy it. Init times are printed too, so nothing is hidden in them.
Usage: .venv/bin/python bench/startup.py [--rounds 3]
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402
from flows.local_prefect import template_path  # noqa: E402

TARGET_S = 20.0


def rectify(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import cli; cli.entry()", *args], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
    )  # fmt: skip


def one_start(home: Path) -> dict[str, float]:
    """Seconds from launch to: scheduling, the desk's sign-in page, Prefect ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    desk_port = free_port()
    env.update(RECTIFY_HOME=str(home), RECTIFY_PREFECT_PORT=str(free_port()))
    started = time.monotonic()
    process = rectify(env, "run", "--port", str(desk_port), start_new_session=True)
    marks: dict[str, float] = {}
    try:
        for line in process.stdout:
            now = time.monotonic() - started
            if "Rectify 已启动" in line:
                marks["scheduling"] = now
            if "工作台：" in line and "desk" not in marks:
                with urllib.request.urlopen(f"http://127.0.0.1:{desk_port}/login", timeout=30):
                    marks["desk"] = time.monotonic() - started
            if "本地 Prefect 服务已就绪" in line:
                marks["prefect"] = now
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    missing = {"scheduling", "desk", "prefect"} - marks.keys()
    if missing:
        raise SystemExit(f"rectify run never reached: {', '.join(sorted(missing))}")
    return marks


def init_demo(home: Path) -> float:
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    env["RECTIFY_HOME"] = str(home)
    done = rectify(env, "init", "--demo")
    out, _ = done.communicate(timeout=300)
    if done.returncode != 0:
        raise SystemExit(out)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    inits: list[float] = []
    template_path().unlink(missing_ok=True)  # the first init pays for it, as after install
    with tempfile.TemporaryDirectory(prefix="rectify-startup-") as work:
        for i in range(rounds):
            home = Path(work) / f"home{i}"
            inits.append(init_demo(home))
            results["cold"].append(one_start(home))
            results["warm"].append(one_start(home))
    later = f"{statistics.median(inits[1:]):.1f} s" if rounds > 1 else "—"
    print(f"rectify init --demo: {inits[0]:.1f} s the first time (builds the Prefect template),")
    print(f"  then {later} (median of the later rounds)")
    print(f"rectify run start-up, {rounds} rounds each, median (range), seconds")
    print(f"{'start':<6} {'scheduling':>18} {'desk answers':>18} {'Prefect ready':>18}  target")
    for kind, runs in results.items():
        cells = []
        for mark in ("scheduling", "desk", "prefect"):
            values = [run[mark] for run in runs]
            cells.append(f"{statistics.median(values):5.1f} ({min(values):.1f}–{max(values):.1f})")
        worst = max(run["prefect"] for run in runs)
        verdict = "met" if worst < TARGET_S else "MISSED"
        print(
            f"{kind:<6} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}  <{TARGET_S:.0f} s {verdict}"
        )


if __name__ == "__main__":
    main()
