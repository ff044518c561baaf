"""Delivery into a real aiosmtpd server on loopback, on SQLite and PostgreSQL."""

import asyncio
import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError
from sqlmodel import Session, select

import cli
from cli.mail import mail_app
from models.db import make_engine, transaction
from models.mail import MessageState, OutboxBody, OutboxMessage
from models.people import Person
from models.settings import Settings
from notifications import delivery
from notifications.delivery import deliver, deliver_due
from notifications.message import email_bytes, message_id
from notifications.outbox import LEASE, claim, enqueue
from notifications.render import Rendered
from notifications.transports import PermanentFailure, SmtpTransport
from tests.cli_harness import assert_one_line_error, clear_rectify_environment

DOMAIN = "example.cn"


# --- a real SMTP server on loopback --------------------------------------------------------


def free_port() -> int:
    """aiosmtpd cannot listen on port 0: ask the system for a free port first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink:
    """An aiosmtpd handler that keeps what it accepts and answers chosen replies to RCPT."""

    def __init__(self) -> None:
        self.received: list = []  # parsed messages, in arrival order
        self.contents: list[bytes] = []  # as they arrived after DATA
        self.envelopes: list[tuple[str, list[str]]] = []
        self.peers: set = set()  # one per client connection (recorded at RCPT)
        self.replies: dict[str, str] = {}  # recipient -> reply to RCPT, e.g. "550 …"
        self.data_replies: dict[str, str] = {}  # recipient -> reply to DATA instead of 250
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.peers.add(session.peer)
        reply = self.replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address in self.data_replies:
                return self.data_replies[address]
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.received.append(message)
            self.contents.append(envelope.original_content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received]


class Server:
    def __init__(self, port: int, **kwargs) -> None:
        self.port = port
        self.sink = Sink()
        self.kwargs = kwargs
        self.controller: Controller | None = None

    def start(self) -> "Server":
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def server():
    running = Server(free_port()).start()
    yield running
    running.stop()


@pytest.fixture
def settings_for(tmp_path, monkeypatch):
    clear_rectify_environment(monkeypatch)

    def make(port: int | None, **overrides) -> Settings:
        values = {
            "home": tmp_path / "home",
            "mail_from": f"整改办 <zgb@{DOMAIN}>",
            "smtp_timeout": 5,
            "mail_connections": 4,
        }
        if port is not None:
            values.update(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")
        return Settings(**(values | overrides))

    return make


def fill(engine, now, count: int, *, people: int = 3, to: dict[int, str] | None = None) -> list:
    """`count` pending messages spread over `people` recipients; returns the rows."""
    with transaction(engine) as session:
        persons = [
            Person(name=f"人员{i}", email=f"p{i}@{DOMAIN}", created_at=now) for i in range(people)
        ]
        session.add_all(persons)
        session.flush()
        ids = []
        for i in range(count):
            person = persons[i % people]
            ids.append(
                enqueue(
                    session,
                    key=f"digest:{person.id}:{i}",
                    kind="digest",
                    person=person,
                    to_address=(to or {}).get(i),
                    rendered=Rendered(
                        f"【整改提醒】第 {i} 封", f"李明同志：\n第 {i} 封\n", "<p>x</p>"
                    ),
                    send_after=now,
                    now=now,
                )
            )
    return [row for row in stored(engine) if row.id in set(ids)]


def stored(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


# --- sending -------------------------------------------------------------------------------


def test_each_due_message_is_sent_once_with_the_message_id_of_its_row(
    engine, now, server, settings_for
):
    settings = settings_for(server.port)
    rows = fill(engine, now, 30)

    report = deliver_due(engine, now, settings)
    again = deliver_due(engine, now + timedelta(hours=1), settings)

    assert (report.sent, report.retried, report.failed) == (30, 0, 0)
    assert (again.sent, again.retried, again.failed) == (0, 0, 0)
    assert sorted(server.sink.message_ids()) == sorted(message_id(r, DOMAIN) for r in rows)
    assert Counter(server.sink.message_ids()).most_common(1)[0][1] == 1
    after = stored(engine)
    assert {r.state for r in after} == {MessageState.SENT}
    assert all(now <= r.sent_at < now + timedelta(minutes=1) for r in after)
    first = {str(m["Message-ID"]): m for m in server.sink.received}[message_id(rows[0], DOMAIN)]
    assert str(first["Subject"]) == "【整改提醒】第 0 封"
    assert str(first["From"]) == f"整改办 <zgb@{DOMAIN}>"
    text = first.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "李明同志：\n第 0 封\n"
    assert (f"zgb@{DOMAIN}", [f"p0@{DOMAIN}"]) in server.sink.envelopes


def test_messages_go_over_a_few_reused_connections(engine, now, server, settings_for):
    fill(engine, now, 120)

    report = deliver_due(engine, now, settings_for(server.port, mail_connections=3))

    assert report.sent == 120
    assert 0 < len(server.sink.peers) <= 3


def test_messages_not_yet_due_wait(engine, now, server, settings_for):
    fill(engine, now + timedelta(hours=2), 2)

    assert deliver_due(engine, now, settings_for(server.port)).sent == 0
    assert deliver_due(engine, now + timedelta(hours=2), settings_for(server.port)).sent == 2


# --- crashes ---------------------------------------------------------------------------------


def test_rows_claimed_by_a_run_that_died_go_out_after_the_lease(engine, now, server, settings_for):
    settings = settings_for(server.port)
    rows = fill(engine, now, 5)
    with transaction(engine) as session:
        assert len(claim(session, now, 10)) == 5  # ... and the process dies here

    assert deliver_due(engine, now + LEASE / 2, settings).sent == 0
    report = deliver_due(engine, now + LEASE + timedelta(seconds=1), settings)

    assert report.sent == 5
    assert sorted(server.sink.message_ids()) == sorted(message_id(r, DOMAIN) for r in rows)


def test_a_run_that_dies_after_sending_resends_with_the_same_message_ids(
    engine, now, server, settings_for, monkeypatch
):
    settings = settings_for(server.port)
    rows = fill(engine, now, 6)

    def crash(*args, **kwargs):
        raise RuntimeError("killed before settling")

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_settle", crash)
        with pytest.raises(RuntimeError):
            deliver_due(engine, now, settings)
    assert len(server.sink.received) == 6
    assert {r.state for r in stored(engine)} == {MessageState.SENDING}

    assert deliver_due(engine, now + timedelta(minutes=5), settings).sent == 0
    report = deliver_due(engine, now + LEASE + timedelta(minutes=1), settings)

    assert report.sent == 6
    counts = Counter(server.sink.message_ids())
    assert counts == Counter({message_id(r, DOMAIN): 2 for r in rows})
    assert {r.state for r in stored(engine)} == {MessageState.SENT}


class SlowSink(Sink):
    """Takes `delay` seconds to accept each message, so a delivery run can be killed midway."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


