"""The scaled path end to end: a real `prefect server start` on PostgreSQL, `rectify deploy`,
real process workers running the deployed flows against Rectify on PostgreSQL, and an
aiosmtpd server on loopback receiving what they send."""

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from flows.prefect_events import event_name
from models.audit import AuditEvent
from models.calendar import load_calendar, local_date
from models.db import make_engine, transaction
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.mail import MessageState, OutboxMessage
from models.people import Person
from models.stages import Action
from notifications.message import message_id
from notifications.outbox import LEASE, Draft, enqueue_many
from notifications.render import Rendered
from tests.conftest import POSTGRES_ADMIN_URL
from tests.scaled_harness import (
    ROOT,
    PrefectServer,
    Worker,
    post,
    postgres_database,
    run_logs,
    scaled_environment,
    start_run,
    wait_final,
)
from tests.test_delivery import DOMAIN, Server, SlowSink, free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONNECTIONS = 4  # SMTP connections per delivery run


class GatedSink(SlowSink):
    """Holds every message until more connections than one run opens have said RCPT (or
    a minute passed): two delivery runs provably work on the outbox at the same time."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.connected: set = set()
        self.gate = 0  # connections to wait for; 0: no gate

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.connected.add(session.peer)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        until = time.monotonic() + 60
        while len(self.connected) < self.gate and time.monotonic() < until:
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)

    def reset(self, *, gate: int = 0, delay: float = 0.0) -> None:
        with self.lock:
            self.received.clear()
            self.envelopes.clear()
            self.connected.clear()
        self.gate, self.delay = gate, delay


class Scaled:
    def __init__(self, api: str, env: dict, engine, sink: GatedSink, workers: list[Worker]):
        self.api, self.env, self.engine, self.sink, self.workers = api, env, engine, sink, workers


def rectify(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import cli; cli.entry()", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    home = tmp_path_factory.mktemp("scaled")
    with (
        postgres_database(POSTGRES_ADMIN_URL, "rectify_scaled") as rectify_url,
        postgres_database(POSTGRES_ADMIN_URL, "prefect_scaled") as prefect_url,
    ):
        server = PrefectServer(home / "prefect", free_port(), prefect_url).start()
        smtp = Server(free_port())
        smtp.sink = GatedSink()
        smtp.start()
        env = scaled_environment(
            home / "rectify", rectify_url, smtp.port, server.api_url, CONNECTIONS
        ) | {"RECTIFY_MAIL_FROM": f"整改办 <zgb@{DOMAIN}>"}
        workers = [Worker(f"w{i}", env, home) for i in (1, 2)]
        engine = make_engine(rectify_url)
        try:
            rectify(env, "init", "--demo")
            assert "prefect worker start --pool rectify" in rectify(env, "deploy")
            for worker in workers:
                worker.start()
            yield Scaled(server.api_url, env, engine, smtp.sink, workers)
        finally:
            for worker in workers:
                worker.stop()
            engine.dispose()
            smtp.stop()
            server.stop()


def next_working_morning(engine) -> datetime:
    """08:30 in Shanghai on the next working day: when the reminders are planned."""
    with Session(engine) as session:
        calendar = load_calendar(session)
    day = calendar.add_working_days(local_date(datetime.now(SHANGHAI)), 1)
    return datetime.combine(day, clock(8, 30), SHANGHAI)


def outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def fill(engine, now: datetime, count: int, tag: str) -> list[OutboxMessage]:
    """`count` messages due at `now`, for 50 people of their own."""
    with transaction(engine) as session:
        people = [
            Person(name=f"{tag}人员{i}", email=f"{tag}{i}@{DOMAIN}", created_at=now)
            for i in range(50)
        ]
        session.add_all(people)
        session.flush()
        drafts = [
            Draft(
                key=f"{tag}:{i}",
                kind="digest",
                person=people[i % 50],
                send_after=now,
                rendered=Rendered(f"【整改提醒】{tag} 第 {i} 封", f"第 {i} 封\n", "<p>x</p>"),
            )
            for i in range(count)
        ]
        ids = set(enqueue_many(session, drafts, now))
    return [row for row in outbox(engine) if row.id in ids]


def sent_by(api: str, run_id: str) -> int:
    """What one deliver_outbox run says it sent, in its Prefect log."""
    deadline = time.monotonic() + 30  # a run's last lines reach the API just after its end
    while not (lines := [m for m in run_logs(api, run_id) if "发送" in m]):
        assert time.monotonic() < deadline, run_logs(api, run_id)
        time.sleep(0.5)
    [line] = lines
    return int(re.search(r"发送 (\d+)", line).group(1))


def test_a_reminder_deployment_run_by_a_worker_delivers_its_digests(scaled):
    at = next_working_morning(scaled.engine)
    planned = start_run(scaled.api, "deadline_reminders", at=at.isoformat())
    assert wait_final(scaled.api, planned) == "COMPLETED"
    digests = [row for row in outbox(scaled.engine) if row.key.startswith("digest:")]
    assert digests and {row.state for row in digests} == {MessageState.PENDING}

    delivered = start_run(scaled.api, "deliver_outbox", at=at.isoformat())
    assert wait_final(scaled.api, delivered) == "COMPLETED"
    rows = outbox(scaled.engine)
    sent = [row for row in rows if row.state == MessageState.SENT]
    assert {row.state for row in rows if row.key.startswith("digest:")} == {MessageState.SENT}
    assert sorted(scaled.sink.message_ids()) == sorted(message_id(r, DOMAIN) for r in sent)
    assert sent_by(scaled.api, delivered) == len(sent)


def test_two_workers_deliver_one_outbox_of_5000_each_message_exactly_once(scaled):
    now = datetime.now(SHANGHAI)
    rows = fill(scaled.engine, now, 5000, "two")
    scaled.sink.reset(gate=CONNECTIONS + 1)
    runs = [start_run(scaled.api, "deliver_outbox", at=now.isoformat()) for _ in range(2)]
    assert [wait_final(scaled.api, run) for run in runs] == ["COMPLETED", "COMPLETED"]

    arrived = Counter(scaled.sink.message_ids())
    assert set(arrived) == {message_id(row, DOMAIN) for row in rows}
    assert set(arrived.values()) == {1} and arrived.total() == 5000
    shares = [sent_by(scaled.api, run) for run in runs]
    assert sum(shares) == 5000 and min(shares) > 0, shares  # both runs sent a part
    assert {row.state for row in outbox(scaled.engine)} == {MessageState.SENT}


def test_a_worker_killed_mid_delivery_another_finishes_and_nothing_is_lost(scaled):
    first, second = scaled.workers
    second.stop()  # the run goes to the first worker, which is then killed
    now = datetime.now(SHANGHAI)
    rows = fill(scaled.engine, now, 1500, "kill")
    scaled.sink.reset(delay=0.02)
    run = start_run(scaled.api, "deliver_outbox", at=now.isoformat())
    deadline = time.monotonic() + 120
    while len(scaled.sink.received) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.kill()
    time.sleep(0.5)  # messages whose data had reached the sink are still accepted
    before = len(scaled.sink.received)
    time.sleep(1)
    assert len(scaled.sink.received) == before, "the killed run is still sending"
    assert 200 <= before < len(rows), "killed in the middle of delivery"
    left = [r for r in outbox(scaled.engine) if r.state != MessageState.SENT]
    assert len(left) >= len(rows) - before  # what never went out is kept

    second.start()  # another worker; the dead run's claims have expired by `later`
    scaled.sink.delay = 0.0
    later = now + LEASE + timedelta(minutes=1)
    finishing = start_run(scaled.api, "deliver_outbox", at=later.isoformat())
    assert wait_final(scaled.api, finishing) == "COMPLETED"
    first.start()

    arrived = Counter(scaled.sink.message_ids())
    assert set(arrived) == {message_id(row, DOMAIN) for row in rows}
    assert max(arrived.values()) <= 2  # a repeat only of what the killed run had sent
    assert arrived.total() - len(rows) <= before
    assert sent_by(scaled.api, finishing) == len(left)
    assert {row.state for row in outbox(scaled.engine)} == {MessageState.SENT}
    assert run != finishing


def prefect_events(api: str, prefix: str) -> list[dict]:
    """Every event Prefect keeps whose name starts with `prefix`, from all time."""
    answer = post(api, "/events/filter", {
        "filter": {"event": {"prefix": [prefix]},
                   "occurred": {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}},
        "limit": 50,
    })  # fmt: skip
    events = answer["events"]
    while answer.get("next_page"):
        with urllib.request.urlopen(answer["next_page"], timeout=10) as page:
            answer = json.loads(page.read())
        events += answer["events"]
    return events


def test_every_workflow_action_reaches_prefect_once_as_an_event(scaled):
    with Session(scaled.engine) as session:
        actions = session.exec(select(AuditEvent).where(AuditEvent.task_id.is_not(None))).all()
    wanted = Counter(event_name(e.action) for e in actions if event_name(e.action))
    assert wanted["rectify.task.approved"] > 0  # the demo ledger has sign-offs

    at = datetime.now(SHANGHAI).isoformat()
    for _ in range(2):  # the second run finds nothing new to post
        assert wait_final(scaled.api, start_run(scaled.api, "deliver_outbox", at=at)) == "COMPLETED"
    deadline = time.monotonic() + 60  # Prefect stores what it accepted a moment later
    while Counter(e["event"] for e in prefect_events(scaled.api, "rectify.task.")) != wanted:
        assert time.monotonic() < deadline, "not every action reached Prefect"
        time.sleep(1)
    approved = prefect_events(scaled.api, "rectify.task.approved")
    approved_tasks = {e.task_id for e in actions if e.action == Action.APPROVE}
    assert {int(e["resource"]["prefect.resource.id"].rsplit(".", 1)[1]) for e in approved} == (
        approved_tasks
    )
    time.sleep(3)
    assert len(prefect_events(scaled.api, "rectify.task.")) == sum(wanted.values())


def test_two_dispatch_runs_at_once_open_the_quarter_s_round_once(scaled):
    at = datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI).isoformat()  # after National Day
    runs = [start_run(scaled.api, "quarterly_dispatch", at=at) for _ in range(2)]
    assert [wait_final(scaled.api, run) for run in runs] == ["COMPLETED", "COMPLETED"]
    with Session(scaled.engine) as session:
        [opened] = session.exec(select(DispatchRound)).all()
        asked = session.exec(
            select(DispatchRequest.officer_id).where(DispatchRequest.round_id == opened.id)
        ).all()
    assert opened.title == "2026年第四季度调度" and asked
    requests = [r for r in outbox(scaled.engine) if r.key.startswith("dispatch_request:")]
    assert sorted(r.person_id for r in requests) == sorted(set(asked))  # one each, once
