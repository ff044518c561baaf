"""Driving the `rectify` command in-process, each test with its own home and empty database."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

import cli
from models.db import make_engine
from models.stages import Stage


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@dataclass
class Rectify:
    """One isolated installation: its own RECTIFY_HOME and its own (empty) database."""

    home: Path
    url: str
    capsys: pytest.CaptureFixture
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: object) -> Result:
        self.capsys.readouterr()
        code = cli.main([str(arg) for arg in args])
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *args: object) -> Result:
        result = self(*args)
        assert result.code == 0, result.err
        return result

    def scalar(self, sql: str, **params: object):
        engine = make_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(sql), params).scalar_one()
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: object) -> None:
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql), params)
        finally:
            engine.dispose()

    def count(self, table: str) -> int:
        return self.scalar(f'SELECT COUNT(*) FROM "{table}"')

    def counts(self) -> dict[str, int]:
        tables = ("task", "person", "person_role", "department", "audit_event", "evidence")
        return {table: self.count(table) for table in tables}

    def evidence_files(self) -> set[Path]:
        folder = self.home / "evidence"
        return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()

    def tasks(self, stage: Stage) -> list[dict]:
        return self.ok("task", "list", "--stage", stage.value, "--json").json

    def show(self, task_id: int) -> dict:
        return self.ok("task", "show", task_id, "--json").json


def clear_rectify_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith("RECTIFY_") and not name.startswith("RECTIFY_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def rectify(request, database_url, tmp_path, monkeypatch, capsys) -> Rectify:
    clear_rectify_environment(monkeypatch)
    home = tmp_path / "home"
    monkeypatch.setenv("RECTIFY_HOME", str(home))
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'db' / 'rectify.db'}"  # the shared session file is reused
    else:
        request.getfixturevalue("engine")  # empties every table of the (migrated) database
        url = database_url
    monkeypatch.setenv("RECTIFY_DATABASE_URL", url)
    return Rectify(home=home, url=url, capsys=capsys, monkeypatch=monkeypatch)


@pytest.fixture
def demo(rectify) -> Rectify:
    result = rectify.ok("init", "--demo")
    assert "已载入演示台账：14 项整改任务" in result.out
    return rectify


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    for fragment in fragments:
        assert fragment in result.err


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
