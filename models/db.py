"""Engines, transactions and migrations, the same on SQLite and PostgreSQL."""

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary, WeakSet

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from models.errors import RectifyError

MIGRATIONS = Path(__file__).with_name("migrations")
T = TypeVar("T")


# SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to
# 100 ms each): 20 approvals at once on the desk waited up to 9 s. Writers queue on a lock
# per database file instead, and go in the moment it is free: threads of one process on a
# lock in memory, processes on this machine (desk processes, a CLI import) on an flock of a
# file beside the database. SQLite's own lock (busy_timeout) still guards anything else.
class WriterLock:
    """The writers' queue for one SQLite file, across threads and processes."""

    def __init__(self, database: Path | None) -> None:
        """`database` None: an in-memory database, which only this process can open."""
        self.path = database and database.with_name(database.name + ".writer-lock")
        self._threads = threading.RLock()
        self._depth = 0  # nested units of work in the thread holding it
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._depth == 0 and self.path is not None:
            try:
                # Opened anew each time: a descriptor inherited across fork would share the
                # lock with the parent instead of excluding it.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
            self._fd = fd
        self._depth += 1

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None
        self._threads.release()


_file_locks: dict[str, WriterLock] = {}
_checkpointing: "WeakSet[Engine]" = WeakSet()  # SQLite engines with a checkpointing thread
SQLITE_AUTOCHECKPOINT = 1000  # pages of log after which a commit checkpoints (SQLite's default)
_writer_locks: "WeakKeyDictionary[Engine, WriterLock]" = WeakKeyDictionary()


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine whose SQLite transactions never lose updates (WAL + BEGIN IMMEDIATE).

    A read-only engine (the desk's pages) begins deferred transactions that refuse writes, so
    readers never wait for the write lock and never take it.
    """
    if not url.startswith("sqlite"):
        if read_only:
            return create_engine(
                url, pool_pre_ping=True, execution_options={"postgresql_readonly": True}
            )
        return create_engine(url, pool_pre_ping=True)
    database = None
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database = Path(url.removeprefix("sqlite:///")).resolve()
        database.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        # Who copies the log back into the database: commits, or a thread of their own.
        wanted = 0 if engine in _checkpointing else SQLITE_AUTOCHECKPOINT
        if record.info.get("autocheckpoint") != wanted:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={wanted}")
            record.info["autocheckpoint"] = wanted

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # Take the write lock up front: a deferred BEGIN fails under concurrency.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    if not read_only:
        key = str(database or engine.url)
        if key not in _file_locks:
            _file_locks[key] = WriterLock(database)
        _writer_locks[engine] = _file_locks[key]
    return engine


@contextmanager
def checkpoints_in_background(engine: Engine, every: float = 1.0) -> Iterator[None]:
    """SQLite: copy the write-ahead log back into the database from a thread of its own.

    By default the commit that takes the log past 1,000 pages does it, inside the write
    lock: on the desk under a stream of approvals, one commit in about seventy took 12 ms
    instead of 0.4 while every other writer waited for it. Connections checked out meanwhile
    leave it to this thread (`make_engine`'s checkout hook), which checkpoints without
    waiting for readers or writers. Other databases: nothing to do.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            checkpoint(engine)

    _checkpointing.add(engine)  # connections checked out from now on leave it to the thread
    thread = threading.Thread(target=run, name="rectify-wal-checkpoints", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        _checkpointing.discard(engine)
        checkpoint(engine)


def checkpoint(engine: Engine) -> None:
    """One checkpoint that waits for nobody (SQLite); a busy or failing one is tried again
    by the next call, and commits go on meanwhile."""
    connection = engine.raw_connection()
    try:
        connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass
    finally:
        connection.close()


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with (
        _writer_locks.get(engine) or nullcontext(),
        Session(engine, expire_on_commit=False) as session,
    ):
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# What changes whenever anything is written to the database, read in the reader's own
# transaction. SQLite: data_version moves when another connection commits (and, inside a
# transaction, stays at its snapshot's), total_changes() when this one writes. PostgreSQL:
# the WAL insert position moves with every write of the server, commits included.
_DATABASE_STATE = {
    "sqlite": text("SELECT data_version, total_changes() FROM pragma_data_version()"),
    "postgresql": text(
        "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
        " ELSE pg_current_wal_insert_lsn() END"
    ),
}
REMEMBERED_READS = 256  # per connection (SQLite) or engine; past this the memory starts over
_reads_by_engine: "WeakKeyDictionary[Engine, dict[str, Any]]" = WeakKeyDictionary()


def read_unless_changed(session: Session, key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, or what it gave on this connection before if nothing has been written to
    the database since.

    For reads that are costly and asked again and again while nothing changes: the
    ledger's exact counts walk up to 100,000 index entries (2-6 ms) for each page of a
    broad filter. Any write anywhere, by anyone, forgets them, so nothing stale is shown.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    state = connection.execute(_DATABASE_STATE[dialect]).one()
    # SQLite's counters are the connection's own; PostgreSQL's log position is the server's,
    # so there one memory serves every connection of the engine.
    holder = (
        connection.info
        if dialect == "sqlite"
        else _reads_by_engine.setdefault(connection.engine, {})
    )
    remembered = holder.setdefault("rectify_reads", {})
    kept = remembered.get(key)
    if kept is not None and kept[0] == state:
        return kept[1]
    value = read()
    if len(remembered) >= REMEMBERED_READS:
        remembered.clear()
    remembered[key] = (state, value)
    return value


IN_BATCH = 5000  # values per `IN (…)` where each value is a parameter of its own


def among(session: Session, column: Any, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions for `column IN values`, as few as the database needs: one on PostgreSQL,
    the values bound as one array (psycopg parses a query of thousands of parameters in
    Python every time: 0.4 s instead of 0.1 s for 16,667 ids); batches elsewhere."""
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return
    for start in range(0, len(values), IN_BATCH):
        yield column.in_(values[start : start + IN_BATCH])


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Create or upgrade every table; migrations are the only way the schema changes."""
    command.upgrade(_alembic_config(engine), "head")


def refresh_statistics(engine: Engine) -> None:
    """ANALYZE a SQLite database, so its planner knows how selective each index is.

    Without statistics SQLite guesses, and guessed wrong on the ledger's light filters:
    it sorted 80,000 matching ids through an index instead of reading the table in order
    (17 ms against 0.1 ms per page). A full ANALYZE of 100,000 tasks takes 0.2 s; it runs
    when Rectify starts (`rectify run`) and after the ledger grows by an import. PostgreSQL
    keeps its own statistics (autovacuum).
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(
        _alembic_config(create_engine("sqlite://"))
    ).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current_schema(engine: Engine) -> None:
    """Refuse to work on a database that `rectify init` has not brought up to date."""
    current = current_revision(engine)
    if current is None:
        raise RectifyError("数据库尚未初始化，请先运行 rectify init")
    if current != head_revision():
        raise RectifyError("数据库结构不是最新版本，请先运行 rectify init 升级")
