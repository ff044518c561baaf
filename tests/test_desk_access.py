"""Who may open what on the desk, over HTTP: every route × every role, on SQLite and PostgreSQL.

Pages follow models.access (ledger readers, sign-off and look-back roles, a task only for the
people who stand in a relation to it); workflow posts follow the transition table, through
models.workflow.allowed_actions asked for the same person and task; the reader who is not
signed in is sent to sign in first. A task someone may not read is "not found", whether it
exists or not, and nothing about it changes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from sqlmodel import select
from starlette.routing import Mount

from flows.demo import DEMO_PASSWORD, DEMO_SIGN_INS, load_demo
from models.access import LEDGER_READERS, LOOKBACK_ROLES, MAIL_READERS, SIGNOFF_ROLES
from models.accounts import Account
from models.audit import AuditEvent
from models.calendar import WorkCalendar
from models.directory import find_person
from models.dispatch import open_rounds
from models.evidence import EvidencePolicy
from models.ledger import Task
from models.mail import OutboxBody, OutboxMessage
from models.people import Person, Role
from models.records import Evidence
from models.settings import Settings
from models.stages import TRANSITIONS, Action, Stage, rule_for
from models.workflow import allowed_actions
from tests.desk_harness import (
    ANONYMOUS,
    EVERYONE,
    FAST_HASHER,
    PLAIN,
    ROLES,
    SCENARIOS,
    Browser,
    DeskHarness,
    blobs,
    cast,
    fingerprint,
    form_for,
    looking,
    make_desk,
    may_read,
    task_state_counts,
)
from tests.factories import PDF

# --- the ledger the matrix reads --------------------------------------------------------


@dataclass
class Ledger:
    people: dict[str, Person]
    own: Task  # 整改中, the cast's officer and leader, with one evidence file
    own_evidence: int
    lookback: Task  # 回头看 with the cast's reviewer
    other: Task  # 整改中, someone else's officer, leader and department
    other_evidence: int
    message: int  # a captured mail to the cast's officer
    round: int  # a dispatch round
    feed_key: str  # the officer's calendar feed


def build_ledger(world) -> Ledger:
    people = cast(world)
    own = world.task_at(Stage.ACTING)
    world.do(own, Action.ATTACH_EVIDENCE)
    lookback = world.task_at(Stage.LOOKBACK)
    stranger = world.person("钱进", Role.OFFICER)
    stranger_leader = world.person("孙红", Role.LEADER)
    other = world.new_task()
    other.title = "他人的整改任务"
    world.do(
        other,
        Action.ASSIGN,
        officer=stranger,
        leader=stranger_leader,
        lead_department=world.support,
        support_departments=[],
    )
    world.do(other, Action.START, actor=stranger)
    world.do(other, Action.ATTACH_EVIDENCE, actor=stranger)
    s = world.session
    message = OutboxMessage(
        key="test:officer:1",
        kind="digest",
        person_id=world.officer.id,
        to_address=world.officer.email,
        subject="致责任人的提醒",
        send_after=world.now,
        created_at=world.now,
    )
    s.add(message)
    s.flush()
    s.add(OutboxBody(message_id=message.id, text="请按时完成整改", html="<p>请按时完成整改</p>"))
    opened = open_rounds(s, datetime(2026, 10, 8, 1, 0, tzinfo=UTC), WorkCalendar())
    assert len(opened) == 1
    evidence = {
        task_id: evidence_id
        for evidence_id, task_id in s.exec(select(Evidence.id, Evidence.task_id)).all()
    }
    ledger = Ledger(
        people=people,
        own=own,
        own_evidence=evidence[own.id],
        lookback=lookback,
        other=other,
        other_evidence=evidence[other.id],
        message=message.id,
        round=opened[0].id,
        feed_key=s.get(Account, world.officer.id).feed_key,
    )
    s.commit()
    return ledger


# --- the page matrix: (method, path) → cases, each an URL and who gets what -------------

Expect = Callable[[str], int]


def signed_in(expect: Expect) -> Expect:
    """Pages that need a session: the reader who is not signed in is sent to sign in."""
    return lambda role: 303 if role == ANONYMOUS else expect(role)


def everyone_signed_in() -> Expect:
    return signed_in(lambda role: 200)


def for_roles(roles: frozenset[Role]) -> Expect:
    """A page for some roles (models.access): 403 for the others."""
    return signed_in(lambda role: 200 if Role(role) in roles else 403)


def readers(*roles: str, ledger_readers: bool = True) -> Expect:
    """A record only its people may see: 404 for everyone else, so ids cannot be probed."""
    allowed = set(roles) | ({r.value for r in LEDGER_READERS} if ledger_readers else set())
    return signed_in(lambda role: 200 if role in allowed else 404)


def mail_readers(*roles: str) -> Expect:
    """A captured message: its addressee and the mail readers (models.access.MAIL_READERS)."""
    return signed_in(lambda role: 200 if role in roles or Role(role) in MAIL_READERS else 404)


def everyone(status: int) -> Expect:
    return lambda role: status


@dataclass(frozen=True)
class Case:
    what: str
    url: Callable[[Ledger], str]
    expect: Expect
    data: Callable[[Ledger, str], dict] | None = None  # a POST's form
    token: bool = True  # send the session's CSRF token with a POST
    check: Callable[[Ledger, str, object], str | None] | None = None  # more than the status
    last: bool = False  # ends the session: run after everything else


def _mail_list(ledger: Ledger, role: str, response) -> str | None:
    sees = role == "officer" or Role(role) in MAIL_READERS
    if ("致责任人的提醒" in response.text) != sees:
        return f"the officer's message is {'missing' if sees else 'shown'}"
    return None


def _my(ledger: Ledger, role: str, response) -> str | None:
    if ledger.other.title in response.text:
        return "someone else's task is listed"
    mine = role in ("officer", "leader")
    if (ledger.own.title in response.text) != mine:
        return f"the own task is {'missing' if mine else 'listed'}"
    return None


def _download(ledger: Ledger, role: str, response) -> str | None:
    if response.content != PDF:
        return "not the stored bytes"
    if not response.headers.get("content-disposition", "").startswith("attachment"):
        return "not sent as an attachment"
    return None


def _calendar(ledger: Ledger, role: str, response) -> str | None:
    key = ledger.feed_key
    if (key in response.text) != (role == "officer"):
        return "the feed address shown is not the reader's own"
    return None


def _ics(ledger: Ledger, role: str, response) -> str | None:
    if not response.headers["content-type"].startswith("text/calendar"):
        return f"content-type {response.headers['content-type']}"
    return None


def _wrong_password(ledger: Ledger, role: str) -> dict:
    person = ledger.people.get(role)
    return {"login": person.email if person else "nobody@example.cn", "password": "wrong-pass"}


WORKFLOW_ROUTE = ("POST", "/tasks/{task_id}/do/{action}")  # test_workflow_actions_… below

MATRIX: dict[tuple[str, str], list[Case]] = {
    ("GET", "/"): [Case("home", lambda _: "/", everyone(303))],
    ("GET", "/login"): [Case("sign-in page", lambda _: "/login", everyone(200))],
    ("POST", "/login"): [
        Case("wrong password", lambda _: "/login", everyone(401), data=_wrong_password),
        Case("no CSRF token", lambda _: "/login", everyone(403), data=_wrong_password, token=False),
    ],
    ("POST", "/logout"): [
        Case("no CSRF token", lambda _: "/logout", everyone(403), data=lambda *_: {}, token=False),
        Case("sign out", lambda _: "/logout", everyone(303), data=lambda *_: {}, last=True),
    ],
    ("GET", "/my"): [Case("my tasks", lambda _: "/my", everyone_signed_in(), check=_my)],
    ("GET", "/tasks/{task_id}"): [
        Case("own task", lambda x: f"/tasks/{x.own.id}", readers("officer", "leader")),
        Case(
            "look-back",
            lambda x: f"/tasks/{x.lookback.id}",
            readers("officer", "leader", "reviewer"),
        ),
        Case("someone else's task", lambda x: f"/tasks/{x.other.id}", readers()),
        Case("no such task", lambda x: "/tasks/999999", readers(ledger_readers=False)),
    ],
    ("GET", "/evidence/{evidence_id}"): [
        Case(
            "own evidence",
            lambda x: f"/evidence/{x.own_evidence}",
            readers("officer", "leader"),
            check=_download,
        ),
        Case("someone else's evidence", lambda x: f"/evidence/{x.other_evidence}", readers()),
        Case("no such evidence", lambda x: "/evidence/999999", readers(ledger_readers=False)),
    ],
    ("GET", "/signoffs"): [Case("sign-off queue", lambda _: "/signoffs", for_roles(SIGNOFF_ROLES))],
    ("GET", "/lookbacks"): [
        Case("look-back queue", lambda _: "/lookbacks", for_roles(LOOKBACK_ROLES))
    ],
    ("GET", "/dispatch"): [
        Case("dispatch rounds", lambda _: "/dispatch", for_roles(LEDGER_READERS))
    ],
    ("GET", "/dispatch/{round_id}"): [
        Case("a round", lambda x: f"/dispatch/{x.round}", for_roles(LEDGER_READERS)),
        Case(
            "no such round",
            lambda _: "/dispatch/999999",
            signed_in(lambda role: 404 if Role(role) in LEDGER_READERS else 403),
        ),
    ],
    ("GET", "/ledger"): [
        Case("the ledger", lambda _: "/ledger", for_roles(LEDGER_READERS)),
        Case("filtered", lambda _: "/ledger?stage=acting&page=1", for_roles(LEDGER_READERS)),
    ],
    ("GET", "/ledger/export/{kind}.xlsx"): [
        Case("ledger export", lambda _: "/ledger/export/ledger.xlsx", for_roles(LEDGER_READERS)),
        Case("closed export", lambda _: "/ledger/export/closed.xlsx", for_roles(LEDGER_READERS)),
    ],
    ("GET", "/board"): [Case("the board", lambda _: "/board", for_roles(LEDGER_READERS))],
    ("GET", "/mail"): [
        Case("captured mail", lambda _: "/mail", everyone_signed_in(), check=_mail_list)
    ],
    ("GET", "/mail/{message_id}"): [
        Case("the officer's message", lambda x: f"/mail/{x.message}", mail_readers("officer")),
        Case("no such message", lambda _: "/mail/999999", readers(ledger_readers=False)),
    ],
    ("GET", "/calendar"): [
        Case("feed address", lambda _: "/calendar", everyone_signed_in(), check=_calendar)
    ],
    ("GET", "/feeds/{feed_key}.ics"): [
        Case("valid key", lambda x: f"/feeds/{x.feed_key}.ics", everyone(200), check=_ics),
        Case("bad key", lambda _: "/feeds/not-a-key.ics", everyone(404)),
    ],
    ("MOUNT", "/static"): [Case("style sheet", lambda _: "/static/desk.css", everyone(200))],
}


def app_routes(routes, prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, into included routers (FastAPI ≥ 0.150 keeps them as
    branches of app.routes; older versions copied their routes in)."""
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found |= app_routes(included.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, APIRoute):
            found |= {(method, prefix + route.path) for method in route.methods}
        elif isinstance(route, Mount):
            found.add(("MOUNT", prefix + route.path))
        else:  # a kind of route the matrix does not know how to cover
            found.add((type(route).__name__, getattr(route, "path", repr(route))))
    return found


