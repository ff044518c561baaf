"""The outbox on SQLite and PostgreSQL: one row per key, safe claims, leases, retries."""

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from models.db import transaction
from models.errors import NotFound, Refused
from models.mail import MessageState, OutboxBody, OutboxMessage
from models.people import Person
from notifications.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    address_problem,
    bodies_of,
    claim,
    enqueue,
    enqueue_message,
    mark_failed,
    mark_retry,
    mark_sent,
    requeue,
)
from notifications.render import Rendered

RENDERED = Rendered(subject="【整改提醒】测试", text="李明同志：\n", html="<p>李明同志：</p>")
BASE_URL = "http://127.0.0.1:8000"


def add_person(session: Session, now, name: str, email: str | None) -> Person:
    person = Person(name=name, email=email, created_at=now)
    session.add(person)
    session.flush()
    return person


def put(session: Session, now, key: str, person: Person | None = None, **kw) -> OutboxMessage:
    row_id = enqueue(
        session,
        key=key,
        kind=kw.pop("kind", "digest"),
        person=person,
        to_address=kw.pop("to_address", None if person else "someone@example.cn"),
        rendered=kw.pop("rendered", RENDERED),
        send_after=kw.pop("send_after", now),
        now=now,
    )
    assert row_id is not None
    return session.get(OutboxMessage, row_id)