DELIVER_IN_A_CHILD = """
import sys
from datetime import datetime
from models.db import make_engine
from models.settings import Settings
from notifications.delivery import deliver_due
settings = Settings()
deliver_due(make_engine(settings.db_url), datetime.fromisoformat(sys.argv[1]), settings)
"""


def test_a_delivery_process_killed_midway_loses_nothing_and_repeats_carry_the_same_ids(
    engine, now, settings_for, tmp_path
):
    rows = fill(engine, now, 30)
    slow = Server(free_port())
    slow.sink = SlowSink(delay=0.1)
    slow.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")},
        "RECTIFY_HOME": str(tmp_path / "home"),
        "RECTIFY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "RECTIFY_SMTP_HOST": "127.0.0.1",
        "RECTIFY_SMTP_PORT": str(slow.port),
        "RECTIFY_SMTP_SECURITY": "none",
        "RECTIFY_MAIL_FROM": f"整改办 <zgb@{DOMAIN}>",
        "RECTIFY_MAIL_CONNECTIONS": "2",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", DELIVER_IN_A_CHILD, now.isoformat()],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + 60
        while len(slow.sink.received) < 6 and time.monotonic() < deadline:
            assert child.poll() is None, "the delivery process ended before it was killed"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)  # no chance to settle, roll back or say goodbye
        child.wait(timeout=10)
        arrived_before = len(slow.sink.received)
        assert 6 <= arrived_before < len(rows)  # killed in the middle of delivery
        unsettled = [r for r in stored(engine) if r.state != MessageState.SENT]
        assert len(unsettled) >= len(rows) - arrived_before  # what never went out is kept

        report = deliver_due(engine, now + LEASE + timedelta(minutes=1), settings_for(slow.port))
    finally:
        if child.poll() is None:
            child.kill()
        slow.stop()

    wanted = {message_id(r, DOMAIN) for r in rows}
    arrived = Counter(slow.sink.message_ids())
    assert set(arrived) == wanted  # every digest arrived; any repeat has its row's Message-ID
    assert max(arrived.values()) <= 2  # sent at most once more, after the kill
    assert sum(arrived.values()) - len(rows) <= arrived_before  # only what was sent is repeated
    assert report.sent == len(unsettled)
    assert {r.state for r in stored(engine)} == {MessageState.SENT}