def test_every_route_of_the_desk_is_in_the_matrix(desk):
    routes = app_routes(desk.app.routes)
    covered = set(MATRIX) | {WORKFLOW_ROUTE}
    assert routes - covered == set(), "routes without a row in the access matrix"
    assert covered - routes == set(), "matrix rows for routes the desk no longer has"
    assert all(MATRIX[key] for key in MATRIX)


def _browsers(desk: DeskHarness, people: dict[str, Person]) -> dict[str, Browser]:
    browsers = {role: desk.signed_in(person) for role, person in people.items()}
    browsers[ANONYMOUS] = desk.browser()
    browsers[ANONYMOUS].get("/login")  # a CSRF token, as on the sign-in page
    return browsers


def _expected_location(method: str, path: str, url: str) -> str:
    """Home goes to my tasks, signing out to the sign-in page, any other page that needs a
    session to the sign-in page and back."""
    if path == "/":
        return "/my"
    if path == "/logout":
        return "/login"
    return f"/login?next={quote(url)}"


def test_every_page_answers_every_role_as_the_access_rules_say(world, desk):
    ledger = build_ledger(world)
    browsers = _browsers(desk, ledger.people)
    before = fingerprint(desk.engine), blobs(desk.home)
    cases = [(key, case) for key, rows in MATRIX.items() for case in rows]
    cases.sort(key=lambda item: item[1].last)
    problems = []
    for (method, path), case in cases:
        url = case.url(ledger)
        for role in EVERYONE:
            browser = browsers[role]
            if method == "POST":
                response = browser.post(url, case.data(ledger, role), token=case.token)
            else:
                response = browser.get(url)
            expected = case.expect(role)
            where = f"{method} {path} [{case.what}] {url} as {role}"
            if response.status_code != expected:
                problems.append(f"{where}: expected {expected}, got {response.status_code}")
                continue
            location = response.headers.get("location")
            if expected == 303 and location != _expected_location(method, path, url):
                problems.append(f"{where}: redirected to {location}")
            if expected == 200 and case.check is not None:
                problem = case.check(ledger, role, response)
                if problem:
                    problems.append(f"{where}: {problem}")
    # signed out by the last case: nobody is signed in any more
    for role, browser in browsers.items():
        response = browser.get("/my")
        if response.status_code != 303:
            problems.append(f"GET /my after signing out as {role}: {response.status_code}")
    assert problems == [], "\n".join(problems)
    assert (fingerprint(desk.engine), blobs(desk.home)) == before, "reading changed the ledger"


