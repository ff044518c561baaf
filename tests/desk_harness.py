"""Driving the web desk over HTTP (FastAPI's TestClient) on the test databases.

The desk runs in-process on the same engine as the test's `world`; every request is its own
unit of work, so the test's session must be committed before a request and its reads kept
short (on SQLite an open write transaction would make the desk wait for the lock).
"""

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from models.access import readable_task
from models.accounts import Account, set_password
from models.audit import AuditEvent
from models.errors import NotFound
from models.intake import add_area, add_task, create_inspection
from models.ledger import FirstSigner, Task
from models.people import Person, Role
from models.records import Evidence
from models.settings import Settings
from models.stages import Action, Stage
from tests.factories import PATH_TO, PDF
from web.app import create_app
from web.security import CSRF_FIELD

PASSWORD = "desk-test-password"
CSRF_INPUT = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')
# The roles the matrix walks through, and the reader who is not signed in.
ROLES = ("officer", "leader", "office", "reviewer", "leadership", "admin")
ANONYMOUS = "anonymous"
EVERYONE = (*ROLES, ANONYMOUS)


@cache
def password_hash() -> str:
    """The accounts' hash, made once: argon2id like models.accounts.hash_password, but with
    the smallest parameters. check_password verifies with the parameters stored in the hash,
    so a sign-in costs a millisecond instead of the production half second (this machine);
    the tests that are about passwords use hash_password and set_password(password=…)."""
    return FAST_HASHER.hash(PASSWORD)


FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def give_accounts(session: Session, now: datetime, *people: Person) -> None:
    for person in people:
        set_password(session, person, now, password_hash=password_hash())


def csrf_of(text: str) -> str:
    found = CSRF_INPUT.search(text)
    assert found, "the page has no CSRF field"
    return html.unescape(found.group(1))


@contextmanager
def looking(engine: Engine) -> Iterator[Session]:
    """A short unit beside the desk, ended before the next request; what it loaded stays
    readable afterwards."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.commit()


@dataclass(frozen=True)
class TaskState:
    stage: str
    version: int
    deadline: object
    officer_id: int | None


def task_state(engine: Engine, task_id: int) -> TaskState | None:
    with looking(engine) as s:
        task = s.get(Task, task_id)
        if task is None:
            return None
        return TaskState(task.stage, task.version, task.deadline, task.officer_id)


def fingerprint(engine: Engine) -> tuple:
    """What any change to the ledger would move: every task's stage and version, the audit
    trail's length, the evidence rows."""
    with looking(engine) as s:
        tasks = tuple(s.exec(select(Task.id, Task.stage, Task.version).order_by(Task.id)).all())
        events = s.exec(select(func.count()).select_from(AuditEvent)).one()
        evidence = s.exec(select(func.count()).select_from(Evidence)).one()
        return tasks, events, evidence


def blobs(home: Path) -> set[Path]:
    folder = home / "evidence"
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@dataclass
class Browser:
    """One person's browser: its cookie jar, and the CSRF token of the pages it was shown."""

    client: TestClient
    person: Person | None = None
    csrf: str | None = None

    def get(self, url: str, **kwargs) -> httpx.Response:
        response = self.client.get(url, **kwargs)
        if response.headers.get("content-type", "").startswith("text/html"):
            found = CSRF_INPUT.search(response.text)
            if found:
                self.csrf = html.unescape(found.group(1))
        return response

    def post(self, url: str, data: dict | None = None, *, token: bool = True, **kwargs):
        data = dict(data or {})
        if token and self.csrf is not None:
            data.setdefault(CSRF_FIELD, self.csrf)
        return self.client.post(url, data=data, **kwargs)

    def sign_in(self, person: Person, password: str = PASSWORD, next: str = "") -> httpx.Response:
        self.get("/login")
        response = self.post("/login", {"login": person.email, "password": password, "next": next})
        if response.status_code == 303:
            self.person = person
            self.get("/my")  # the new session's CSRF token
        return response


