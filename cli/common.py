"""Plumbing shared by the commands: consoles, the unit of work, parsing what users type."""

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session

from models.calendar import load_calendar
from models.db import make_engine, refresh_statistics, require_current_schema, transaction
from models.directory import find_department, find_person
from models.errors import BadInput, NotFound
from models.ledger import (
    Task,
)
from models.people import Department, Person
from models.settings import Settings
from models.stages import ACTION_LABELS, STAGE_LABELS, Action, Stage
from models.workflow import apply

# User text may contain [brackets], so no markup. Piped output gets room for Chinese tables.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
console = Console(highlight=False, markup=False, width=_WIDTH)
errors = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)  # one line each

AsOption = Annotated[str, typer.Option("--as", help="办理人（姓名、邮箱或人员编号）")]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON")]

# --- plumbing --------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def settings() -> Settings:
    return Settings()


def engine_for(current: Settings) -> Engine:
    return make_engine(current.db_url)


@contextmanager
def unit_of_work(
    *, migrated: bool = True, grows_ledger: bool = False
) -> Iterator[tuple[Session, Settings]]:
    """One transaction on the configured database, committed only if the command succeeds;
    a command that adds many rows (`grows_ledger`) refreshes the planner's statistics."""
    current = settings()
    engine = engine_for(current)
    try:
        if migrated:
            require_current_schema(engine)
        with transaction(engine) as session:
            yield session, current
        if grows_ledger:
            refresh_statistics(engine)
    finally:
        engine.dispose()


def parse_date(text: str) -> date:
    """2026-12-31, 2026/12/31 or 2026年12月31日."""
    match = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*", text)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise BadInput(f"日期格式不正确：“{text}”（例如 2026-12-31）") from None


def parse_choice(text: str, labels: dict[Any, str], what: str) -> Any:
    """An enum value from its English value or its Chinese label."""
    for value, label in labels.items():
        if text.strip() in (value.value, label):
            return value
    raise BadInput(f"{what}不正确：“{text}”（可选：{'、'.join(labels.values())}）")


def load_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"找不到任务 {task_id}")
    return task


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


def act(task_id: int, action: Action, actor_ref: str, **data: Any) -> None:
    """Apply one workflow action from the command line and report the new stage."""
    with unit_of_work() as (session, _):
        task = load_task(session, task_id)
        actor = find_person(session, actor_ref)
        resolved = {
            key: value(session) if callable(value) else value for key, value in data.items()
        }
        apply(session, task, action, actor, now(), calendar=load_calendar(session), **resolved)
        stage = STAGE_LABELS[Stage(task.stage)]
    console.print(f"任务 {task_id}：{actor.name} {ACTION_LABELS[action]}，当前阶段“{stage}”")


def person_ref(ref: str | None) -> Callable[[Session], Person] | None:
    return None if ref is None else lambda session: find_person(session, ref)


def department_ref(name: str | None) -> Callable[[Session], Department] | None:
    return None if name is None else lambda session: find_department(session, name)


def departments_ref(names: list[str] | None) -> Callable[[Session], list[Department]] | None:
    if names is None:
        return None
    split = [n for name in names for n in re.split(r"[、,，]", name) if n.strip()]
    return lambda session: [find_department(session, name) for name in split]
