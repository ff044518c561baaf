"""Several desk processes on one port: the parent accepts, each desk gets every N-th connection.

Browsers and the benchmark's clients keep their connections open, so whichever process gets
a connection serves all its pages. Two ways of sharing a port were measured and dropped:
uvicorn's --workers shares one listening socket, and the process that wakes first accepted
all twenty connections arriving together; a socket per process (SO_REUSEPORT) lets the
kernel pick by a hash of the addresses, which split twenty connections 12/8 or 14/6 as often
as not, and the busier process's clients waited for it while the other core idled. The
parent now accepts every connection and hands it to the desks in turn over a Unix socket
(SCM_RIGHTS), so twenty connections are ten and ten.
"""

import asyncio
import contextlib
import importlib
import multiprocessing
import selectors
import signal
import socket
import sys
import threading
from collections.abc import Callable
from itertools import cycle

import uvicorn


def can_spread() -> bool:
    """Handing connections to other processes needs Unix sockets that carry descriptors."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds")


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_refused(command: str, host: str, port: int, error: OSError) -> str:
    """What `rectify run` and `rectify serve` say when the desk's port cannot be had."""
    return (f"rectify {command}：无法在 {host}:{port} 启动工作台（{error.strerror}）；"
            "可用 --port 换一个端口")  # fmt: skip


def listening_socket(host: str, port: int) -> socket.socket:
    """The desk's port, bound and listening; OSError if anything holds it."""
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def serve_processes(factory: str, host: str, port: int, workers: int) -> int:
    """Run `workers` desk processes until Ctrl-C or SIGTERM; the exit status.

    The parent takes the port first (a taken port is one clear error, before any process
    starts), then accepts connections and hands them out in turn. When one desk process
    dies the others are stopped too: the service manager restarts the whole desk.
    """
    listener = listening_socket(host, port)
    desks = DeskProcesses(factory, listener, workers)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C
    crashed = False
    try:
        desks.start()
        # Ctrl-C (the desks got the terminal's SIGINT too) or SIGTERM: the desks are told now.
        with contextlib.suppress(KeyboardInterrupt):
            crashed = desks.hand_out()
    finally:
        desks.close()
        listener.close()
        signal.signal(signal.SIGTERM, previous)
    return 1 if crashed else 0


class DeskProcesses:
    """Desk processes fed by this one, which accepts on `listener` and hands the
    connections out in turn."""

    def __init__(self, factory: str, listener: socket.socket, workers: int) -> None:
        self.listener = listener
        listener.setblocking(False)
        context = multiprocessing.get_context("spawn")
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(workers)]
        self.channels = [ours for ours, _ in pairs]
        self._theirs = [theirs for _, theirs in pairs]
        self.desks = [
            context.Process(target=_one_desk, args=(factory, theirs), name=f"desk-{n + 1}")
            for n, theirs in enumerate(self._theirs)
        ]

    def start(self) -> None:
        for desk, theirs in zip(self.desks, self._theirs, strict=True):
            desk.start()
            theirs.close()  # the desk has its own copy now

    def hand_out(self, stop: threading.Event | None = None) -> bool:
        """Accept connections and pass each to the next desk until `stop` is set (False) or
        a desk ends by itself (True)."""
        turns = cycle(self.channels)
        with selectors.DefaultSelector() as events:
            events.register(self.listener, selectors.EVENT_READ)
            for desk in self.desks:
                events.register(desk.sentinel, selectors.EVENT_READ)
            while stop is None or not stop.is_set():
                for key, _ in events.select(timeout=None if stop is None else 0.5):
                    if key.fileobj is not self.listener:
                        return True
                    with contextlib.suppress(BlockingIOError, ConnectionAbortedError):
                        while True:
                            connection, _ = self.listener.accept()
                            with connection:  # the desk holds its own copy once sent
                                socket.send_fds(next(turns), [b"c"], [connection.fileno()])
        return False

    def close(self) -> None:
        """Stop the desks: each finishes the requests in flight (SIGTERM to uvicorn)."""
        for channel in self.channels:
            channel.close()  # a desk reads the end of its channel as "stop"
        for desk in self.desks:
            if desk.is_alive():
                desk.terminate()
        for desk in self.desks:
            if desk.pid is not None:
                desk.join(timeout=30)


def _one_desk(factory: str, channel: socket.socket) -> None:
    """In each desk process: its own app, one server fed with the connections handed to it."""
    module, _, name = factory.partition(":")
    make_app: Callable = getattr(importlib.import_module(module), name)
    app = make_app()
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=True)
    with contextlib.suppress(KeyboardInterrupt):
        HandedConnections(config, channel).run()


class HandedConnections(uvicorn.Server):
    """A uvicorn server that serves the connections its parent accepted, instead of
    accepting any itself. Each one gets uvicorn's own protocol, as if accepted here."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._arriving: set[asyncio.Task] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app's start-up, and no listening socket
        self.channel.setblocking(False)
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._take)

    def _protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # what uvicorn's own servers create
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    def _take(self) -> None:
        try:
            _, descriptors, _, _ = socket.recv_fds(self.channel, 1, 1)
        except BlockingIOError:
            return
        if not descriptors:  # the parent closed the channel: it is stopping, or gone
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        connection = socket.socket(fileno=descriptors[0])
        connection.setblocking(False)
        loop = asyncio.get_running_loop()
        arriving = loop.create_task(loop.connect_accepted_socket(self._protocol, connection))
        self._arriving.add(arriving)
        arriving.add_done_callback(self._arriving.discard)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):  # already removed, or closed
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets=sockets)