@dataclass
class DeskHarness:
    app: FastAPI
    engine: Engine
    home: Path
    _clients: list[TestClient] = field(default_factory=list)
    _addresses: int = 0

    def browser(self, address: str | None = None) -> Browser:
        """A new browser; each from its own address unless told (the throttle counts both)."""
        self._addresses += 1
        host = address or f"10.0.0.{self._addresses}"
        client = TestClient(
            self.app, follow_redirects=False, client=(host, 50000), raise_server_exceptions=False
        )
        client.__enter__()
        self._clients.append(client)
        return Browser(client)

    def signed_in(self, person: Person) -> Browser:
        browser = self.browser()
        response = browser.sign_in(person)
        assert response.status_code == 303, response.text
        return browser

    def close(self) -> None:
        for client in self._clients:
            client.__exit__(None, None, None)
        self.app.state.desk.reader.dispose()


def write_xlsx(_session, path: Path, _today) -> int:
    """A stand-in ledger writer: the desk's export route, not the workbook, is under test."""
    path.write_bytes(b"PK\x03\x04 stand-in workbook")
    return 0


class Clock:
    """The desk's clock: the test's moment, a millisecond later at each reading (real clocks
    move on between two requests; a task changed twice at one instant keeps its version)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.readings = start, 0

    def __call__(self) -> datetime:
        self.readings += 1
        return self.start + timedelta(milliseconds=self.readings)


def make_desk(engine: Engine, home: Path, now: datetime, **settings) -> DeskHarness:
    app = create_app(
        Settings(
            home=home, database_url=engine.url.render_as_string(hide_password=False), **settings
        ),
        engine=engine,
        clock=Clock(now),
        writers={"ledger": write_xlsx, "closed": write_xlsx},
    )
    return DeskHarness(app=app, engine=engine, home=home)


@pytest.fixture
def desk_factory(engine, world, now):
    """Desks on the test's database and data folder; settings (evidence limits) as given."""
    made: list[DeskHarness] = []

    def make(**settings) -> DeskHarness:
        world.session.commit()
        desk = make_desk(engine, world.home, now, **settings)
        made.append(desk)
        return desk

    yield make
    for desk in made:
        desk.close()


@pytest.fixture
def desk(desk_factory) -> DeskHarness:
    return desk_factory()


def cast(world) -> dict[str, Person]:
    """One person per role of the matrix, each with an account."""
    people = {
        "officer": world.officer,
        "leader": world.leader,
        "office": world.office,
        "reviewer": world.reviewer,
        "leadership": world.leadership,
        "admin": world.admin,
    }
    assert {role: Role(role) in p.roles for role, p in people.items()} == dict.fromkeys(
        people, True
    )
    give_accounts(world.session, world.now, *people.values(), world.head)
    world.session.commit()
    return people


def account_of(engine: Engine, person: Person) -> Account:
    with looking(engine) as s:
        return s.get(Account, person.id)


# --- the workflow through the desk: valid forms, and tasks in every situation ------------


def may_read(session, task_id: int, person: Person) -> bool:
    try:
        readable_task(session, task_id, person)
    except NotFound:
        return False
    return True


def form_for(world, task: Task, action: Action) -> tuple[dict, list | None]:
    """A valid form for an action on this task, as the task page would post it."""
    deadline = task.deadline or world.deadline
    comment = {"comment": "同意"}
    data = {
        Action.ASSIGN: {
            "officer": world.officer.email,
            "leader": world.leader.email,
            "lead_department": world.department.name,
            "deadline_class": "dated",
            "deadline": world.deadline.isoformat(),
        },
        Action.REASSIGN: {"deadline": (deadline + timedelta(days=5)).isoformat(), "reason": "调整"},
        Action.SUBMIT: {"summary": "已整改到位"},
        Action.ENDORSE: comment,
        Action.APPROVE: comment,
        Action.APPROVE_PHASE: comment,
        Action.REJECT: {"reason": "佐证不足"},
        Action.OPEN_LOOKBACK: {"reviewer": world.reviewer.email},
        Action.CONFIRM: comment,
        Action.REBOUND: {"finding": "问题反弹", "deadline": date(2026, 12, 31).isoformat()},
        Action.REPORT_PROGRESS: {"status": "in_progress", "text": "正在推进"},
        Action.REQUEST_EXTENSION: {
            "deadline": (deadline + timedelta(days=31)).isoformat(),
            "reason": "工程未完工",
        },
        Action.GRANT_EXTENSION: comment,
        Action.REFUSE_EXTENSION: {"reason": "理由不充分"},
    }.get(action, {})
    files = None
    if action == Action.ATTACH_EVIDENCE:
        files = [("files", ("现场照片.pdf", PDF + str(task.id).encode(), "application/pdf"))]
    return {**data, "version": str(task.version)}, files