def test_refusals_say_why_in_chinese(world, desk):
    ledger = build_ledger(world)
    officer = desk.signed_in(ledger.people["officer"])

    refused = officer.get("/ledger")
    missing = officer.get(f"/tasks/{ledger.other.id}")

    assert refused.status_code == 403
    assert "整改台账仅对" in refused.text
    assert missing.status_code == 404
    assert f"找不到任务 {ledger.other.id}，或您无权查看" in missing.text


# --- guessing ids -----------------------------------------------------------------------


def test_ids_of_other_peoples_tasks_cannot_be_guessed(world, desk):
    """Every id, existing or not, is "not found" unless the task is the reader's own."""
    ledger = build_ledger(world)
    mine = {ledger.own.id, ledger.lookback.id}  # the officer's and the leader's
    own = {"officer": mine, "leader": mine, "reviewer": {ledger.lookback.id}, "admin": set()}
    with looking(desk.engine) as s:
        ids = list(s.exec(select(Task.id).order_by(Task.id)).all())
        for role, tasks in own.items():  # the access rules agree with the relations above
            assert {t for t in ids if may_read(s, t, ledger.people[role])} == tasks, role
    probe = range(1, max(ids) + 3)
    for role in ("officer", "leader", "reviewer", "admin"):
        browser = desk.signed_in(ledger.people[role])
        answers = {task_id: browser.get(f"/tasks/{task_id}").status_code for task_id in probe}
        assert {t for t, code in answers.items() if code == 200} == own[role], role
        assert {code for t, code in answers.items() if t not in own[role]} == {404}, role
        absent = browser.get(f"/tasks/{max(ids) + 1}").text
        foreign = browser.get(f"/tasks/{ledger.other.id}").text
        assert absent.replace(str(max(ids) + 1), "N") == foreign.replace(str(ledger.other.id), "N")
    assert ledger.other.id not in own["officer"] | own["leader"] | own["reviewer"]


