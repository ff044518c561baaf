"""The desk's forms over HTTP, on SQLite and PostgreSQL: uploads that break the evidence policy
store nothing, user text is shown as text, every form needs its CSRF token, sign-in is
throttled and ends with a password change, sign-in never redirects off-site, the calendar feed
answers only its key, and a stale page cannot overwrite a newer change.
"""

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar
from sqlmodel import func, select

from models.accounts import set_password
from models.evidence import safe_name
from models.ledger import DeadlineClass, Task
from models.people import Person, Role
from models.records import Evidence, ProgressReport
from models.stages import Action, Stage
from models.workflow import allowed_actions
from tests.desk_harness import (
    FAST_HASHER,
    PASSWORD,
    SCENARIOS,
    Browser,
    DeskHarness,
    account_of,
    blobs,
    cast,
    fingerprint,
    looking,
    task_state_counts,
)
from tests.factories import PDF

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOUNDARY = "rectify-test-boundary-7f3a"


@dataclass
class Office:
    """A task in 整改中 and the people around it, signed in."""

    desk: DeskHarness
    task: Task
    officer: Browser
    office: Browser
    people: dict[str, Person]

    @property
    def url(self) -> str:
        return f"/tasks/{self.task.id}"

    def state(self) -> tuple:
        return task_state_counts(self.desk.engine, self.task.id)

    def evidence(self) -> list[Evidence]:
        with looking(self.desk.engine) as s:
            return list(s.exec(select(Evidence).order_by(Evidence.id)))


def _office(world, desk: DeskHarness, stage: Stage = Stage.ACTING) -> Office:
    people = cast(world)
    task = world.task_at(stage)
    world.session.commit()
    return Office(
        desk, task, desk.signed_in(people["officer"]), desk.signed_in(people["office"]), people
    )


@pytest.fixture
def office(world, desk) -> Office:
    return _office(world, desk)


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart body with the file names exactly as given (httpx would percent-encode
    control characters; a hostile client sends them raw)."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for filename, content, content_type in files:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def upload(
    browser: Browser,
    task: Task,
    files: list[tuple[str, bytes, str]],
    *,
    action: str = "attach_evidence",
    version: int | None = None,
    **fields: str,
) -> httpx.Response:
    form = {"csrf": browser.csrf, **fields}
    if action == "attach_evidence":
        form.setdefault("description", "现场照片")
    if version is not None:
        form["version"] = str(version)
    body, content_type = multipart(form, files)
    return browser.client.post(
        f"/tasks/{task.id}/do/{action}", content=body, headers={"content-type": content_type}
    )


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def assert_nothing_stored(office: Office, before: tuple, response: httpx.Response, *said: str):
    assert response.status_code == 400, response.status_code
    for text in said:
        assert text in response.text
    assert office.evidence() == []
    assert blobs(office.desk.home) == set()
    assert office.state() == before


# --- uploads ------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_and_one_at_the_limit_is_kept(world, desk_factory):
    office = _office(world, desk_factory(evidence_max_bytes=1024))
    before = office.state()

    too_big = upload(
        office.officer, office.task, [("大文件.pdf", PDF + b"0" * 1024, "application/pdf")]
    )

    assert_nothing_stored(office, before, too_big, "文件过大", "大文件.pdf")
    at_limit = PDF + b"0" * (1024 - len(PDF))
    kept = upload(office.officer, office.task, [("刚好.pdf", at_limit, "application/pdf")])
    assert kept.status_code == 303
    assert [(e.name, e.size) for e in office.evidence()] == [("刚好.pdf", 1024)]


@pytest.mark.parametrize(
    "name, content",
    [
        ("setup.exe", b"MZ\x90\x00"),
        ("报告.pdf.exe", b"MZ\x90\x00"),
        ("page.html", b"<html>"),
        ("README", b"no extension"),
    ],
)
def test_a_disallowed_type_is_refused(office, name, content):
    before = office.state()

    response = upload(office.officer, office.task, [(name, content, "application/pdf")])

    assert_nothing_stored(office, before, response, "不允许的文件类型")


