"""Migrations build the whole schema from nothing, exactly as the models describe it."""

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from models.db import _alembic_config, current_revision, head_revision, make_engine, upgrade
from models.tables import metadata
from tests.conftest import NOW, _postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path) -> Iterator[Engine]:
    """A brand-new database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    databases = _postgres_database()
    engine = make_engine(next(databases))
    try:
        yield engine
    finally:
        engine.dispose()
        databases.close()


def schema_differences(engine: Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def snapshot(engine: Engine) -> dict[str, list]:
    """Tables with their columns, indexes and constraints, as the database reports them."""
    inspector = inspect(engine)
    return {
        table: [
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(str(sorted(i.items())) for i in inspector.get_indexes(table)),
            sorted(str(sorted(u.items())) for u in inspector.get_unique_constraints(table)),
            sorted(str(sorted(f.items())) for f in inspector.get_foreign_keys(table)),
        ]
        for table in inspector.get_table_names()
    }


def test_an_empty_database_has_no_revision(empty_engine):
    assert inspect(empty_engine).get_table_names() == []
    assert current_revision(empty_engine) is None


def test_upgrade_creates_every_table_of_the_models(empty_engine):
    upgrade(empty_engine)

    tables = set(inspect(empty_engine).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_the_migrated_schema_matches_the_models_exactly(empty_engine):
    upgrade(empty_engine)

    assert schema_differences(empty_engine) == []


def test_upgrade_leaves_the_database_at_the_head_revision(empty_engine):
    upgrade(empty_engine)

    assert head_revision() is not None
    assert current_revision(empty_engine) == head_revision()


def test_upgrading_twice_changes_nothing(empty_engine):
    upgrade(empty_engine)
    before = snapshot(empty_engine)

    upgrade(empty_engine)

    assert snapshot(empty_engine) == before
    assert current_revision(empty_engine) == head_revision()
    assert schema_differences(empty_engine) == []


def test_moving_outbox_bodies_to_their_own_table_keeps_every_message(empty_engine):
    """0002 kept text and HTML on the message row; 0003 moves them and loses nothing."""
    config = _alembic_config(empty_engine)
    command.upgrade(config, "0002")
    row = {
        "kind": "digest", "person_id": None, "to_address": "a@example.cn", "subject": "主题",
        "state": "sent", "attempts": 1, "send_after": NOW, "created_at": NOW,
    }  # fmt: skip
    with empty_engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO outbox_message (id, key, kind, person_id, to_address, subject, text,"
                " html, state, attempts, send_after, created_at) VALUES (:id, :key, :kind,"
                " :person_id, :to_address, :subject, :text, :html, :state, :attempts,"
                " :send_after, :created_at)"
            ),
            [
                {**row, "id": 1, "key": "k1", "text": "正文一\n", "html": "<p>一</p>"},
                {**row, "id": 2, "key": "k2", "text": "", "html": "", "state": "failed"},
            ],
        )

    command.upgrade(config, "head")

    with empty_engine.connect() as db:
        bodies = db.execute(text("SELECT message_id, text, html FROM outbox_body")).all()
        messages = db.execute(
            text("SELECT id, key, state, size FROM outbox_message ORDER BY id")
        ).all()
    assert [tuple(b) for b in bodies] == [(1, "正文一\n", "<p>一</p>")]
    assert [tuple(m) for m in messages] == [(1, "k1", "sent", 12), (2, "k2", "failed", 0)]
    assert schema_differences(empty_engine) == []

    command.downgrade(config, "0002")  # and back, with the bodies on their rows again
    with empty_engine.connect() as db:
        back = db.execute(text("SELECT id, text, html FROM outbox_message ORDER BY id")).all()
    assert [tuple(b) for b in back] == [(1, "正文一\n", "<p>一</p>"), (2, "", "")]


@pytest.mark.parametrize("empty_engine", ["postgresql"], indirect=True)
def test_postgresql_compresses_outbox_bodies_with_lz4(empty_engine):
    upgrade(empty_engine)

    with empty_engine.connect() as db:
        methods = db.execute(
            text(
                "SELECT attname, attcompression FROM pg_attribute "
                "WHERE attrelid = 'outbox_body'::regclass AND attname IN ('text', 'html')"
            )
        ).all()
    assert sorted(tuple(m) for m in methods) == [("html", "l"), ("text", "l")]