class OverlapSink(SlowSink):
    """Counts how many messages it is accepting at the same moment."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.now = self.most = 0

    async def handle_DATA(self, server, session, envelope):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.now -= 1


@pytest.mark.parametrize(("body_chars", "most_at_once"), [(600, 1), (100, 4)])
def test_large_messages_are_sent_a_few_at_a_time_within_the_memory_budget(
    engine, now, settings_for, monkeypatch, body_chars, most_at_once
):
    monkeypatch.setattr(delivery, "IN_FLIGHT_CHARS", 1000)
    with transaction(engine) as session:
        for i in range(8):
            enqueue(
                session,
                key=f"big:{i}",
                kind="digest",
                person=None,
                to_address=f"p{i}@{DOMAIN}",
                rendered=Rendered(f"主题{i}", "正" * body_chars, "<p>x</p>"),
                send_after=now,
                now=now,
            )
    slow = Server(free_port())
    slow.sink = OverlapSink(delay=0.05)
    slow.start()
    try:
        report = deliver_due(engine, now, settings_for(slow.port, mail_connections=4))
    finally:
        slow.stop()

    assert report.sent == 8
    assert slow.sink.most == most_at_once  # 600 + 8 chars: one fits the budget of 1,000


# --- failures -------------------------------------------------------------------------------


def test_when_the_server_is_down_messages_wait_and_go_out_once_it_is_up(engine, now, settings_for):
    port = free_port()  # nothing listens here yet
    settings = settings_for(port)
    fill(engine, now, 4)

    report = deliver_due(engine, now, settings)

    assert (report.sent, report.retried, report.failed) == (0, 4, 0)
    assert "无法连接邮件服务器" in report.problem
    for row in stored(engine):
        assert (row.state, row.attempts) == (MessageState.PENDING, 1)
        assert now + timedelta(minutes=1) <= row.send_after < now + timedelta(minutes=2)
        assert f"127.0.0.1:{port}" in row.last_error
    assert deliver_due(engine, now + timedelta(seconds=30), settings).retried == 0  # not due

    up = Server(port).start()
    try:
        report = deliver_due(engine, now + timedelta(minutes=2), settings)
    finally:
        up.stop()

    assert (report.sent, report.retried, report.failed) == (4, 0, 0)
    assert len(up.sink.received) == 4
    assert {(r.state, r.attempts) for r in stored(engine)} == {(MessageState.SENT, 1)}


def test_a_recipient_refused_with_550_is_parked_as_failed_with_the_reply(
    engine, now, server, settings_for
):
    server.sink.replies[f"p1@{DOMAIN}"] = "550 5.1.1 <p1@example.cn>: user unknown"
    fill(engine, now, 3)

    report = deliver_due(engine, now, settings_for(server.port))

    assert (report.sent, report.retried, report.failed) == (2, 0, 1)
    refused = [r for r in stored(engine) if r.state == MessageState.FAILED]
    assert [r.to_address for r in refused] == [f"p1@{DOMAIN}"]
    assert "550 5.1.1 <p1@example.cn>: user unknown" in refused[0].last_error
    assert deliver_due(engine, now + timedelta(days=1), settings_for(server.port)).failed == 0


def test_a_451_is_retried_later_and_then_delivered(engine, now, server, settings_for):
    server.sink.replies[f"p0@{DOMAIN}"] = "451 4.7.1 Greylisted, try again later"
    fill(engine, now, 2)
    settings = settings_for(server.port)

    report = deliver_due(engine, now, settings)

    assert (report.sent, report.retried, report.failed) == (1, 1, 0)
    (waiting,) = [r for r in stored(engine) if r.state == MessageState.PENDING]
    assert waiting.attempts == 1
    assert "451 4.7.1 Greylisted" in waiting.last_error
    assert waiting.send_after >= now + timedelta(minutes=1)

    del server.sink.replies[f"p0@{DOMAIN}"]
    assert deliver_due(engine, now + timedelta(minutes=2), settings).sent == 1
    assert {r.state for r in stored(engine)} == {MessageState.SENT}


def test_an_address_the_outbox_refused_never_reaches_the_server(engine, now, server, settings_for):
    fill(engine, now, 2, to={1: "not an address"})

    report = deliver_due(engine, now, settings_for(server.port))

    assert (report.sent, report.failed) == (1, 0)  # the bad one was FAILED at enqueue
    assert len(server.sink.received) == 1


def self_signed_context(tmp_path: Path) -> ssl.SSLContext:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime.now(dt.UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_a_certificate_that_does_not_verify_keeps_messages_for_later_with_the_reason(
    engine, now, settings_for, tmp_path
):
    tls_server = Server(free_port(), ssl_context=self_signed_context(tmp_path)).start()
    try:
        fill(engine, now, 2)
        report = deliver_due(engine, now, settings_for(tls_server.port, smtp_security="tls"))
    finally:
        tls_server.stop()

    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    assert "证书校验失败" in report.problem
    assert all("证书校验失败" in r.last_error for r in stored(engine))
    assert tls_server.sink.received == []


def wire(now, number: int) -> tuple[OutboxMessage, bytes]:
    """A row addressed to p{number} and its message's bytes, for sending through a transport."""
    row = OutboxMessage(
        id=number, key=f"k{number}", kind="digest", to_address=f"p{number}@{DOMAIN}",
        subject="主题", send_after=now, created_at=now,
    )  # fmt: skip
    body = OutboxBody(message_id=number, text="正文\n", html="<p>正文</p>")
    return row, email_bytes(row, body, sender=f"zgb@{DOMAIN}", domain=DOMAIN, now=now)