# name as sent → name kept (None: refused)
HOSTILE_NAMES = {
    "../../outside.pdf": "outside.pdf",
    "..\\..\\outside.pdf": "outside.pdf",
    "/etc/passwd.pdf": "passwd.pdf",
    "C:\\Users\\张三\\整改报告.pdf": "整改报告.pdf",
    "整改\x01报告\x1b\x7f.pdf": "整改报告.pdf",
    "整改\u202efdp.pdf": "整改fdp.pdf",  # right-to-left override: would show as "整改pdf.pdf"
    "\t 整改报告.pdf ": "整改报告.pdf",
    "../": None,
    "..": None,
    "a/..": None,
    "\x01\x02": None,
}


def test_a_file_name_with_a_path_or_control_characters_is_cleaned_or_refused(office, tmp_path):
    everything_before = files_under(tmp_path)
    store = office.desk.home / "evidence"
    for n, (sent, kept) in enumerate(HOSTILE_NAMES.items()):
        content = PDF + f"{n}".encode()
        response = upload(office.officer, office.task, [(sent, content, "application/pdf")])
        names = [e.name for e in office.evidence()]
        if kept is None:
            assert response.status_code == 400, sent
            assert "文件名无效" in response.text, sent
        else:
            assert response.status_code == 303, sent
            assert names[-1] == kept == safe_name(sent), sent
    accepted = [kept for kept in HOSTILE_NAMES.values() if kept is not None]
    assert [e.name for e in office.evidence()] == accepted
    for name in (e.name for e in office.evidence()):
        assert "/" not in name and "\\" not in name
        assert not any(ord(ch) < 32 or ch in "\x7f\u202e" for ch in name)
    written = files_under(tmp_path) - everything_before
    assert written and all(path.is_relative_to(store) for path in written), written
    assert not any(p.name.startswith(".upload-") for p in written)
    assert not (tmp_path / "outside.pdf").exists()
    assert not (office.desk.home / "outside.pdf").exists()


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("整改报告.pdf", b"MZ\x90\x00\x03 not a pdf at all", "application/pdf"),
        ("整改报告.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"),
        ("现场照片.png", b"\xff\xd8\xff\xe0 a jpeg", "image/png"),
        ("现场照片.jpg", PNG, "image/jpeg"),
    ],
)
def test_a_file_that_is_not_what_its_name_claims_is_refused(office, name, content, content_type):
    before = office.state()

    response = upload(office.officer, office.task, [(name, content, content_type)])

    assert_nothing_stored(office, before, response, "文件内容与扩展名不符", name)


@pytest.mark.parametrize("name", ["空文件.txt", "空文件.pdf"])
def test_an_empty_file_is_refused(office, name):
    before = office.state()

    response = upload(office.officer, office.task, [(name, b"", "application/octet-stream")])

    assert_nothing_stored(office, before, response)
    assert "文件为空" in response.text or "文件内容与扩展名不符" in response.text


# (what is wrong, the bad file); each comes after good files that were already stored
BAD_FILES = {
    "too big": ("大文件.pdf", PDF + b"0" * 4096, "application/pdf"),
    "not allowed": ("setup.exe", b"MZ\x90\x00", "application/octet-stream"),
    "not a pdf": ("假的.pdf", b"MZ\x90\x00", "application/pdf"),
    "empty": ("空.txt", b"", "text/plain"),
    "no name": ("../", PDF + b"x", "application/pdf"),
}


