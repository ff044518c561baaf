"""Reminders end to end: planning → outbox → a real aiosmtpd server on loopback.

The ledger is tests/test_reminder_plan.py's (deadlines around National Day 2026); this file
checks what actually arrives in people's mailboxes, day by day, and the event messages.
"""

from collections import Counter
from dataclasses import asdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from flows import reminders
from flows.reminders import (
    EVENT_CURSOR,
    EVENT_MAX_AGE,
    EventReport,
    PlanReport,
    notify_events,
    plan_day,
)
from models.audit import AuditEvent
from models.db import make_engine, upgrade
from models.mail import EventCursor, MessageState, OutboxMessage
from models.settings import Settings
from models.stages import Action, Stage
from notifications.delivery import deliver_due
from tests.cli_harness import clear_rectify_environment
from tests.conftest import NOW
from tests.factories import World
from tests.test_delivery import Server, free_port
from tests.test_reminder_plan import DUE, EXPECTED, REVIEW, REVIEWS, Ledger, at_0830_shanghai

D = date
FIRST, LAST = D(2026, 9, 14), D(2026, 10, 16)

# How many items each person's one digest lists, every day from 9/14 to 10/16 (by hand,
# from the working-day ordinals in tests/test_reminder_plan.py's docstring). A working day
# with nothing due maps to {}; days off are not listed and must send nothing.
DIGESTS: dict[date, dict[str, int]] = {
    D(2026, 9, 14): {"李明": 1},
    D(2026, 9, 15): {"李明": 1, "陈静": 1},
    D(2026, 9, 16): {},
    D(2026, 9, 17): {"赵敏": 1},  # 赵敏 reviews the task under look-back (REVIEWS)
    D(2026, 9, 18): {"李明": 1, "陈静": 1},
    D(2026, 9, 20): {"李明": 1},  # Sunday, a make-up working day
    D(2026, 9, 21): {"李明": 1, "刘洋": 1},
    D(2026, 9, 22): {"李明": 1, "陈静": 1, "刘洋": 1, "赵敏": 1},
    D(2026, 9, 23): {"刘洋": 1},
    D(2026, 9, 24): {"李明": 2, "赵敏": 1},
    D(2026, 9, 28): {"李明": 2, "陈静": 1, "周明": 1, "刘洋": 1, "赵敏": 1},
    D(2026, 9, 29): {"李明": 1, "刘洋": 1, "赵敏": 1},
    D(2026, 9, 30): {"李明": 2, "刘洋": 2},
    D(2026, 10, 8): {"李明": 4, "陈静": 1, "周明": 1, "张伟": 2, "刘洋": 2},
    D(2026, 10, 9): {"李明": 1, "张伟": 1, "刘洋": 2, "赵敏": 1},
    D(2026, 10, 10): {"李明": 1, "陈静": 1, "刘洋": 2},  # Saturday, a make-up working day
    D(2026, 10, 12): {"李明": 3, "陈静": 1, "周明": 1, "张伟": 3, "刘洋": 2},
    D(2026, 10, 13): {"李明": 2, "陈静": 1, "周明": 1, "张伟": 1, "赵敏": 1},
    D(2026, 10, 14): {"陈静": 1, "刘洋": 1},
    D(2026, 10, 15): {"李明": 2, "陈静": 1, "周明": 1, "张伟": 3, "刘洋": 2},
    D(2026, 10, 16): {"李明": 2, "陈静": 1, "周明": 2, "张伟": 1, "赵敏": 1},
}
DAYS_OFF = {
    D(2026, 9, 19),
    *(D(2026, 9, d) for d in (25, 26, 27)),
    *(D(2026, 10, d) for d in range(1, 8)),
    D(2026, 10, 11),
}


def days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


def date_cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def days_text(why: str) -> str:
    """test_reminder_plan's "why" as the digest words it: 剩余 7 / 今日到期 / 已逾期 4."""
    if why == DUE:
        return "今日到期"
    if why.startswith("overdue"):
        return f"已逾期 {why.split()[1]} 个工作日"
    return f"剩余 {why.split()[0]} 个工作日"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def smtp():
    running = Server(free_port()).start()
    yield running
    running.stop()


@pytest.fixture
def settings(tmp_path, monkeypatch, smtp) -> Settings:
    clear_rectify_environment(monkeypatch)
    return Settings(
        home=tmp_path / "home",
        mail_from="整改办 <zgb@example.cn>",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_timeout=5,
        mail_connections=2,
    )


@pytest.fixture
def ledger(world) -> Ledger:
    """The planner's ledger, committed, everyone with an address (刘洋 has none there)."""
    built = Ledger(world)
    built.people["刘洋"].email = "liuyang@example.cn"
    world.session.commit()  # the flows read through their own sessions
    return built


def outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def snapshot(engine) -> list[tuple]:
    return [(r.id, r.key, r.state, r.attempts, r.sent_at) for r in outbox(engine)]


def cursor_position(engine) -> int | None:
    with Session(engine) as session:
        cursor = session.get(EventCursor, EVENT_CURSOR)
        return None if cursor is None else cursor.last_event_id


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def by_recipient(messages, envelopes, names: dict[str, str]) -> dict[str, list]:
    """The received messages by the recipient's name, from the SMTP envelopes."""
    mailboxes: dict[str, list] = {}
    for message, (_, recipients) in zip(messages, envelopes, strict=True):
        for address in recipients:
            mailboxes.setdefault(names[address], []).append(message)
    return mailboxes


# --- 1. every day of the window, as received --------------------------------------------------


def test_the_day_by_day_table_as_received_over_smtp(ledger, engine, settings, smtp):
    assert set(DIGESTS) | DAYS_OFF == set(days()) and not set(DIGESTS) & DAYS_OFF
    names = {person.email: name for name, person in ledger.people.items() if person.email}
    names[ledger.world.reviewer.email] = "赵敏"
    refs = {
        label: (f"{ledger.world.area.number}.{task.number} {task.title}", "整改时限", task.deadline)
        for label, task in ledger.tasks.items()
    }
    under_review = ledger.lookback
    refs[REVIEW] = (
        f"{ledger.world.area.number}.{under_review.number} {under_review.title}",
        "回头看时限",
        D(2026, 9, 28),
    )

    for day in days():
        now = at_0830_shanghai(day)
        before = len(smtp.sink.received)

        report = plan_day(engine, now, settings)
        delivery = deliver_due(engine, now + timedelta(minutes=1), settings)

        expected = DIGESTS.get(day, {})
        got = by_recipient(smtp.sink.received[before:], smtp.sink.envelopes[before:], names)
        assert {name: len(messages) for name, messages in got.items()} == dict.fromkeys(
            expected, 1
        ), f"{day}: one digest per person, to exactly these people"
        people, items = len(expected), sum(expected.values())
        assert (report.digests, report.items, report.enqueued) == (people, items, people), day
        assert (delivery.sent, delivery.retried, delivery.failed) == (people, 0, 0), day
        for name, n in expected.items():
            (message,) = got[name]
            assert f"您有 {n} 项整改事项需要关注" in str(message["Subject"]), (day, name)
            assert f"（{date_cn(day)}）" in str(message["Subject"]), (day, name)
            body = text_of(message)
            assert body.startswith(f"{name}同志：\n"), (day, name)
            planned = EXPECTED[day] | REVIEWS.get(day, set())
            mine = [(label, why) for who, label, why in planned if who == name]
            assert len(mine) == n, (day, name)  # the planner's table agrees with this one
            for label, why in mine:
                title, what, deadline = refs[label]
                line = f"{title}\n   {what}：{date_cn(deadline)}；{days_text(why)}"
                assert line in body, (day, name, label)
        if day in DAYS_OFF:
            assert report == PlanReport(), day

    assert {r.state for r in outbox(engine)} == {MessageState.SENT}
    assert len(outbox(engine)) == sum(len(people) for people in DIGESTS.values())


# --- 2. the same day twice --------------------------------------------------------------------


def test_running_the_same_day_again_sends_nothing_new(ledger, engine, settings, smtp):
    day = D(2026, 10, 8)
    now = at_0830_shanghai(day)

    first = plan_day(engine, now, settings)
    sent = deliver_due(engine, now + timedelta(minutes=1), settings)
    rows = snapshot(engine)
    received = len(smtp.sink.received)

    again = plan_day(engine, now, settings)
    later_that_day = plan_day(engine, now + timedelta(hours=9), settings)  # 17:30 in Shanghai
    resent = deliver_due(engine, now + timedelta(hours=9, minutes=1), settings)

    assert (first.digests, first.items, first.enqueued) == (5, 10, 5)
    assert sent.sent == 5
    assert (again.digests, again.items, again.enqueued) == (5, 10, 0)
    assert (later_that_day.digests, later_that_day.enqueued) == (5, 0)
    assert (resent.sent, resent.retried, resent.failed) == (0, 0, 0)
    assert len(smtp.sink.received) == received == 5
    assert snapshot(engine) == rows
    next_day = plan_day(engine, at_0830_shanghai(D(2026, 10, 9)), settings)
    assert next_day.enqueued == 4  # a new day is a new key (赵敏's look-back among them)


# --- 3. event messages -------------------------------------------------------------------------


