"""Many processes on one PostgreSQL, played by sessions on separate connections as desk and
worker processes have them: two desks approving one task at the same moment apply the
approval once (the loser is told the task changed meanwhile, nothing of its is written);
an audit event committed after a later one was read is still read, once."""

import threading
import time

import pytest
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.audit_feed import mark_read, unread
from models.db import make_engine, transaction, upgrade
from models.errors import ChangedMeanwhile
from models.ledger import Task
from models.people import Department, Person
from models.stages import Action, Stage
from models.workflow import apply
from tests.conftest import _empty_all_tables, _postgres_database
from tests.factories import World


@pytest.fixture(scope="module")
def engine():
    """PostgreSQL only: SQLite has one writer by design (one `rectify run` process)."""
    for url in _postgres_database():
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def session(engine):
    _empty_all_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.rollback()


@pytest.fixture
def pg_world(session, now, tmp_path) -> World:
    return World(session, now, home=tmp_path / "home")


def approve(engine, task_id: int, office_id: int, version: int, now) -> Session:
    session = Session(engine)
    task = session.get(Task, task_id)
    apply(session, task, Action.APPROVE, session.get(Person, office_id), now,
          expected_version=version)  # fmt: skip
    return session


def test_two_desks_approving_one_task_at_once_apply_it_once(engine, pg_world, session, now):
    task = pg_world.task_at(Stage.EVIDENCE)
    session.commit()
    task_id, office_id, version = task.id, pg_world.office.id, task.version
    outcome: dict[str, object] = {}

    first = approve(engine, task_id, office_id, version, now)  # holds the row, uncommitted

    def second_desk() -> None:
        try:
            approve(engine, task_id, office_id, version, now).commit()
            outcome["second"] = "applied"
        except ChangedMeanwhile as refused:
            outcome["second"] = str(refused)

    other = threading.Thread(target=second_desk)
    other.start()
    time.sleep(0.5)
    assert other.is_alive(), "the second approval must wait for the first desk's row lock"
    first.commit()
    first.close()
    other.join(timeout=30)

    assert "已被他人修改" in str(outcome["second"])
    with Session(engine) as check:
        assert check.get(Task, task_id).stage == Stage.SIGNED_OFF
        approvals = check.exec(
            select(AuditEvent).where(
                AuditEvent.task_id == task_id, AuditEvent.action == Action.APPROVE
            )
        ).all()
        assert len(approvals) == 1


def assign(session: Session, world: World, task_id: int, now) -> int:
    """The 整改办 assigns a task in `session` (flushed, not committed); the event's id."""
    task = session.get(Task, task_id)
    event = apply(
        session, task, Action.ASSIGN, session.get(Person, world.office.id), now,
        officer=session.get(Person, world.officer.id), leader=session.get(Person, world.leader.id),
        lead_department=session.get(Department, world.department.id), support_departments=[],
        deadline=world.deadline, deadline_class=task.deadline_class,
    )  # fmt: skip
    return event.id


def read_all(engine, now) -> list[int]:
    """One reader's pass over what is new: the ids it read (the cursor moves past them)."""
    with transaction(engine) as session:
        cursor, events = unread(session, "probe", now, 1000)
        mark_read(session, cursor, events, now)
    return [event.id for event in events]


def test_an_event_that_commits_after_a_later_one_was_read_is_still_read_once(
    engine, pg_world, session, now
):
    first, second = pg_world.new_task(), pg_world.new_task()
    session.commit()
    read_all(engine, now)  # the ledger's own events so far

    slow = Session(engine)  # a desk whose transaction takes the smaller id and commits last
    early = assign(slow, pg_world, first.id, now)
    with Session(engine) as fast:
        late = assign(fast, pg_world, second.id, now)
        fast.commit()
    assert early < late

    while_open = read_all(engine, now)
    slow.commit()
    slow.close()
    after = read_all(engine, now)

    assert late not in while_open or early not in while_open  # never past an open event…
    assert sorted(while_open + after) == [early, late]  # …and each read exactly once
    assert read_all(engine, now) == []
