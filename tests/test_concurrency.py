"""Many processes on one PostgreSQL: two desks approving one task at the same moment apply the
approval once; the loser is told the task changed meanwhile, and nothing of its is written.

Two sessions on two connections, as two desk processes have: the first holds the task's
row (its UPDATE is flushed, not committed) while the second tries the same approval."""

import threading
import time

import pytest
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.db import make_engine, upgrade
from models.errors import ChangedMeanwhile
from models.ledger import Task
from models.people import Person
from models.stages import Action, Stage
from models.workflow import apply
from tests.conftest import _postgres_database
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
