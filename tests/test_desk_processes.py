"""Several desk processes on one port: connections arriving together are spread evenly.

uvicorn's own --workers shared one socket, and twenty connections opened at once all went
to one process; a socket per process (SO_REUSEPORT) split them by a hash, often 12/8 or
14/6 (measured with bench/desk.py --processes 2). These tests run the real processes on
loopback.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli.desk_processes import listening_socket
from tests.test_delivery import free_port
from tests.test_scheduler import wait_for

ROOT = Path(__file__).resolve().parents[1]


def pid_app():
    """A desk stand-in that answers with its process id, and says it was built."""
    pid = str(os.getpid()).encode()
    (Path(os.environ["READY_DIR"]) / pid.decode()).touch()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = [(b"content-length", str(len(pid)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": pid})

    return app


def start(port: int, ready: Path, workers: int) -> subprocess.Popen:
    code = (
        "import sys; from cli.desk_processes import serve_processes; "
        f"sys.exit(serve_processes('tests.test_desk_processes:pid_app', '127.0.0.1', {port}, "
        f"{workers}))"
    )
    env = {**os.environ, "READY_DIR": str(ready)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)


def wait_ready(ready: Path, workers: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while len(list(ready.iterdir())) < workers:
        assert server.poll() is None, "the desks exited before they started"
        assert time.monotonic() < deadline, "the desks did not start within 60 s"
        time.sleep(0.1)


@contextmanager
def running(port: int, ready: Path, workers: int) -> Iterator[subprocess.Popen]:
    """The desk processes, built and listening; killed afterwards if still running."""
    server = start(port, ready, workers)
    try:
        wait_ready(ready, workers, server)
        yield server
    finally:
        if server.poll() is None:
            server.kill()


def answered_by(port: int, connections: int) -> list[str]:
    """Open every connection first, then ask on each: which process answered."""
    return [answer.split("\r\n\r\n", 1)[1] for answer in answers(port, connections, "/")]


def answers(port: int, connections: int, path: str) -> list[str]:
    """The whole answers to GET path, asked on connections all opened before the first ask."""
    sockets = [
        socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(connections)
    ]
    try:
        for sock in sockets:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received = []
        for sock in sockets:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            received.append(data.decode())
        return received
    finally:
        for sock in sockets:
            sock.close()


def test_connections_arriving_together_are_shared_evenly(tmp_path):
    port = free_port()
    with running(port, tmp_path, workers=2) as server:
        pids = answered_by(port, 20)
        assert sorted(Counter(pids).values()) == [10, 10]
        assert set(pids) == {p.name for p in tmp_path.iterdir()}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0  # asked to stop: a clean exit
    with socket.socket() as after:  # nobody listens on the port any more
        after.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        after.bind(("127.0.0.1", port))
        after.listen()


def test_a_dead_desk_stops_the_others_and_fails(tmp_path):
    with running(free_port(), tmp_path, workers=2) as server:
        os.kill(int(next(tmp_path.iterdir()).name), signal.SIGKILL)
        assert server.wait(timeout=30) == 1  # the service manager sees a failure
    for pid in (int(p.name) for p in tmp_path.iterdir()):
        assert not Path(f"/proc/{pid}").exists()  # stopped and reaped


def test_a_taken_port_is_refused_before_any_desk_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", port)
        server = start(port, tmp_path, workers=2)
        assert server.wait(timeout=60) != 0
    assert list(tmp_path.iterdir()) == []  # no desk was built


def test_rectify_serve_with_two_workers_serves_the_desk_and_stops_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    env["RECTIFY_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-c", "import cli; cli.entry()"]
    init = subprocess.run([*command, "init"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert init.returncode == 0, init.stderr.decode()
    port = free_port()
    serve = [*command, "serve", "--workers", "2", "--port", str(port)]
    desk = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert "2 个进程" in desk.stdout.readline()
        deadline = time.monotonic() + 60
        while True:
            try:
                pages = answers(port, 4, "/login")
                break
            except OSError:
                assert desk.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert all(p.startswith("HTTP/1.1 200") and "登录" in p for p in pages)
        # A second desk on that port would share it: it is refused, in one line.
        again = subprocess.run(
            serve, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    finally:
        desk.send_signal(signal.SIGTERM)
        assert desk.wait(timeout=30) == 0
    assert again.returncode != 0
    assert f"无法在 127.0.0.1:{port} 启动工作台" in again.stderr


def test_rectify_run_with_two_workers_schedules_here_and_serves_from_two_processes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECTIFY_", "PREFECT_"))}
    env.update(RECTIFY_HOME=str(tmp_path / "home"), RECTIFY_PREFECT_PORT=str(free_port()))
    command = [sys.executable, "-c", "import cli; cli.entry()"]
    init = subprocess.run([*command, "init"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert init.returncode == 0, init.stderr.decode()
    port = free_port()
    run = [*command, "run", "--workers", "2", "--port", str(port)]

    def start() -> tuple[subprocess.Popen, list[int]]:
        rectify = subprocess.Popen(run, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)  # fmt: skip
        assert f"工作台：http://127.0.0.1:{port}/（2 个进程）" in wait_for(rectify, "工作台", 90)
        pages = serving(port, rectify)
        assert all(p.startswith("HTTP/1.1 200") and "登录" in p for p in pages)
        return rectify, desk_processes(rectify.pid)

    rectify, desks = start()
    try:
        assert len(desks) == 2
        rectify.send_signal(signal.SIGINT)  # asked to stop: the desks stop with it
        rest, _ = rectify.communicate(timeout=60)
    finally:
        if rectify.poll() is None:
            rectify.kill()
    assert rectify.returncode == 0 and "Rectify 已停止。" in rest
    assert not any(Path(f"/proc/{pid}").exists() for pid in desks)

    rectify, desks = start()  # a desk that dies takes Rectify down with a failure
    try:
        os.kill(desks[0], signal.SIGKILL)
        rest, _ = rectify.communicate(timeout=60)
    finally:
        if rectify.poll() is None:
            rectify.kill()
    assert rectify.returncode == 1 and "工作台进程意外退出" in rest


def serving(port: int, process: subprocess.Popen) -> list[str]:
    """The answers to GET /login on four connections, once the desks answer."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return answers(port, 4, "/login")
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)


def desk_processes(parent: int) -> list[int]:
    """The desk processes among a process's children (multiprocessing's spawned ones)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid) for pid in children
        if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    ]  # fmt: skip