def take_every_messaging_action(world: World) -> dict[str, object]:
    """Assign, reject, approve, grant and refuse an extension, open a look-back, rebound."""
    rejected = world.task_at(Stage.EVIDENCE)
    world.do(rejected, Action.REJECT, reason="佐证不足：缺少现场照片")
    rebounded = world.task_at(Stage.SIGNED_OFF)
    world.do(rebounded, Action.OPEN_LOOKBACK)
    world.do(rebounded, Action.REBOUND, finding="河道垃圾再次堆积")
    granted = world.task_at(Stage.ACTING)
    world.do(granted, Action.REQUEST_EXTENSION)
    world.do(granted, Action.GRANT_EXTENSION)
    refused = world.task_at(Stage.ACTING)
    world.do(refused, Action.REQUEST_EXTENSION)
    world.do(refused, Action.REFUSE_EXTENSION, reason="工期可控，不予延期")
    world.session.commit()
    return {"rejected": rejected, "rebounded": rebounded, "granted": granted, "refused": refused}


def task_events(engine) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.task_id.is_not(None)).order_by(AuditEvent.id)
        return list(session.exec(query))


def test_each_event_is_told_once_to_each_person_it_concerns(world, engine, settings, smtp, now):
    take_every_messaging_action(world)
    who = {
        world.officer.id: "officer",
        world.leader.id: "leader",
        world.reviewer.id: "reviewer",
    }
    events = task_events(engine)

    report = notify_events(engine, now, settings)

    rows = outbox(engine)
    assert Counter((r.kind, who[r.person_id]) for r in rows) == Counter(
        {
            ("assigned", "officer"): 4,
            ("rejected", "officer"): 1,
            ("approved", "officer"): 1,
            ("lookback_assigned", "reviewer"): 1,
            ("rebound", "officer"): 1,
            ("rebound", "leader"): 1,
            ("extension_granted", "officer"): 1,
            ("extension_refused", "officer"): 1,
        }
    )
    actions = {e.id: e.action for e in events}
    for row in rows:  # key = kind:event:person, and the event is the right one
        kind, event_id, person_id = row.key.split(":")
        assert (kind, int(person_id)) == (row.kind, row.person_id)
        assert (
            actions[int(event_id)]
            == {
                "assigned": Action.ASSIGN,
                "rejected": Action.REJECT,
                "approved": Action.APPROVE,
                "lookback_assigned": Action.OPEN_LOOKBACK,
                "rebound": Action.REBOUND,
                "extension_granted": Action.GRANT_EXTENSION,
                "extension_refused": Action.REFUSE_EXTENSION,
            }[row.kind]
        )
    assert len({(r.key.split(":")[1], r.person_id) for r in rows}) == len(rows) == 11
    assert report == EventReport(events=len(events), enqueued=11, skipped_old=0)
    assert cursor_position(engine) == events[-1].id

    assert notify_events(engine, now + timedelta(minutes=5), settings) == EventReport()
    assert len(outbox(engine)) == 11

    delivery = deliver_due(engine, now + timedelta(minutes=1), settings)
    assert (delivery.sent, delivery.failed) == (11, 0)
    mail = by_recipient(
        smtp.sink.received,
        smtp.sink.envelopes,
        {world.officer.email: "officer", world.leader.email: "leader",
         world.reviewer.email: "reviewer"},
    )  # fmt: skip
    subjects = {name: Counter(str(m["Subject"])[:6] for m in box) for name, box in mail.items()}
    assert subjects["reviewer"] == Counter({"【回头看】请": 1})
    assert subjects["leader"] == Counter({"【问题反弹】": 1})
    bodies = {str(m["Subject"]).split("】")[0] + "】": text_of(m) for m in mail["officer"]}
    assert "退回理由：佐证不足：缺少现场照片" in bodies["【销号退回】"]
    assert "理由：工期可控，不予延期" in bodies["【延期未批准】"]
    assert "核查发现：河道垃圾再次堆积" in bodies["【问题反弹】"]
    assert "核查发现：河道垃圾再次堆积" in text_of(mail["leader"][0])
    assert "2026年11月30日" in bodies["【延期已批准】"]  # the granted deadline
    assert set(bodies) >= {"【任务交办】", "【已销号】"}