def test_someone_elses_task_cannot_be_changed_by_its_id(world, desk):
    ledger = build_ledger(world)
    other = ledger.other
    outsiders = {
        role: desk.signed_in(ledger.people[role]) for role in ("officer", "leader", "reviewer")
    }
    outsiders["admin"] = desk.signed_in(ledger.people["admin"])
    outsiders["head of another department"] = desk.signed_in(world.head)
    before = fingerprint(desk.engine), blobs(desk.home)
    for who, browser in outsiders.items():
        for action in Action:
            data, files = form_for(world, other, action)
            response = browser.post(f"/tasks/{other.id}/do/{action}", data, files=files)
            assert response.status_code == 404, (who, action, response.status_code)
            assert "找不到任务" in response.text
        assert browser.get(f"/evidence/{ledger.other_evidence}").status_code == 404, who
    assert (fingerprint(desk.engine), blobs(desk.home)) == before


def test_evidence_of_someone_elses_task_is_not_found(world, desk):
    ledger = build_ledger(world)
    for role in ("officer", "leader", "reviewer", "admin"):
        browser = desk.signed_in(ledger.people[role])
        for inline in ("", "?inline=1"):
            response = browser.get(f"/evidence/{ledger.other_evidence}{inline}")
            assert response.status_code == 404, role
            assert PDF not in response.content
    office = desk.signed_in(ledger.people["office"])
    assert office.get(f"/evidence/{ledger.other_evidence}").content == PDF