@pytest.mark.parametrize("action", ["attach_evidence", "report_progress"])
def test_one_bad_file_among_several_stores_none_of_them(world, desk_factory, action):
    office = _office(world, desk_factory(evidence_max_bytes=2048))
    # bytes already in the store for another task: a refused upload must not remove them
    other = world.task_at(Stage.ACTING)
    world.do(other, Action.ATTACH_EVIDENCE, file=world.evidence(PNG, "旧照片.png"))
    world.session.commit()
    kept_blobs, kept_rows = blobs(office.desk.home), [e.id for e in office.evidence()]
    before, other_before = office.state(), task_state_counts(office.desk.engine, other.id)
    fields = {"status": "in_progress", "text": "正在推进"} if action == "report_progress" else {}
    for what, bad in BAD_FILES.items():
        good = [
            ("整改方案.pdf", PDF + what.encode(), "application/pdf"),
            ("旧照片副本.png", PNG, "image/png"),
        ]
        for files in ([*good, bad], [good[0], bad, good[1]]):
            response = upload(office.officer, office.task, files, action=action, **fields)
            assert response.status_code == 400, (what, response.status_code)
            assert [e.id for e in office.evidence()] == kept_rows, what
            assert blobs(office.desk.home) == kept_blobs, what
            assert office.state() == before, what
    assert task_state_counts(office.desk.engine, other.id) == other_before
    with looking(office.desk.engine) as s:
        assert s.exec(select(func.count()).select_from(ProgressReport)).one() == 0
    # and the same good files alone are taken
    good = [("整改方案.pdf", PDF, "application/pdf"), ("旧照片副本.png", PNG, "image/png")]
    assert upload(office.officer, office.task, good, action=action, **fields).status_code == 303
    assert len(office.evidence()) == len(kept_rows) + 2


# --- user text is text ------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = "<img src=x onerror=alert(2)>"
ESCAPED_IMG = "&lt;img src=x onerror=alert(2)&gt;"


def assert_shown_as_text(response: httpx.Response, raw: str, escaped: str) -> None:
    assert response.status_code == 200
    assert escaped in response.text
    assert raw not in response.text
    assert "<script" not in response.text  # the desk's pages have no script of their own


def test_markup_in_user_text_is_shown_escaped(world, desk):
    people = cast(world)
    task = world.task_at(Stage.ACTING)
    task.title = f"标题{SCRIPT}"
    world.session.commit()
    officer, office = desk.signed_in(people["officer"]), desk.signed_in(people["office"])
    page = f"/tasks/{task.id}"

    reported = officer.post(
        f"{page}/do/report_progress", {"status": "in_progress", "text": f"进展{SCRIPT}"}
    )
    attached = upload(
        officer, task, [(f"照片{IMG}.pdf", PDF, "application/pdf")], description=f"说明{IMG}"
    )
    submitted = officer.post(f"{page}/do/submit", {"summary": f"整改情况{IMG}"})
    rejected = office.post(f"{page}/do/reject", {"reason": f"退回{IMG}"})

    assert [r.status_code for r in (reported, attached, submitted, rejected)] == [303] * 4
    shown = officer.get(page)
    assert_shown_as_text(shown, SCRIPT, ESCAPED_SCRIPT)
    assert f"进展{ESCAPED_SCRIPT}" in shown.text
    assert f"照片{ESCAPED_IMG}.pdf" in shown.text
    assert f"说明{ESCAPED_IMG}" in shown.text
    assert f"整改情况{ESCAPED_IMG}" in shown.text
    assert f"退回{ESCAPED_IMG}" in shown.text
    assert IMG not in shown.text
    for listing in (officer.get("/my"), office.get("/ledger"), office.get("/signoffs")):
        assert listing.status_code == 200
        assert "<script" not in listing.text
    assert f"标题{ESCAPED_SCRIPT}" in officer.get("/my").text
    assert f"标题{ESCAPED_SCRIPT}" in office.get("/ledger").text


def test_markup_in_a_refusal_is_shown_escaped(office):
    """A file name echoed in an error message is text too."""
    response = upload(office.officer, office.task, [(f"{IMG}.exe", b"MZ", "text/plain")])

    assert response.status_code == 400
    assert f"{ESCAPED_IMG}.exe" in response.text
    assert IMG not in response.text


# --- CSRF -------------------------------------------------------------------------------------


