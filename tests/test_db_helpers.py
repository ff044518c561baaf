"""Database helpers that behave the same on SQLite and PostgreSQL."""

import fcntl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

import models.db
from models.db import (
    IN_BATCH,
    among,
    checkpoints_in_background,
    make_engine,
    read_unless_changed,
    refresh_statistics,
    transaction,
    upgrade,
)
from models.people import Department, Person

ROOT = Path(__file__).resolve().parents[1]


def test_among_finds_exactly_the_listed_rows_however_many_there_are(session, now):
    session.add_all(Person(name=f"人员{i}", created_at=now) for i in range(IN_BATCH + 20))
    session.flush()
    ids = sorted(session.exec(select(Person.id)).all())
    wanted = [*ids[::2], max(ids) + 1000]  # more than one batch, and an id that is not there

    found = [
        person_id
        for condition in among(session, Person.id, wanted)
        for person_id in session.exec(select(Person.id).where(condition))
    ]

    assert sorted(found) == ids[::2]
    assert list(among(session, Person.id, [])) == []


# --- SQLite: one writer at a time, queued in-process; the planner's statistics ---------------


def test_writers_of_one_process_queue_for_a_sqlite_file_instead_of_failing_on_its_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    upgrade(make_engine(url))
    holder, impatient = make_engine(url), make_engine(url)

    @event.listens_for(impatient, "connect")
    def _no_patience(dbapi_connection, _record):  # SQLite's own wait, switched off
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    inside, outcome = threading.Event(), []

    def hold_the_write_lock():
        with transaction(holder) as session:
            session.add(Department(name="先来的"))
            session.flush()  # BEGIN IMMEDIATE taken: SQLite's write lock is held
            inside.set()
            time.sleep(0.3)

    def write_meanwhile():
        inside.wait()
        try:
            with transaction(impatient) as session:
                session.add(Department(name="后到的"))
            outcome.append("written")
        except OperationalError as error:
            outcome.append(str(error))

    threads = [
        threading.Thread(target=hold_the_write_lock),
        threading.Thread(target=write_meanwhile),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcome == ["written"]  # it waited for the first writer, not for "database is locked"
    with Session(holder) as session:
        assert sorted(session.exec(select(Department.name))) == ["先来的", "后到的"]


def test_writers_of_other_processes_queue_for_a_sqlite_file_too(tmp_path):
    """Desk processes and a CLI import on one file: the second waits for the first and goes
    in when it commits, instead of SQLite's polling (here switched off: it would fail)."""
    url = f"sqlite:///{tmp_path / 'one.db'}"
    upgrade(make_engine(url))
    other = f"""
from sqlalchemy import event
from models.db import make_engine, transaction
from models.people import Department
engine = make_engine({url!r})
@event.listens_for(engine, "connect")
def _no_patience(dbapi_connection, _record):
    dbapi_connection.execute("PRAGMA busy_timeout=0")
print("ready", flush=True)
with transaction(engine) as session:
    session.add(Department(name="另一进程的"))
print("written", flush=True)
"""
    with transaction(make_engine(url)) as session:
        session.add(Department(name="先来的"))
        session.flush()  # SQLite's write lock is held
        lock = tmp_path / "one.db.writer-lock"
        with open(lock, "rb") as queue, pytest.raises(BlockingIOError):  # the queue's too
            fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
        writer = subprocess.Popen(
            [sys.executable, "-c", other], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout.readline() == "ready\n"
        time.sleep(0.5)  # it is at the queue now
        assert writer.poll() is None  # waiting, not failed
    assert writer.wait(timeout=30) == 0
    assert writer.stdout.read() == "written\n"
    with Session(make_engine(url)) as session:
        assert sorted(session.exec(select(Department.name))) == ["先来的", "另一进程的"]


def test_readers_never_wait_for_a_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    upgrade(make_engine(url))
    writer, reader = make_engine(url), make_engine(url, read_only=True)
    inside, done, read = threading.Event(), threading.Event(), []

    def hold():
        with transaction(writer) as session:
            session.add(Department(name="写入中"))
            session.flush()
            inside.set()
            done.wait(timeout=30)

    holding = threading.Thread(target=hold)
    holding.start()
    inside.wait()
    looking = threading.Thread(target=lambda: read.append(_department_count(reader)), daemon=True)
    looking.start()
    looking.join(timeout=10)
    done.set()
    holding.join(timeout=30)
    assert read == [0]  # read beside the open write, and saw only what was committed


def _department_count(engine) -> int:
    with transaction(engine) as session:
        return len(session.exec(select(Department.id)).all())


def test_statistics_are_refreshed_on_sqlite_and_left_to_postgresql(engine, session, now):
    session.add_all(Person(name=f"人员{i}", created_at=now) for i in range(50))
    session.commit()
    refresh_statistics(engine)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            tables = connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1").scalars()
            assert "person" in set(tables)


# --- reads remembered until anything is written; the log checkpointed in the background ------


def test_a_remembered_read_is_read_again_once_anyone_has_written(engine, now):
    reader = make_engine(engine.url.render_as_string(hide_password=False), read_only=True)
    reads = []

    def count_people(session) -> int:
        reads.append(1)
        return len(session.exec(select(Person.id)).all())

    def remembered_count() -> int:
        with transaction(reader) as session:
            return read_unless_changed(session, "people", lambda: count_people(session))

    try:
        assert remembered_count() == 0
        if engine.dialect.name == "sqlite":  # PostgreSQL's log also moves with the server's
            assert remembered_count() == 0  # own housekeeping, so it may read again anyway
            assert len(reads) == 1
        with transaction(engine) as session:  # another connection commits
            session.add(Person(name="新来的", created_at=now))
        assert remembered_count() == 1
        with transaction(engine) as session:  # and this connection's own writes count too
            seen = [read_unless_changed(session, "people", lambda: count_people(session))]
            session.add(Person(name="又一个", created_at=now))
            session.flush()
            seen.append(read_unless_changed(session, "people", lambda: count_people(session)))
        assert seen == [1, 2]
    finally:
        reader.dispose()


def test_sqlite_commits_leave_the_log_to_a_checkpointing_thread(tmp_path, monkeypatch):
    engine = make_engine(f"sqlite:///{tmp_path / 'rectify.db'}")
    upgrade(engine)
    checkpoints = threading.Semaphore(0)
    real_checkpoint = models.db.checkpoint

    def counted(engine_) -> None:
        real_checkpoint(engine_)
        checkpoints.release()

    monkeypatch.setattr(models.db, "checkpoint", counted)
    with checkpoints_in_background(engine, every=0.01):
        with transaction(engine) as session:
            session.add(Department(name="整改办"))
            setting = session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert setting == 0  # no commit checkpoints
        assert checkpoints.acquire(timeout=10)  # the thread does
    with engine.connect() as connection:  # once it has stopped, commits checkpoint again
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() > 0
    assert _department_count(engine) == 1
    engine.dispose()