def two_signature_task(world) -> Task:
    """A task of an inspection whose sign-offs need the responsible leader's endorsement."""
    info = world.session.info
    if "two_signature_area" not in info:
        inspection = create_inspection(
            world.session, title="两级签批的巡察", actor=world.system, now=world.now
        )
        inspection.first_signer = FirstSigner.LEADER
        info["two_signature_area"] = add_area(
            world.session, inspection, 1, "两级签批方面", world.system, world.now
        )
        info["two_signature_number"] = 0
    info["two_signature_number"] += 1
    task = add_task(
        world.session,
        info["two_signature_area"],
        info["two_signature_number"],
        "两级签批的任务",
        ["措施"],
        world.system,
        world.now,
    )
    for action in (Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT):
        world.do(task, action)
    return task


def endorsed_task(world) -> Task:
    task = two_signature_task(world)
    world.do(task, Action.ENDORSE, actor=world.leader)
    return task


def extension_requested(stage: Stage) -> Callable:
    """A task at a stage with the officer's extension request waiting for a decision."""

    def make(world) -> Task:
        task = world.task_at(Stage.ASSIGNED)
        world.do(task, Action.REQUEST_EXTENSION)
        for action in PATH_TO[stage][len(PATH_TO[Stage.ASSIGNED]) :]:
            world.do(task, action)
        return task

    return make


def acting_with_evidence(world) -> Task:
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.ATTACH_EVIDENCE)
    return task


EXTENSION = (Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION, Action.REQUEST_EXTENSION)
SIGNING = (Action.ENDORSE, Action.APPROVE, Action.APPROVE_PHASE, Action.REJECT)
# Every stage as the main path leaves it (all actions tried there), and the situations the
# table's other rows need, with the actions each is there for.
SCENARIOS: dict[str, tuple[Callable, tuple[Action, ...] | None]] = {
    **{stage.value: ((lambda w, s=stage: w.task_at(s)), None) for stage in Stage},
    "acting, evidence uploaded": (acting_with_evidence, (Action.SUBMIT,)),
    **{
        f"{stage}, extension requested": (extension_requested(stage), EXTENSION)
        for stage in (Stage.ASSIGNED, Stage.ACTING, Stage.EVIDENCE)
    },
    "evidence, long-term": (lambda w: w.task_at(Stage.EVIDENCE, long_term=True), SIGNING),
    "evidence, two signatures": (two_signature_task, SIGNING),
    "evidence, two signatures, endorsed": (endorsed_task, SIGNING),
}
PLAIN = {stage.value for stage in Stage}


STATE = text(
    "SELECT stage, version, (SELECT COUNT(*) FROM audit_event),"
    " (SELECT COUNT(*) FROM evidence), (SELECT COUNT(*) FROM progress_report),"
    " (SELECT COUNT(*) FROM extension_request), (SELECT COUNT(*) FROM sign_off),"
    " (SELECT COUNT(*) FROM lookback_review) FROM task WHERE id = :id"
)


def task_state_counts(engine, task_id: int) -> tuple:
    with engine.connect() as connection:
        return tuple(connection.execute(STATE, {"id": task_id}).one())