# --- the workflow matrix: the desk answers as allowed_actions does ------------------------


def _off_table() -> dict[Stage, list[tuple[str, Action]]]:
    """Each action once in a stage the table has no row for it, by someone who reads the
    task there (a refusal, not a "not found"); stages and people in turn."""
    sample: dict[Stage, list[tuple[str, Action]]] = {stage: [] for stage in Stage}
    people = ("office", "officer", "leadership", "leader")
    for i, action in enumerate(Action):
        outside = [stage for stage in Stage if rule_for(stage, action) is None]
        sample[outside[i % len(outside)]].append((people[i % len(people)], action))
    return sample


OFF_TABLE = _off_table()


def test_workflow_actions_follow_the_transition_table(world, desk):
    """Each (stage, action) of the table, for every role: done exactly when allowed_actions
    offers it to that person on that task; refused (403), not found (404) or sent to sign in
    (303) otherwise, and then nothing changed. Every action is also tried once outside the
    table's rows for it (OFF_TABLE), and refused."""
    people = cast(world)
    browsers = _browsers(desk, people)
    problems, done = [], set()
    for name, (make, focus) in SCENARIOS.items():
        probe = make(world)
        world.session.commit()
        stage = Stage(probe.stage)
        with looking(desk.engine) as s:
            task = s.get(Task, probe.id)
            offered = {role: set(allowed_actions(s, task, p)) for role, p in people.items()}
            readable = {role: may_read(s, probe.id, p) for role, p in people.items()}
        in_table = [a for a in focus or Action if rule_for(stage, a)]
        tries = [(role, a) for a in in_table for role in ROLES]
        if name in PLAIN:
            tries += [(ANONYMOUS, a) for a in in_table] + OFF_TABLE[stage]
        allowed = [(role, a) for role, a in tries if role != ANONYMOUS and a in offered[role]]
        fresh = _fresh_tasks(world, desk, make, allowed, people)
        baseline = task_state_counts(desk.engine, probe.id)
        for role, action in tries:
            where = f"{name}: {action} as {role}"
            if (role, action) in fresh:
                continue
            expected = 303 if role == ANONYMOUS else 403 if readable[role] else 404
            data, files = form_for(world, probe, action)
            response = browsers[role].post(f"/tasks/{probe.id}/do/{action}", data, files=files)
            if response.status_code != expected:
                problems.append(f"{where}: expected {expected}, got {response.status_code}")
            elif expected == 303 and not response.headers["location"].startswith("/login?next="):
                problems.append(f"{where}: redirected to {response.headers['location']}")
            if task_state_counts(desk.engine, probe.id) != baseline:
                problems.append(f"{where}: refused, but the ledger changed")
                baseline = task_state_counts(desk.engine, probe.id)
        for (role, action), task in fresh.items():
            where = f"{name}: {action} as {role}"
            problems += _allowed(world, desk, browsers[role], task, action, where)
            done.add((stage, action))
    assert problems == [], "\n".join(problems)
    # every row of the table was taken by someone through the desk
    assert set(TRANSITIONS) - done == set()