def test_signing_in_without_the_forms_csrf_token_is_refused(world, desk):
    people = cast(world)
    officer = people["officer"]
    form = {"login": officer.email, "password": PASSWORD}
    for token in (None, "", "forged-token"):
        browser = desk.browser()
        browser.get("/login")
        data = dict(form) if token is None else {**form, "csrf": token}
        response = browser.client.post("/login", data=data)
        assert response.status_code == 403, token
        assert "CSRF" in response.text
        assert browser.get("/my").status_code == 303
    # a token from another browser's session does not count either
    other, browser = desk.browser(), desk.browser()
    other.get("/login")
    browser.get("/login")
    response = browser.client.post("/login", data={**form, "csrf": other.csrf})
    assert response.status_code == 403
    assert browser.get("/my").status_code == 303
    assert browser.sign_in(officer).status_code == 303  # with its own token: signed in


def test_signing_out_without_the_csrf_token_is_refused(world, desk):
    people = cast(world)
    browser = desk.signed_in(people["officer"])

    assert browser.post("/logout", token=False).status_code == 403
    assert browser.post("/logout", {"csrf": "forged"}, token=False).status_code == 403
    assert browser.get("/my").status_code == 200
    signed_out = browser.post("/logout")
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/login")
    assert browser.get("/my").status_code == 303


def test_a_workflow_action_without_the_csrf_token_changes_nothing(office):
    before, stored = office.state(), blobs(office.desk.home)
    submit = f"{office.url}/do/report_progress"
    form = {"status": "in_progress", "text": "正在推进"}

    missing = office.officer.post(submit, form, token=False)
    forged = office.officer.post(submit, {**form, "csrf": "forged"}, token=False)
    others = office.officer.post(submit, {**form, "csrf": office.office.csrf}, token=False)
    files = [("files", ("照片.pdf", PDF, "application/pdf"))]
    with_file = office.officer.client.post(f"{office.url}/do/attach_evidence", files=files)

    for response in (missing, forged, others, with_file):
        assert response.status_code == 403
        assert "CSRF" in response.text
    assert office.state() == before
    assert blobs(office.desk.home) == stored
    by_header = office.officer.client.post(
        submit, data=form, headers={"x-csrf-token": office.officer.csrf}
    )
    assert by_header.status_code == 303
    assert office.state() != before


# --- signing in ---------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_in_chinese(world, desk):
    people = cast(world)
    browser = desk.browser()

    wrong = browser.sign_in(people["officer"], "not-the-password")
    unknown = browser.sign_in(Person(name="无名", email="nobody@example.cn", created_at=world.now))

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "邮箱或密码不正确" in response.text
    assert people["officer"].email in wrong.text  # the login stays filled in
    assert "not-the-password" not in wrong.text
    assert browser.get("/my").status_code == 303


def test_after_five_failures_even_the_right_password_waits(world, desk):
    people = cast(world)
    officer, office = people["officer"], people["office"]
    browser = desk.browser("192.0.2.10")
    for attempt in range(5):
        assert browser.sign_in(officer, f"wrong-{attempt}").status_code == 401

    sixth = browser.sign_in(officer)

    assert sixth.status_code == 429
    assert "登录失败次数过多" in sixth.text
    assert browser.get("/my").status_code == 303
    # the count is kept per login (from another address) and per address (another login)
    assert desk.browser("192.0.2.11").sign_in(officer).status_code == 429
    assert desk.browser("192.0.2.10").sign_in(office).status_code == 429
    assert desk.browser("192.0.2.12").sign_in(office).status_code == 303


