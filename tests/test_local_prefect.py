"""The local Prefect API's database: each new data folder starts from a migrated copy, so
the first `rectify run` does not wait for Prefect's migration chain (issue 5: ready < 20 s)."""

import sqlite3
from contextlib import closing

from flows import local_prefect
from flows.local_prefect import seed_database


def alembic_head(database) -> str:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_a_new_home_gets_a_migrated_prefect_database_and_a_second_home_the_same(tmp_path):
    assert seed_database(tmp_path / "one")
    assert seed_database(tmp_path / "two")
    first, second = tmp_path / "one" / "prefect.db", tmp_path / "two" / "prefect.db"
    assert (
        alembic_head(first) == alembic_head(second) == alembic_head(local_prefect.template_path())
    )
    with closing(sqlite3.connect(first)) as db:  # the schema, not an empty file
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert {"flow", "flow_run", "task_run", "deployment", "log"} <= tables
    assert not list((tmp_path / "one").glob("*.partial"))


def test_an_existing_prefect_database_is_never_replaced(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "prefect.db").write_bytes(b"flow runs of last year")
    assert not seed_database(home)
    assert (home / "prefect.db").read_bytes() == b"flow runs of last year"


def test_no_template_possible_leaves_prefect_to_migrate_on_its_own(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(local_prefect, "template_path", lambda: blocker / "prefect-x.db")
    home = tmp_path / "prefect"
    assert not seed_database(home)
    assert not (home / "prefect.db").exists()