def _fresh_tasks(world, desk, make, allowed, people) -> dict[tuple[str, Action], Task]:
    """A new task of the scenario for each action someone is offered (taking it changes it)."""
    tasks = {key: make(world) for key in allowed}
    world.session.commit()
    with looking(desk.engine) as s:
        for (role, action), task in tasks.items():
            offered = allowed_actions(s, s.get(Task, task.id), people[role])
            assert action in offered, f"a fresh task should offer {action} to {role} as well"
    return tasks


def _allowed(world, desk, browser: Browser, task: Task, action: Action, where: str) -> list[str]:
    """Take an action the workflow offers: done, as the table says, by this person."""
    stage, version = Stage(task.stage), task.version
    data, files = form_for(world, task, action)
    response = browser.post(f"/tasks/{task.id}/do/{action}", data, files=files)
    if response.status_code != 303 or response.headers["location"] != f"/tasks/{task.id}":
        return [f"{where}: allowed, but got {response.status_code}"]
    with looking(desk.engine) as s:
        after = s.get(Task, task.id)
        event = s.exec(
            select(AuditEvent).where(AuditEvent.task_id == task.id).order_by(AuditEvent.seq.desc())
        ).first()
        problems = []
        if after.stage != TRANSITIONS[stage, action].next:
            problems.append(f"{where}: moved to {after.stage}")
        if after.version <= version:
            problems.append(f"{where}: the version did not move on")
        if (event.action, event.actor_id) != (action.value, browser.person.id):
            problems.append(f"{where}: last event {event.action} by {event.actor_id}")
    return problems


# --- the demo ledger: its people sign in by e-mail ----------------------------------------


@pytest.fixture
def demo_desk(engine, tmp_path, now):
    settings = Settings(home=tmp_path / "home")
    policy = EvidencePolicy(settings.evidence_max_bytes, tuple(settings.evidence_allowed_types))
    with looking(engine) as s:
        load_demo(s, settings.home, now, policy)
        # The demo's own argon2 hash stays on the officer's account; the others get the same
        # password under the fast hash (a production-cost check takes half a second here).
        officer = find_person(s, dict(DEMO_SIGN_INS)["责任人"])
        fast = FAST_HASHER.hash(DEMO_PASSWORD)
        for account in s.exec(select(Account).where(Account.person_id != officer.id)):
            account.password_hash = fast
    made = make_desk(engine, settings.home, now)
    yield made
    made.close()


def test_the_demo_sign_ins_reach_what_their_roles_allow(demo_desk):
    with looking(demo_desk.engine) as s:
        people = {name: find_person(s, name) for _, name in DEMO_SIGN_INS}
        officer = people[dict(DEMO_SIGN_INS)["责任人"]]
        task = s.exec(
            select(Task).where(Task.stage == Stage.ASSIGNED.value, Task.officer_id == officer.id)
        ).first()
    for label, name in DEMO_SIGN_INS:
        person = people[name]
        browser = demo_desk.browser()
        assert browser.sign_in(person, DEMO_PASSWORD).status_code == 303, label
        assert browser.get("/my").status_code == 200, label
        ledger = browser.get("/ledger").status_code
        assert ledger == (200 if person.has_role(*LEDGER_READERS) else 403), label
        page = browser.get(f"/tasks/{task.id}")
        if person.id == officer.id:
            assert page.status_code == 200
            assert 'data-action="start"' in page.text
        elif person.has_role(*LEDGER_READERS):
            assert page.status_code == 200
            assert 'data-action="start"' not in page.text
        elif person.has_role(Role.ADMIN) or person.has_role(Role.REVIEWER):
            assert page.status_code == 404, label