def test_a_password_change_ends_the_sessions_signed_in_before(world, desk):
    cast(world)
    person = world.officer
    set_password(world.session, person, world.now, password_hash=FAST_HASHER.hash("旧密码-old-pw"))
    world.session.commit()
    task = world.task_at(Stage.ASSIGNED)
    world.session.commit()
    browser = desk.browser()
    assert browser.sign_in(person, "旧密码-old-pw").status_code == 303
    assert browser.get("/my").status_code == 200
    cookie, token = browser.client.cookies.get("rectify_session"), browser.csrf
    epoch = account_of(desk.engine, person).session_epoch

    set_password(world.session, person, world.now, password_hash=FAST_HASHER.hash("新密码-new-pw"))
    world.session.commit()

    assert account_of(desk.engine, person).session_epoch == epoch + 1
    response = browser.get("/my")
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/my")
    old_cookie = {"cookie": f"rectify_session={cookie}"}  # the cookie kept, sent again
    assert desk.browser().client.get("/my", headers=old_cookie).status_code == 303
    before = task_state_counts(desk.engine, task.id)
    acted = desk.browser().client.post(
        f"/tasks/{task.id}/do/start", data={"csrf": token}, headers=old_cookie
    )
    assert acted.status_code == 303
    assert acted.headers["location"].startswith("/login?next=")
    assert task_state_counts(desk.engine, task.id) == before
    assert desk.browser().sign_in(person, "旧密码-old-pw").status_code == 401
    assert desk.browser().sign_in(person, "新密码-new-pw").status_code == 303


OFF_SITE = [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/my",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    " //evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "https:evil.example",
]


