"""Fixtures: every database test runs on SQLite and on PostgreSQL, both migrated by Alembic."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from models.db import make_engine, upgrade
from models.tables import metadata
from tests.cli_harness import demo, rectify  # noqa: F401  (fixtures for the CLI tests)
from tests.desk_harness import desk, desk_factory  # noqa: F401  (fixtures for the desk tests)
from tests.factories import World
from tests.scaled_harness import postgres_database

POSTGRES_ADMIN_URL = os.environ.get(
    "RECTIFY_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)  # Monday 09:30 in Shanghai


def _postgres_database() -> Iterator[str]:
    """A throw-away database on the test server; it must be running (make test starts it)."""
    try:
        psycopg.connect(POSTGRES_ADMIN_URL).close()
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}); "
            "run `make test`, which installs and starts it"
        )
    with postgres_database(POSTGRES_ADMIN_URL, "rectify_test") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """A migrated, empty database URL for each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'rectify.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def migrated_engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(text(f'DELETE FROM "{table.name}"'))


@pytest.fixture
def engine(migrated_engine) -> Iterator[Engine]:
    _empty_all_tables(migrated_engine)
    yield migrated_engine


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.rollback()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def world(session, now, tmp_path) -> World:
    return World(session, now, home=tmp_path / "home")