def test_a_connection_the_server_dropped_is_reopened(now, settings_for):
    idle = Server(free_port(), timeout=0.3).start()  # the server hangs up after 0.3 s idle
    row, message = wire(now, 0)

    async def two_sends() -> None:
        transport = SmtpTransport(settings_for(idle.port))
        try:
            await transport.send(1, message, f"zgb@{DOMAIN}", row.to_address)
            await asyncio.sleep(0.8)
            await transport.send(1, message, f"zgb@{DOMAIN}", row.to_address)
        finally:
            await transport.close()

    try:
        asyncio.run(two_sends())
    finally:
        idle.stop()

    assert len(idle.sink.received) == 2
    assert len(idle.sink.peers) == 2  # a second connection, opened after the drop


def test_a_refused_message_leaves_the_connection_ready_for_the_next(now, server, settings_for):
    """Refusals at RCPT and after DATA are this message's fate, not the connection's: the
    envelope is reset and the next message goes over the same connection."""
    server.sink.replies[f"p1@{DOMAIN}"] = "550 5.1.1 <p1@example.cn>: user unknown"
    server.sink.data_replies[f"p2@{DOMAIN}"] = "554 5.6.0 Message refused"

    async def three_sends() -> list[str]:
        transport = SmtpTransport(settings_for(server.port))
        outcomes = []
        try:
            for number in (1, 2, 0):
                row, message = wire(now, number)
                try:
                    await transport.send(number, message, f"zgb@{DOMAIN}", row.to_address)
                    outcomes.append("sent")
                except PermanentFailure as failure:
                    outcomes.append(str(failure))
        finally:
            await transport.close()
        return outcomes

    outcomes = asyncio.run(three_sends())

    assert outcomes == [
        "邮件服务器拒收：550 5.1.1 <p1@example.cn>: user unknown",
        "邮件服务器拒收：554 5.6.0 Message refused",
        "sent",
    ]
    assert server.sink.envelopes == [(f"zgb@{DOMAIN}", [f"p0@{DOMAIN}"])]
    assert len(server.sink.peers) == 1


