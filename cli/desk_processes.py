"""Several desk processes on one port, each listening on a socket of its own (SO_REUSEPORT).

uvicorn's --workers shares one listening socket between its processes: the process that
wakes first accepts every connection waiting, so twenty clients that arrive together all
land on one process while the others idle (measured: every connection of 20 on one of two
processes, and no more pages a second than one process). With a socket per process, the
kernel spreads new connections over the processes.
"""

import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from collections.abc import Callable

import uvicorn


def can_spread() -> bool:
    """Linux balances connections over SO_REUSEPORT sockets; elsewhere uvicorn's workers."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_refused(command: str, host: str, port: int, error: OSError) -> str:
    """What `rectify run` and `rectify serve` say when the desk's port cannot be had."""
    return (f"rectify {command}：无法在 {host}:{port} 启动工作台（{error.strerror}）；"
            "可用 --port 换一个端口")  # fmt: skip


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other processes of this user may bind as well."""
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _refuse_if_taken(host: str, port: int) -> None:
    """OSError if anything holds the port, a desk sharing it included: SO_REUSEPORT alone
    would let a second desk (even of another installation) take half the connections."""
    with socket.socket(family_of(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def serve_processes(factory: str, host: str, port: int, workers: int) -> int:
    """Run `workers` desk processes until Ctrl-C or SIGTERM; the exit status.

    The parent binds the port first (a taken port is one clear error, before any process
    starts) and holds it without listening, so no connection waits on it. When one desk
    process dies the others are stopped too: the service manager restarts the whole desk.
    """
    _refuse_if_taken(host, port)
    held = reuse_port_socket(host, port)
    context = multiprocessing.get_context("spawn")
    desks = [
        context.Process(target=_one_desk, args=(factory, host, port), name=f"desk-{n + 1}")
        for n in range(workers)
    ]
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C
    crashed = False
    try:
        for desk in desks:
            desk.start()
        try:
            multiprocessing.connection.wait([desk.sentinel for desk in desks])
            crashed = True  # a desk ended by itself
        except KeyboardInterrupt:  # the desks got the terminal's SIGINT too, or are told now
            pass
    finally:
        _stop(desks)
        signal.signal(signal.SIGTERM, previous)
        held.close()
    return 1 if crashed else 0


def _stop(desks: list) -> None:
    for desk in desks:
        if desk.is_alive():
            desk.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for desk in desks:
        desk.join(timeout=30)


def _one_desk(factory: str, host: str, port: int) -> None:
    """In each desk process: its own socket on the shared port, its own app, one server."""
    module, _, name = factory.partition(":")
    make_app: Callable = getattr(importlib.import_module(module), name)
    listener = reuse_port_socket(host, port)
    listener.listen(2048)
    app = make_app()
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listener])