def test_events_older_than_the_max_age_are_skipped_and_the_cursor_moves_on(
    world, engine, settings, now
):
    world.task_at(Stage.ASSIGNED)  # at `now`: old news by the time the flow runs
    world.session.commit()
    old = task_events(engine)
    world.now = now + timedelta(hours=1)
    fresh = world.task_at(Stage.ASSIGNED)
    world.session.commit()
    events = task_events(engine)
    run_at = world.now + EVENT_MAX_AGE  # `fresh` is exactly EVENT_MAX_AGE old: still news

    report = notify_events(engine, run_at, settings)

    assert report == EventReport(events=len(events), enqueued=1, skipped_old=len(old))
    assert [r.key for r in outbox(engine)] == [
        f"assigned:{e.id}:{world.officer.id}"
        for e in events
        if e.task_id == fresh.id and e.action == Action.ASSIGN
    ]
    assert cursor_position(engine) == events[-1].id
    assert notify_events(engine, run_at, settings) == EventReport()


def test_a_crash_while_enqueueing_events_leaves_no_rows_and_the_cursor_where_it_was(
    world, engine, settings, now, monkeypatch
):
    world.task_at(Stage.ASSIGNED)
    world.session.commit()
    assert notify_events(engine, now, settings).enqueued == 1
    rows, position = snapshot(engine), cursor_position(engine)
    take_every_messaging_action(world)
    real = reminders.enqueue_message
    calls = []

    def crash_on_the_second(session, **kwargs):
        calls.append(kwargs["key"])
        if len(calls) == 2:
            raise RuntimeError("killed while enqueueing")
        return real(session, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(reminders, "enqueue_message", crash_on_the_second)
        with pytest.raises(RuntimeError, match="killed while enqueueing"):
            notify_events(engine, now, settings)

    assert len(calls) == 2
    assert snapshot(engine) == rows
    assert cursor_position(engine) == position
    report = notify_events(engine, now, settings)
    assert report.enqueued == 11 and report.skipped_old == 0
    assert len(outbox(engine)) == len(rows) + 11
    assert cursor_position(engine) == task_events(engine)[-1].id


# --- 4. a person without an address --------------------------------------------------------


def test_a_person_without_an_address_gets_a_failed_row_and_the_others_their_digests(
    world, engine, settings, smtp
):
    ledger = Ledger(world)  # 刘洋 has no e-mail address
    world.session.commit()
    day = D(2026, 10, 8)
    now = at_0830_shanghai(day)

    report = plan_day(engine, now, settings)
    delivery = deliver_due(engine, now + timedelta(minutes=1), settings)

    assert (report.digests, report.enqueued) == (5, 5)
    assert (delivery.sent, delivery.retried, delivery.failed) == (4, 0, 0)
    names = {p.email: name for name, p in ledger.people.items() if p.email}
    got = by_recipient(smtp.sink.received, smtp.sink.envelopes, names)
    assert {name: len(box) for name, box in got.items()} == dict.fromkeys(
        ("李明", "张伟", "陈静", "周明"), 1
    )
    (failed,) = [r for r in outbox(engine) if r.state == MessageState.FAILED]
    assert failed.person_id == ledger.people["刘洋"].id
    assert failed.last_error == "收件人没有登记邮箱地址"
    assert failed.key == f"digest:deadlines:{failed.person_id}:{day.isoformat()}"
    later = deliver_due(engine, now + timedelta(hours=1), settings)
    assert (later.sent, later.failed) == (0, 0)


# --- 5. the real Prefect flow ------------------------------------------------------------------


def test_the_prefect_flow_enqueues_the_days_digests(tmp_path, monkeypatch):
    clear_rectify_environment(monkeypatch)
    url = f"sqlite:///{tmp_path / 'db' / 'rectify.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            ledger = Ledger(World(session, NOW, home=tmp_path / "home"))
            session.commit()
        day = D(2026, 10, 8)
        monkeypatch.setenv("RECTIFY_DATABASE_URL", url)
        monkeypatch.setenv("RECTIFY_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
        monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")  # as `rectify flow run` does
        monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        monkeypatch.delenv("PREFECT_API_URL", raising=False)
        from prefect.settings import (
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            get_current_settings,
            temporary_settings,
        )

        from flows.jobs import deadline_reminders

        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            result = deadline_reminders(at=at_0830_shanghai(day))

        assert get_current_settings().home == tmp_path / "prefect"  # not ~/.prefect
        assert result == asdict(PlanReport(digests=5, items=10, enqueued=5, warnings=[]))
        rows = outbox(engine)
        people = {ledger.people[n].id for n in ("李明", "刘洋", "张伟", "陈静", "周明")}
        assert {r.key for r in rows} == {
            f"digest:deadlines:{pid}:{day.isoformat()}" for pid in people
        }
        assert {r.kind for r in rows} == {"digest"}
        # the same day again, directly: the same plan, and nothing new
        again = plan_day(engine, at_0830_shanghai(day), Settings())
        assert asdict(again) == {**result, "enqueued": 0}
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 5
    finally:
        engine.dispose()