def test_a_built_message_arrives_byte_for_byte_and_any_other_is_normalised(
    now, server, settings_for
):
    """What Rectify builds goes after DATA as it is; bytes that are not wire-ready (a bare
    LF or CR, a line starting with a dot) take aiosmtplib's normalising path."""
    row, built = wire(now, 0)
    odd = b"Subject: x\r\n\r\n.a dot\nbare LF\rbare CR\r\n..two dots"

    async def both() -> None:
        transport = SmtpTransport(settings_for(server.port))
        try:
            for message in (built, odd):
                await transport.send(0, message, f"zgb@{DOMAIN}", row.to_address)
        finally:
            await transport.close()

    asyncio.run(both())

    normalised = b"Subject: x\r\n\r\n.a dot\r\nbare LF\r\nbare CR\r\n..two dots\r\n"
    assert server.sink.contents == [built, normalised]
    assert len(server.sink.peers) == 1


def test_deliver_due_also_works_from_inside_a_running_loop(engine, now, server, settings_for):
    fill(engine, now, 2)

    async def from_async_code():
        return deliver_due(engine, now, settings_for(server.port))

    assert asyncio.run(from_async_code()).sent == 2


def test_deliver_is_a_coroutine_for_async_callers(engine, now, server, settings_for):
    fill(engine, now, 2)

    assert asyncio.run(deliver(engine, now, settings_for(server.port))).sent == 2


# --- local capture and the mail commands ------------------------------------------------------


@pytest.fixture
def mail_cli(rectify):
    """`rectify mail` (registered here until cli/__init__.py registers it)."""
    if not any(group.name == "mail" for group in cli.app.registered_groups):
        cli.app.add_typer(mail_app, name="mail")
    rectify.ok("init")
    return rectify


def test_without_smtp_each_message_is_captured_as_an_eml_readable_by_mail_show(mail_cli, now):
    engine = make_engine(mail_cli.url)
    try:
        rows = fill(engine, now - timedelta(minutes=1), 3)
    finally:
        engine.dispose()

    sent = mail_cli.ok("mail", "send")

    assert "已发送 3 封，稍后重试 0 封，发送失败 0 封" in sent.out
    files = sorted((mail_cli.home / "mail").glob("*.eml"))
    assert [f.name for f in files] == [f"{r.id}.eml" for r in rows]
    captured = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert str(captured["Subject"]) == "【整改提醒】第 0 封"
    assert str(captured["Message-ID"]) == message_id(rows[0], "localhost")

    shown = mail_cli.ok("mail", "show", rows[0].id)

    assert "Subject: 【整改提醒】第 0 封" in shown.out
    assert f"Message-ID: {message_id(rows[0], 'localhost')}" in shown.out
    assert f"To: p0@{DOMAIN}" in shown.out
    assert "状态：已发送" in shown.out
    assert "李明同志：\n第 0 封" in shown.out
    assert str(files[0]) in shown.out.replace("\n", "")
    assert mail_cli.ok("mail", "send").out.startswith("已发送 0 封")