def _where_a_browser_goes(location: str) -> httpx.URL:
    """Browsers drop tabs and newlines from a URL and read \\ as / before resolving it."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return httpx.URL("http://testserver/login").join(cleaned)


def test_sign_in_never_redirects_off_site(world, desk):
    people = cast(world)
    for target in OFF_SITE:
        browser = desk.browser()
        form = browser.get("/login", params={"next": target})
        assert form.status_code == 200
        response = browser.sign_in(people["officer"], next=target)
        assert response.status_code == 303, target
        landed = _where_a_browser_goes(response.headers["location"])
        assert (landed.scheme, landed.host) == ("http", "testserver"), (target, landed)
    page = desk.browser().get("/login", params={"next": "//evil.example"})
    assert 'name="next" value="/my"' in page.text
    here = desk.browser().sign_in(people["officer"], next="/ledger?stage=acting")
    assert here.headers["location"] == "/ledger?stage=acting"


# --- the calendar feed ------------------------------------------------------------------------


def test_the_calendar_feed_answers_its_key_with_the_persons_deadlines(world, desk):
    people = cast(world)
    mine = world.task_at(Stage.ACTING)
    mine.title = "我的限期任务"
    closed = world.task_at(Stage.SIGNED_OFF)
    closed.title = "已销号的任务"
    long_term = world.task_at(Stage.ACTING, long_term=True)
    long_term.title = "长期坚持的任务"
    lookback = world.task_at(Stage.LOOKBACK)
    lookback.title = "回头看的任务"
    someone = world.person("钱进", Role.OFFICER)
    theirs = world.new_task()
    theirs.title = "他人的任务"
    world.do(theirs, Action.ASSIGN, officer=someone)
    world.session.commit()
    officer_key = account_of(desk.engine, people["officer"]).feed_key
    reviewer_key = account_of(desk.engine, people["reviewer"]).feed_key

    officer_feed = desk.browser().get(f"/feeds/{officer_key}.ics")
    reviewer_feed = desk.browser().get(f"/feeds/{reviewer_key}.ics")

    assert officer_feed.status_code == 200
    assert officer_feed.headers["content-type"].startswith("text/calendar")
    events = _events(officer_feed.content)
    assert {summary: day for summary, day in events if "我的限期任务" in summary} != {}
    assert (f"【整改时限】1.{mine.number} 我的限期任务", date(2026, 10, 30)) in events
    summaries = " ".join(summary for summary, _ in events)
    for absent in ("已销号的任务", "长期坚持的任务", "他人的任务"):
        assert absent not in summaries
    assert [s for s, _ in _events(reviewer_feed.content) if "回头看的任务" in s] == [
        "【回头看时限】回头看的任务"
    ]
    for bad in ("not-a-key", officer_key[:-1], officer_key + "x", "x" * 300, "%2e%2e"):
        response = desk.browser().get(f"/feeds/{bad}.ics")
        assert response.status_code == 404, bad
        assert "BEGIN:VCALENDAR" not in response.text
    assert mine.deadline_class == DeadlineClass.DATED


def _events(body: bytes) -> list[tuple[str, date]]:
    calendar = Calendar.from_ical(body)
    return [(str(e["summary"]), e.decoded("dtstart")) for e in calendar.walk("VEVENT")]


def test_a_deactivated_persons_feed_is_gone(world, desk):
    people = cast(world)
    key = account_of(desk.engine, people["officer"]).feed_key
    assert desk.browser().get(f"/feeds/{key}.ics").status_code == 200
    people["officer"].active = False
    world.session.commit()

    assert desk.browser().get(f"/feeds/{key}.ics").status_code == 404


# --- NUL characters ----------------------------------------------------------------------------


def test_a_nul_character_in_what_is_sent_is_refused_not_a_crash(world, desk):
    """PostgreSQL text cannot hold NUL: whatever a browser sends with one is answered like
    any other bad input of its kind (not found, wrong password, refused) and changes nothing;
    a report's text is refused or kept. Never a server error."""
    people = cast(world)
    pending, acting = world.task_at(Stage.PENDING), world.task_at(Stage.ACTING)
    world.session.commit()
    officer, office = desk.signed_in(people["officer"]), desk.signed_in(people["office"])
    nul = "\x00"
    before = fingerprint(desk.engine)
    assign = {
        "officer": people["officer"].email,
        "leader": people["leader"].email,
        "lead_department": world.department.name,
        "deadline_class": "dated",
        "deadline": "2026-10-30",
    }
    someone = Person(name="x", email=f"a{nul}@example.cn", created_at=world.now)
    refused = {  # what is sent → the answers that fit it
        "feed key": (lambda: desk.browser().get("/feeds/%00.ics"), {404}),
        "feed key in the path": (lambda: desk.browser().get("/feeds/ab%00cd.ics"), {404}),
        "login": (lambda: desk.browser().sign_in(someone), {401}),
        "officer of an assignment": (
            lambda: office.post(
                f"/tasks/{pending.id}/do/assign", {**assign, "officer": f"{assign['officer']}{nul}"}
            ),
            {400, 404},
        ),
        "lead department": (
            lambda: office.post(
                f"/tasks/{pending.id}/do/assign", {**assign, "lead_department": f"科{nul}"}
            ),
            {400, 404},
        ),
        "ledger filter": (lambda: office.get("/ledger", params={"stage": f"acting{nul}"}), {400}),
    }
    answers = {what: send().status_code for what, (send, _) in refused.items()}
    after_refusals = fingerprint(desk.engine)
    fits = {what: fit for what, (_, fit) in refused.items()}
    report = officer.post(
        f"/tasks/{acting.id}/do/report_progress", {"status": "in_progress", "text": f"进展{nul}"}
    )
    answers["progress text"], fits["progress text"] = report.status_code, {303, 400}

    misfits = {what: answer for what, answer in answers.items() if answer not in fits[what]}
    expected = {what: sorted(fits[what]) for what in misfits}
    assert misfits == {}, f"expected {expected}"
    assert after_refusals == before
    with looking(desk.engine) as s:
        texts = [text.rstrip(nul) for text in s.exec(select(ProgressReport.text))]
    assert texts == ([] if report.status_code == 400 else ["进展"])


# --- optimistic locking -------------------------------------------------------------------------

FORM = re.compile(r'<form [^>]*action="/tasks/\d+/do/(\w+)"[^>]*>(.*?)</form>', re.S)
VERSION = re.compile(r'name="version" value="(\d+)"')


def versions_shown(page: httpx.Response) -> dict[str, str]:
    """The version each action's form on a task page will post."""
    return {action: VERSION.search(body).group(1) for action, body in FORM.findall(page.text)}