def rows(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def together(count: int, work: Callable[[int], object]) -> list:
    """Run `work(i)` in `count` threads released at the same instant; re-raise any error."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return results


# --- enqueue ---------------------------------------------------------------------------


def test_enqueueing_the_same_key_twice_stores_one_row(session, now):
    person = add_person(session, now, "李明", "liming@example.cn")
    first = put(session, now, "digest:officer:1:2026-09-14", person)

    again = enqueue(
        session,
        key="digest:officer:1:2026-09-14",
        kind="digest",
        person=person,
        rendered=Rendered("另一个主题", "x", "y"),
        send_after=now,
        now=now,
    )
    session.commit()

    assert again is None
    stored = session.exec(select(OutboxMessage)).all()
    assert [(r.id, r.subject, r.state) for r in stored] == [
        (first.id, "【整改提醒】测试", MessageState.PENDING)
    ]
    assert stored[0].to_address == "liming@example.cn"


def test_concurrent_enqueues_of_one_key_store_one_row(engine, now):
    def work(i: int):
        with transaction(engine) as session:
            row = enqueue(
                session,
                key="assigned:7:1",
                kind="assigned",
                person=None,
                to_address=f"p{i}@example.cn",
                rendered=RENDERED,
                send_after=now,
                now=now,
            )
            return row

    results = together(6, work)

    assert len([r for r in results if r is not None]) == 1
    assert len(rows(engine)) == 1


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        (None, "收件人没有登记邮箱地址"),
        ("", "收件人没有登记邮箱地址"),
        ("liming", "邮箱地址无效"),
        ("liming@localhost", "邮箱地址无效"),
        ("li ming@example.cn", "邮箱地址无效"),
        ("liming@example.cn\r\nBcc: spy@evil.cn", "邮箱地址无效"),
        ("li..ming@example.cn", "邮箱地址无效"),
    ],
)
def test_a_person_without_a_usable_email_gets_a_failed_row_with_the_reason(
    session, now, email, reason
):
    person = add_person(session, now, "李明", None)

    row = put(session, now, "digest:officer:1:2026-09-14", person, to_address=email)

    assert row.state == MessageState.FAILED
    assert reason in row.last_error
    assert "\n" not in row.to_address
    assert claim(session, now + timedelta(days=1), 10) == []


def test_valid_addresses_pass():
    for address in (
        "liming@example.cn",
        "li.ming+zg@mail.example.gov.cn",
        "a_b-c@x-y.com",
        "zgb@xn--55qx5d.xn--fiqs8s",  # 公司.中国
    ):
        assert address_problem(address) is None


def test_a_template_error_becomes_that_messages_failure_and_the_others_go_on(session, now):
    person = add_person(session, now, "李明", "liming@example.cn")
    good = {"person_name": "李明", "task": _task(), "actor_name": "王芳"}
    bad = {"person_name": "李明"}  # no task: the template cannot render

    ids = [
        enqueue_message(
            session,
            key=f"approved:{i}",
            kind="approved",
            person=person,
            context=context,
            send_after=now,
            now=now,
            base_url=BASE_URL,
        )
        for i, context in enumerate([good, bad, good])
    ]
    results = [session.get(OutboxMessage, row_id) for row_id in ids]

    assert [r.state for r in results] == [
        MessageState.PENDING,
        MessageState.FAILED,
        MessageState.PENDING,
    ]
    assert "邮件模板 approved 渲染失败" in results[1].last_error
    assert results[0].subject == "【已销号】1.1 测试问题"
    bodies = bodies_of(session, ids)
    assert set(bodies) == {ids[0], ids[2]}  # the failed one has no content to keep
    assert "李明同志" in bodies[ids[0]].text
    assert "测试问题" in bodies[ids[0]].html


def test_a_key_enqueued_twice_keeps_the_first_body_only(session, now):
    first = put(session, now, "digest:officer:1:2026-09-14")
    again = enqueue(
        session,
        key="digest:officer:1:2026-09-14",
        kind="digest",
        person=None,
        to_address="someone@example.cn",
        rendered=Rendered("另一个主题", "另一个正文", "<p>另一个</p>"),
        send_after=now,
        now=now,
    )

    assert again is None
    stored = session.exec(select(OutboxBody)).all()
    assert [(b.message_id, b.text, b.html) for b in stored] == [
        (first.id, RENDERED.text, RENDERED.html)
    ]


def _task():
    from notifications.render import TaskRef

    return TaskRef(id=1, number="1.1", title="测试问题")


# --- claim -------------------------------------------------------------------------------


def test_claim_takes_due_pending_rows_only(session, now):
    due = put(session, now, "due", send_after=now - timedelta(minutes=1))
    later = put(session, now, "later", send_after=now + timedelta(minutes=1))
    failed = put(session, now, "failed", to_address="nobody")
    sent = put(session, now, "sent")
    claim(session, now, 10)  # takes "due" and "sent"
    mark_sent(session, session.get(OutboxMessage, sent.id), now)
    due_again = put(session, now, "due-2")
    session.commit()

    claimed = claim(session, now, 10)

    assert [row.id for row in claimed] == [due_again.id]
    assert claimed[0].state == MessageState.SENDING
    assert claimed[0].claimed_at == now
    states = {r.key: r.state for r in session.exec(select(OutboxMessage))}
    assert states == {
        "due": MessageState.SENDING,
        "later": MessageState.PENDING,
        "failed": MessageState.FAILED,
        "sent": MessageState.SENT,
        "due-2": MessageState.SENDING,
    }
    assert {due.key, later.key, failed.key} <= set(states)


def test_claim_respects_its_limit_oldest_first(session, now):
    ids = [
        put(session, now, f"k{i}", send_after=now - timedelta(minutes=10 - i)).id for i in range(5)
    ]
    session.commit()

    assert [row.id for row in claim(session, now, 2)] == ids[:2]
    assert [row.id for row in claim(session, now, 10)] == ids[2:]


def test_a_claim_stops_when_the_sizes_add_up_but_always_takes_one(session, now):
    def sized(key: str, chars: int, minutes: int) -> int:
        rendered = Rendered("主题", "正" * chars, "")
        return put(
            session, now, key, rendered=rendered, send_after=now - timedelta(minutes=minutes)
        ).id

    a, b, c = sized("a", 600, 5), sized("b", 600, 4), sized("c", 100, 3)
    huge, after = sized("d", 5000, 2), sized("e", 100, 1)
    session.commit()

    # A row is taken while the rows before it in the claim add up to less than max_size.
    assert [r.id for r in claim(session, now, 10, max_size=1000)] == [a, b]
    assert [r.id for r in claim(session, now, 10, max_size=1000)] == [c, huge]
    assert [r.id for r in claim(session, now, 10, max_size=1000)] == [after]
    assert [r.id for r in claim(session, now, 10, max_size=1000)] == []
    assert session.get(OutboxMessage, huge).size == 5000


def test_two_sessions_claiming_at_once_never_get_the_same_row(engine, now):
    with transaction(engine) as session:
        for i in range(60):
            put(session, now, f"row-{i}")

    def work(i: int) -> list[int]:
        with transaction(engine) as session:
            return [row.id for row in claim(session, now, 9)]

    taken: list[int] = []
    for _ in range(20):  # rounds until every row is taken; claimers race in each round
        taken.extend(row_id for ids in together(4, work) for row_id in ids)
        if len(set(taken)) >= 60:
            break

    assert len(taken) == len(set(taken)) == 60
    assert {r.state for r in rows(engine)} == {MessageState.SENDING}


def test_a_row_left_sending_by_a_crash_is_claimed_again_after_the_lease(engine, now):
    with transaction(engine) as session:
        put(session, now, "crashed")
    with transaction(engine) as session:
        (dead_claim,) = claim(session, now, 10)  # the run "dies" here: never settled

    with transaction(engine) as session:
        assert claim(session, now + LEASE - timedelta(seconds=1), 10) == []
    later = now + LEASE + timedelta(seconds=1)
    with transaction(engine) as session:
        (recovered,) = claim(session, later, 10)
    with transaction(engine) as session:
        assert claim(session, later, 10) == []  # recovered once, not twice

    assert recovered.id == dead_claim.id
    assert recovered.claimed_at == later
    with transaction(engine) as session:
        assert mark_sent(session, dead_claim, later) is None  # the dead run's claim is void
        assert mark_sent(session, recovered, later) == MessageState.SENT
    assert rows(engine)[0].state == MessageState.SENT


def test_two_sessions_recovering_the_same_stale_row_take_it_once(engine, now):
    with transaction(engine) as session:
        for i in range(10):
            put(session, now, f"row-{i}")
    with transaction(engine) as session:
        claim(session, now, 10)
    later = now + LEASE + timedelta(minutes=1)

    def work(i: int) -> list[int]:
        with transaction(engine) as session:
            return [row.id for row in claim(session, later, 10)]

    results = together(4, work)

    taken = [row_id for ids in results for row_id in ids]
    assert len(taken) == len(set(taken)) == 10


# --- settle ------------------------------------------------------------------------------


def test_retries_back_off_and_give_up_after_the_last_attempt(engine, now):
    with transaction(engine) as session:
        put(session, now, "flaky")
    moment, waits = now, []
    for _ in range(MAX_ATTEMPTS):
        with transaction(engine) as session:
            (row,) = claim(session, moment, 1)
            state = mark_retry(session, row, moment, "451 4.7.1 稍后再试")
        stored = rows(engine)[0]
        if state == MessageState.FAILED:
            break
        waits.append(stored.send_after - moment)
        moment = stored.send_after

    assert waits[:5] == [timedelta(minutes=m) for m in (1, 5, 15, 60, 60)]
    assert state == MessageState.FAILED
    assert stored.attempts == MAX_ATTEMPTS
    assert f"已尝试 {MAX_ATTEMPTS} 次仍未发出" in stored.last_error
    assert "451 4.7.1" in stored.last_error


def test_a_permanent_failure_keeps_the_servers_reply(engine, now):
    with transaction(engine) as session:
        put(session, now, "refused")
    with transaction(engine) as session:
        (row,) = claim(session, now, 1)
        assert mark_failed(session, row, now, "550 5.1.1 用户不存在") == MessageState.FAILED

    stored = rows(engine)[0]
    assert (stored.state, stored.attempts, stored.last_error) == (
        MessageState.FAILED,
        1,
        "550 5.1.1 用户不存在",
    )


# --- requeue (rectify mail retry) --------------------------------------------------------------


def test_requeue_only_takes_failed_messages(session, now):
    pending = put(session, now, "pending")
    sent = put(session, now, "sent")
    sending = put(session, now, "sending", send_after=now - timedelta(minutes=1))
    claim(session, now - timedelta(seconds=30), 1)
    claim(session, now, 5)
    mark_sent(session, session.get(OutboxMessage, sent.id), now)
    pending_row = session.get(OutboxMessage, pending.id)
    mark_retry(session, pending_row, now, "451 later")
    session.commit()

    for row, label in ((pending, "待发送"), (sent, "已发送"), (sending, "发送中")):
        with pytest.raises(Refused, match=f"状态是“{label}”"):
            requeue(session, row.id, now)
    with pytest.raises(NotFound):
        requeue(session, 999_999, now)


def test_requeue_sends_a_failed_message_again_now(session, now):
    row = put(session, now, "refused")
    claim(session, now, 1)
    mark_failed(session, row, now, "550 no such user")
    session.commit()
    later = now + timedelta(hours=3)

    requeued = requeue(session, row.id, later)

    assert (requeued.state, requeued.attempts, requeued.send_after) == (
        MessageState.PENDING,
        0,
        later,
    )
    assert [r.id for r in claim(session, later, 5)] == [row.id]


def test_requeue_uses_the_persons_corrected_address(session, now):
    person = add_person(session, now, "李明", None)
    row = put(session, now, "digest:1", person)
    session.commit()

    with pytest.raises(Refused, match="收件人没有登记邮箱地址"):
        requeue(session, row.id, now)
    person.email = "liming@example.cn"
    session.flush()
    requeued = requeue(session, row.id, now)

    assert (requeued.state, requeued.to_address) == (MessageState.PENDING, "liming@example.cn")


def test_a_message_that_could_not_be_rendered_is_not_requeued(session, now):
    row_id = enqueue_message(
        session,
        key="approved:1",
        kind="approved",
        person=None,
        to_address="liming@example.cn",
        context={},
        send_after=now,
        now=now,
        base_url=BASE_URL,
    )

    with pytest.raises(Refused, match="内容未能生成"):
        requeue(session, row_id, now)