def test_mail_list_show_and_retry(mail_cli, now):
    engine = make_engine(mail_cli.url)
    try:
        rows = fill(engine, now - timedelta(minutes=1), 2, to={1: "broken-address"})
    finally:
        engine.dispose()
    good, bad = rows

    listed = mail_cli.ok("mail", "list", "--json").json
    failed = mail_cli.ok("mail", "list", "--state", "发送失败", "--json").json
    table = mail_cli.ok("mail", "list").out
    refused = mail_cli("mail", "retry", good.id)
    shown = mail_cli.ok("mail", "show", bad.id)

    assert [m["id"] for m in listed] == [bad.id, good.id]
    assert [(m["id"], m["state"]) for m in failed] == [(bad.id, "failed")]
    assert "邮箱地址无效" in failed[0]["last_error"]
    assert "共 2 封" in table
    assert_one_line_error(refused, f"邮件 {good.id} 的状态是“待发送”")
    assert "状态：发送失败" in shown.out
    assert "原因：收件人的邮箱地址无效" in shown.out

    mail_cli.execute(
        "UPDATE person SET email = :email WHERE id = :id",
        email="fixed@example.cn",
        id=bad.person_id,
    )
    requeued = mail_cli.ok("mail", "retry", bad.id)
    assert f"邮件 {bad.id} 已重新排队" in requeued.out
    assert "fixed@example.cn" in requeued.out
    assert "已发送 2 封" in mail_cli.ok("mail", "send").out
    assert_one_line_error(mail_cli("mail", "show", 999_999), "找不到邮件 999999")


def test_mail_send_reports_a_server_that_is_down(mail_cli, now):
    engine = make_engine(mail_cli.url)
    try:
        fill(engine, now - timedelta(minutes=1), 1)
    finally:
        engine.dispose()
    port = free_port()
    mail_cli.monkeypatch.setenv("RECTIFY_SMTP_HOST", "127.0.0.1")
    mail_cli.monkeypatch.setenv("RECTIFY_SMTP_PORT", str(port))
    mail_cli.monkeypatch.setenv("RECTIFY_SMTP_SECURITY", "none")

    result = mail_cli("mail", "send")

    assert result.code == 1
    assert "已发送 0 封，稍后重试 1 封，发送失败 0 封" in result.out
    assert_one_line_error(result, "发送中断：无法连接邮件服务器", f"127.0.0.1:{port}")


# --- settings -------------------------------------------------------------------------------


def test_mail_settings_are_validated(settings_for):
    base = settings_for(None)
    assert base.smtp_host is None and base.mail_capture_dir == base.home / "mail"
    assert settings_for(1025, smtp_security="TLS").smtp_port_or_default == 1025
    assert Settings(smtp_host="mail.example.cn", smtp_security="tls").smtp_port_or_default == 465
    assert Settings(smtp_host="mail.example.cn").smtp_port_or_default == 587
    assert Settings(base_url="https://zg.example.gov.cn/").base_url == "https://zg.example.gov.cn"
    secret = Settings(smtp_username="zgb", smtp_password="s3cret")
    assert "s3cret" not in repr(secret)
    for bad in (
        {"smtp_username": "zgb"},
        {"smtp_password": "s3cret"},
        {"smtp_security": "ssl"},
        {"smtp_port": 0},
        {"smtp_timeout": 0},
        {"mail_from": "zgb@example.cn\r\nBcc: spy@evil.cn"},
        {"mail_from": "a@example.cn, b@example.cn"},
        {"mail_from": "nobody"},
        {"base_url": "javascript:alert(1)"},
        {"base_url": "http://a.cn/\r\nx"},
    ):
        with pytest.raises(ValidationError):
            Settings(**bad)