STALE_FORMS = {
    "start": ({}, []),
    "report_progress": ({"status": "in_progress", "text": "进展"}, []),
    "report_progress with a file": (
        {"status": "in_progress", "text": "进展"},
        [("照片.pdf", PDF, "application/pdf")],
    ),
    "attach_evidence": ({}, [("照片.pdf", PDF, "application/pdf")]),
    "request_extension": ({"deadline": "2026-12-31", "reason": "工程未完工"}, []),
}


@pytest.mark.parametrize("what", STALE_FORMS)
def test_an_action_from_a_stale_page_is_refused_and_changes_nothing(world, desk, what):
    """The officer's page was loaded before the office changed the task: whatever the
    officer then posts from it is 409, and the task, its records and the store stay as the
    office left them."""
    people = cast(world)
    task = world.task_at(Stage.ASSIGNED)
    world.session.commit()
    officer, office = desk.signed_in(people["officer"]), desk.signed_in(people["office"])
    action = what.split()[0]
    shown = versions_shown(officer.get(f"/tasks/{task.id}"))
    assert shown[action] == str(task.version)
    reassigned = office.post(
        f"/tasks/{task.id}/do/reassign",
        {"deadline": "2026-11-20", "reason": "调整", "version": str(task.version)},
    )
    assert reassigned.status_code == 303
    before, stored = task_state_counts(desk.engine, task.id), blobs(desk.home)
    fields, files = STALE_FORMS[what]

    response = upload(officer, task, files, action=action, version=int(shown[action]), **fields)

    assert response.status_code == 409
    assert "已被他人修改" in response.text
    assert task_state_counts(desk.engine, task.id) == before
    assert blobs(desk.home) == stored
    fresh = versions_shown(officer.get(f"/tasks/{task.id}"))
    assert int(fresh[action]) > int(shown[action])
    again = upload(officer, task, files, action=action, version=int(fresh[action]), **fields)
    assert again.status_code == 303


# --- forms with fields left out -----------------------------------------------------------------


def test_a_form_with_its_fields_left_out_is_refused_not_a_crash(world, desk):
    """Every action of the table, posted by someone it is offered to with only the CSRF token
    and the version: done when it needs no data (303), otherwise refused with a reason (400)
    and nothing changed; never a server error."""
    people = cast(world)
    browsers: dict[str, Browser] = {}
    problems = []
    for name, (make, focus) in SCENARIOS.items():
        task = None
        for action in focus or Action:
            if task is None:  # a new task once an empty form was enough to act
                task = make(world)
                world.session.commit()
            with looking(desk.engine) as s:
                current = s.get(Task, task.id)
                offered = [r for r, p in people.items() if action in allowed_actions(s, current, p)]
                version = current.version
            if not offered:
                continue
            role = offered[0]
            if role not in browsers:
                browsers[role] = desk.signed_in(people[role])
            before = task_state_counts(desk.engine, task.id)
            response = browsers[role].post(f"/tasks/{task.id}/do/{action}", {"version": version})
            where = f"{name}: {action} by {role} with an empty form"
            if response.status_code == 303:
                task = None
            elif response.status_code != 400:
                problems.append(f"{where}: expected 303 or 400, got {response.status_code}")
            if response.status_code != 303 and task_state_counts(desk.engine, task.id) != before:
                problems.append(f"{where}: refused, but the ledger changed")
    assert problems == [], "\n".join(problems)


def test_nothing_but_the_evidence_store_is_written(office, tmp_path):
    """The upload happy path, for the record: one blob under RECTIFY_HOME/evidence."""
    before = files_under(tmp_path)
    response = upload(office.officer, office.task, [("整改报告.pdf", PDF, "application/pdf")])
    assert response.status_code == 303
    written = files_under(tmp_path) - before
    assert len(written) == 1
    (blob,) = written
    assert blob.is_relative_to(office.desk.home / "evidence")
    assert blob.read_bytes() == PDF
    assert fingerprint(office.desk.engine)[2] == 1
