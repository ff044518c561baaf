"""The web desk in a real browser (Debian's Chromium, driven by Playwright), on SQLite and
PostgreSQL: the demo ledger is loaded by `rectify init --demo`, the desk is served by uvicorn
on a free port, and people sign in, upload, submit, reject, resubmit and approve by filling
in its forms and clicking its buttons. Every page visited is saved as a full-page screenshot
under tests/artefacts/browser/<backend>/, and the database is checked at the end.

Chromium comes from `bash deploy/chromium-for-tests.sh` (`make test` runs it); Playwright's
own browser download is never used.
"""

import hashlib
import json
import re
import shutil
import socket
import struct
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    expect,
    sync_playwright,
)
from sqlalchemy import text

from cli.desk import desk_app
from flows.demo import DEMO_PASSWORD
from models.db import make_engine
from models.settings import Settings
from tests.cli_harness import Rectify
from tests.paths import TESTS

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = TESTS / "artefacts" / "browser"
SUPERVISOR = "许文博"  # 整改办 in flows/demo/people.csv
LIGHT_TILES = {"红灯": "overdue", "黄灯": "yellow", "绿灯": "green"}  # the board's tile ids
TILES = ("total", "overdue", "yellow", "green", "rebounds")
WAIT_MS = 10_000

SUMMARY = "已建立河湖巡查台账，问题点位全部完成整改，现场照片和整改报告见佐证材料。"
REASON = "佐证材料缺少整改前后对比说明，请补充说明后重新提交。"
SUMMARY_AGAIN = "已补充整改前后对比说明：问题点位整改前后情况均已拍照留存，详见整改报告。"
COMMENT = "佐证充分，同意销号。"


# --- real files to upload --------------------------------------------------------------------


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    """A real RGB PNG: a red flag with a white stripe, as a camera never took it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(b"\xff\xff\xff" if y == height // 2 else b"\xb3\x26\x1e" for _ in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(line: str = "Rectification report: river patrol ledger set up") -> bytes:
    """A real one-page PDF (catalog, page tree, page, content stream, font, xref table)."""
    content = f"BT /F1 16 Tf 72 760 Td ({line}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# --- the desk, served for real -----------------------------------------------------------------


@dataclass
class LiveDesk:
    url: str
    db: Rectify  # the installation: its home, database URL and `rectify` command

    def rows(self, sql: str, **params: object) -> list[dict]:
        engine = make_engine(self.db.url)
        try:
            with engine.connect() as connection:
                return [dict(row) for row in connection.execute(text(sql), params).mappings()]
        finally:
            engine.dispose()

    def one(self, sql: str, **params: object) -> dict:
        found = self.rows(sql, **params)
        assert len(found) == 1, f"expected one row, got {found}"
        return found[0]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def live_desk(demo: Rectify) -> Iterator[LiveDesk]:
    """The demo ledger's desk, as `rectify run` builds it, on 127.0.0.1 and a free port."""
    app = desk_app(Settings())  # RECTIFY_HOME and RECTIFY_DATABASE_URL are the demo's
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # held from here on: no other process can take the port
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not (server.started and _answers(f"{url}/login")):
        assert thread.is_alive(), "the desk stopped while starting"
        assert time.monotonic() < deadline, "the desk did not answer within 15 s"
        time.sleep(0.05)
    try:
        yield LiveDesk(url=url, db=demo)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        app.state.desk.engine.dispose()
        app.state.desk.reader.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing; run `bash deploy/chromium-for-tests.sh` (make test does)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


# --- people at their browsers ------------------------------------------------------------------


@dataclass
class Camera:
    """Numbered full-page screenshots, in the order the pages were visited."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def shoot(self, page: Page, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        self.taken.append(path)


@dataclass
class User:
    """One person in their own browser context (their own cookies), with what went wrong."""

    who: str
    page: Page
    camera: Camera
    base: str
    problems: list[str] = field(default_factory=list)

    def watch(self) -> None:
        """Server errors, failed requests and script or CSP errors are problems."""
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.url}"),
        )
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        # The desk has no favicon; Chromium asks for /favicon.ico anyway (nobody sees it).
        if message.type == "error" and not where.endswith("/favicon.ico"):
            self.problems.append(f"console: {message.text} at {where}")

    def visit(self, path: str, name: str, status: int = 200) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, (path, response)
        self.camera.shoot(self.page, f"{self.who}-{name}")

    def click(self, target: Locator, name: str, status: int = 200) -> None:
        """Click a link or a form's button and wait for the page it leads to."""
        with self.page.expect_navigation() as landed:
            target.click()
        response = landed.value
        assert response is not None and response.status == status, (name, response)
        self.page.wait_for_load_state()
        self.camera.shoot(self.page, f"{self.who}-{name}")

    def sign_in(self, email: str, name: str) -> None:
        self.visit("/", "login")  # the desk sends whoever is not signed in to sign in
        expect(self.page).to_have_url(re.compile(r"/login\?next=(%2F|/)my$"))
        expect(self.page.locator("h1")).to_have_text("登录")
        self.page.get_by_label("邮箱").fill(email)
        self.page.get_by_label("密码").fill(DEMO_PASSWORD)
        self.click(self.page.get_by_role("button", name="登录"), "my-tasks")
        expect(self.page).to_have_url(self.base + "/my")
        expect(self.page.locator("h1")).to_contain_text("我的任务")
        expect(self.page.locator("header .who")).to_contain_text(name)

    def sign_out(self) -> None:
        self.click(self.page.get_by_role("button", name="退出"), "signed-out")
        expect(self.page).to_have_url(self.base + "/login")
        expect(self.page.locator("header nav")).to_have_count(0)

    def nav(self, label: str, name: str) -> None:
        self.click(self.page.locator("header nav").get_by_role("link", name=label), name)

    def form(self, action: str) -> Locator:
        return self.page.locator(f'form[data-action="{action}"]')

    def send(self, action: str, button: str, name: str) -> None:
        """Press a form's button, by the words on it."""
        self.click(self.form(action).get_by_role("button", name=button, exact=True), name)

    def flash(self) -> Locator:
        return self.page.locator("p.flash")


def task_field(page: Page, label: str) -> str:
    """What the task page's fact sheet shows under a label (阶段, 责任人, …)."""
    cell = page.locator("section.card.grid > div").filter(
        has=page.locator("b", has_text=re.compile(f"^{label}$"))
    )
    return cell.evaluate("div => div.lastChild.textContent").strip()


def read_board(page: Page) -> dict:
    """The board as a reader sees it: the tiles, and each area's bar by stage (its tooltips)."""
    tiles = {tile: int(page.locator(f"b#{tile}").inner_text()) for tile in TILES}
    areas = page.locator('svg[aria-label="各方面整改进度"]').evaluate(
        """svg => {
            const rows = {};
            let row = null;
            for (const el of svg.children) {
                if (el.tagName === "text" && el.classList.contains("label")) {
                    row = el.textContent.trim();
                    rows[row] = {stages: {}, total: null};
                } else if (el.tagName === "rect" && row !== null) {
                    const m = el.querySelector("title").textContent.match(/^(\\S+) (\\d+) 项$/);
                    rows[row].stages[m[1]] = Number(m[2]);
                } else if (el.tagName === "text" && row !== null) {
                    rows[row].total = Number(el.textContent);
                }
            }
            return rows;
        }"""
    )
    return {"tiles": tiles, "areas": areas}


def area_row(board: dict, area_number: int) -> tuple[str, dict]:
    found = [(label, row) for label, row in board["areas"].items()
             if label.startswith(f"{area_number}. ")]  # fmt: skip
    assert len(found) == 1, (area_number, board["areas"])
    return found[0]


def card(page: Page, title: str) -> Locator:
    """A section of the task page by its heading (佐证材料, 销号申请, 审核记录, …)."""
    return page.locator("section.card").filter(
        has=page.locator("h2", has_text=re.compile(f"^{title}"))
    )


def evidence_item(page: Page, name: str) -> Locator:
    return (
        card(page, "佐证材料")
        .locator("ul.evidence > li")
        .filter(has=page.get_by_role("link", name=name, exact=True))
    )


# --- the scenario ------------------------------------------------------------------------------


def test_an_officer_and_the_office_take_a_task_to_sign_off_in_the_browser(
    live_desk: LiveDesk, browser: Browser, tmp_path: Path
):
    desk = live_desk
    backend = "postgresql" if desk.db.url.startswith("postgresql") else "sqlite"
    folder = ARTEFACTS / backend
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    camera = Camera(folder)

    # A task in 整改中 whose officer can sign in, and a 整改办 supervisor who is someone else.
    tasks = desk.rows(
        """SELECT t.id, t.title, a.number AS area_number,
                  p.id AS officer_id, p.name AS officer, p.email
           FROM task t JOIN area a ON a.id = t.area_id
           JOIN person p ON p.id = t.officer_id JOIN account ac ON ac.person_id = p.id
           WHERE t.stage = 'acting' AND t.deadline_class <> 'long_term'
             AND p.active AND p.email IS NOT NULL
           ORDER BY t.id"""
    )
    assert tasks, "the demo ledger has no dated task in 整改中 whose officer can sign in"
    task = tasks[0]
    supervisors = desk.rows(
        """SELECT p.id, p.name, p.email FROM person p
           JOIN person_role r ON r.person_id = p.id JOIN account ac ON ac.person_id = p.id
           WHERE r.role = 'office' AND p.active AND p.email IS NOT NULL AND p.id <> :officer
           ORDER BY CASE WHEN p.name = :preferred THEN 0 ELSE 1 END, p.id""",
        officer=task["officer_id"],
        preferred=SUPERVISOR,
    )
    assert supervisors, "the demo ledger has no other 整改办 member who can sign in"
    supervisor = supervisors[0]
    task_path = f"/tasks/{task['id']}"
    events_before = desk.one("SELECT COUNT(*) AS n FROM audit_event WHERE task_id = :t",
                             t=task["id"])["n"]  # fmt: skip
    assert desk.rows("SELECT id FROM evidence WHERE task_id = :t", t=task["id"]) == []

    photo, report = tmp_path / "整改现场照片.png", tmp_path / "整改报告.pdf"
    photo.write_bytes(png_bytes())
    report.write_bytes(pdf_bytes())

    users = []

    def user(who: str) -> User:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(WAIT_MS)
        one = User(who, context.new_page(), camera, desk.url)
        one.watch()
        users.append(one)
        return one

    office, officer = user("office"), user("officer")

    # The supervisor looks at the board before anything happens.
    office.sign_in(supervisor["email"], supervisor["name"])
    office.nav("挂图作战", "board-before")
    expect(office.page.locator("h1")).to_contain_text("挂图作战")
    before = read_board(office.page)
    label, row_before = area_row(before, task["area_number"])

    # The officer signs in and finds the task among theirs, in 整改中.
    officer.sign_in(task["email"], task["officer"])
    line = officer.page.locator("table.tasks tbody tr").filter(
        has=officer.page.get_by_role("link", name=task["title"], exact=True)
    )
    expect(line.locator("td").nth(3)).to_have_text("整改中")
    officer.click(line.get_by_role("link", name=task["title"], exact=True), "task")
    expect(officer.page).to_have_url(desk.url + task_path)
    assert task_field(officer.page, "阶段") == "整改中"
    assert task_field(officer.page, "责任人") == task["officer"]
    light = officer.page.locator("h1 .light").inner_text().strip()
    assert light in LIGHT_TILES, light
    expect(card(officer.page, "佐证材料")).to_contain_text("尚无佐证材料")
    # Nothing to submit yet: the desk offers sign-off only once there is evidence.
    expect(officer.form("submit")).to_have_count(0)
    expect(officer.form("approve")).to_have_count(0)

    # Two files as evidence, in one upload.
    upload = officer.form("attach_evidence")
    upload.locator('input[type="file"][name="files"]').set_input_files([photo, report])
    upload.get_by_label("材料说明").fill("整改现场照片及整改报告")
    officer.send("attach_evidence", "上传佐证材料", "evidence-uploaded")
    expect(officer.flash()).to_have_text("已上传佐证材料（2 份材料）")
    expect(card(officer.page, "佐证材料").locator("h2")).to_contain_text("2 份")
    for name in (photo.name, report.name):
        item = evidence_item(officer.page, name)
        expect(item).to_contain_text("整改现场照片及整改报告")
        expect(item).to_contain_text(task["officer"])
    thumbnail = evidence_item(officer.page, photo.name).locator("img.thumb")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 24  # it renders
    expect(
        evidence_item(officer.page, report.name).get_by_role("link", name="预览")
    ).to_be_visible()
    for name, path in ((photo.name, photo), (report.name, report)):  # what comes back is the file
        href = evidence_item(officer.page, name).get_by_text(name, exact=True).get_attribute("href")
        fetched = officer.page.request.get(desk.url + href)
        assert fetched.status == 200 and fetched.body() == path.read_bytes(), name

    # Submit for sign-off, with a summary.
    officer.form("submit").get_by_label("整改情况（销号申请）").fill(SUMMARY)
    officer.send("submit", "提交销号申请", "submitted")
    expect(officer.flash()).to_have_text("已提交销号申请")
    assert task_field(officer.page, "阶段") == "待销号"
    expect(card(officer.page, "销号申请")).to_contain_text(SUMMARY)
    for decision in ("approve", "reject", "attach_evidence", "submit"):
        expect(officer.form(decision)).to_have_count(0)  # no deciding on one's own submission

    # The supervisor finds it in the sign-off queue and sends it back with a reason.
    office.nav("销号审核", "signoffs")
    waiting = office.page.get_by_role("link", name=task["title"], exact=True)
    expect(waiting).to_be_visible()
    office.click(waiting, "task-to-review")
    assert task_field(office.page, "阶段") == "待销号"
    expect(card(office.page, "销号申请")).to_contain_text(SUMMARY)
    expect(evidence_item(office.page, photo.name)).to_be_visible()
    expect(evidence_item(office.page, report.name)).to_be_visible()
    office.form("reject").get_by_label("理由（必填）").fill(REASON)
    office.send("reject", "退回销号申请", "rejected")
    expect(office.flash()).to_have_text("已退回销号申请")
    assert task_field(office.page, "阶段") == "整改中"

    # The officer sees it back in 整改中, with the reason, and submits again.
    officer.nav("我的任务", "my-tasks-after-rejection")
    expect(line.locator("td").nth(3)).to_have_text("整改中")
    officer.click(line.get_by_role("link", name=task["title"], exact=True), "task-rejected")
    assert task_field(officer.page, "阶段") == "整改中"
    record = card(officer.page, "审核记录").locator("tbody tr")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("退回")
    expect(record).to_contain_text(supervisor["name"])
    expect(record).to_contain_text(REASON)
    expect(card(officer.page, "佐证材料").locator("h2")).to_contain_text("2 份")  # still there
    officer.form("submit").get_by_label("整改情况（销号申请）").fill(SUMMARY_AGAIN)
    officer.send("submit", "提交销号申请", "resubmitted")
    expect(officer.flash()).to_have_text("已提交销号申请")
    assert task_field(officer.page, "阶段") == "待销号"

    # The supervisor approves the new submission.
    office.nav("销号审核", "signoffs-again")
    office.click(
        office.page.get_by_role("link", name=task["title"], exact=True), "task-resubmitted"
    )
    expect(card(office.page, "销号申请")).to_contain_text(SUMMARY_AGAIN)
    office.form("approve").get_by_label("意见").fill(COMMENT)
    office.send("approve", "批准销号", "approved")
    expect(office.flash()).to_have_text("已批准销号")
    assert task_field(office.page, "阶段") == "已销号"
    expect(office.page.locator("h1 .light")).to_have_text("已销号")
    decisions = card(office.page, "审核记录").locator("tbody tr")
    expect(decisions).to_have_count(2)
    expect(decisions.nth(0)).to_contain_text("退回")
    expect(decisions.nth(0)).to_contain_text(REASON)
    expect(decisions.nth(1)).to_contain_text("批准销号")
    expect(decisions.nth(1)).to_contain_text(COMMENT)
    office.nav("销号审核", "signoffs-done")
    expect(office.page.get_by_role("link", name=task["title"], exact=True)).to_have_count(0)

    # The board: one task less in its light and in 整改中, one more in 已销号, for its area.
    office.nav("挂图作战", "board-after")
    after = read_board(office.page)
    expected_tiles = dict(before["tiles"])
    expected_tiles[LIGHT_TILES[light]] -= 1
    assert after["tiles"] == expected_tiles
    expected_row = {"stages": dict(row_before["stages"]), "total": row_before["total"]}
    expected_row["stages"]["整改中"] -= 1
    expected_row["stages"]["已销号"] = expected_row["stages"].get("已销号", 0) + 1
    expected_row["stages"] = {k: v for k, v in expected_row["stages"].items() if v}
    assert after["areas"][label] == expected_row
    others = {k: v for k, v in before["areas"].items() if k != label}
    assert {k: v for k, v in after["areas"].items() if k != label} == others

    # The officer sees the task signed off; both sign out.
    officer.nav("我的任务", "my-tasks-signed-off")
    expect(line.locator("td").nth(3)).to_have_text("已销号")
    officer.sign_out()
    office.sign_out()

    assert [p for u in users for p in u.problems] == []
    for one in users:
        one.page.context.close()

    # The database says the same: signed off in round 2, a rejection then an approval.
    stored = desk.one(
        "SELECT stage, round, submitted_by_id, submission_summary, signed_off_at FROM task"
        " WHERE id = :t",
        t=task["id"],
    )
    assert (stored["stage"], stored["round"]) == ("signed_off", 2)
    assert stored["submitted_by_id"] == task["officer_id"]
    assert stored["submission_summary"] == SUMMARY_AGAIN
    assert stored["signed_off_at"] is not None
    evidence = desk.rows(
        "SELECT name, sha256, size, uploaded_by_id, description FROM evidence"
        " WHERE task_id = :t ORDER BY name",
        t=task["id"],
    )
    uploaded = {p.name: p.read_bytes() for p in (photo, report)}
    assert [(e["name"], e["sha256"], e["size"]) for e in evidence] == [
        (name, hashlib.sha256(data).hexdigest(), len(data))
        for name, data in sorted(uploaded.items())
    ]
    assert {(e["uploaded_by_id"], e["description"]) for e in evidence} == {
        (task["officer_id"], "整改现场照片及整改报告")
    }
    signoffs = desk.rows(
        "SELECT round, decision, signer_id, comment, evidence_hashes FROM sign_off"
        " WHERE task_id = :t ORDER BY id",
        t=task["id"],
    )
    hashes = sorted(e["sha256"] for e in evidence)
    assert [(s["round"], s["decision"], s["signer_id"], s["comment"]) for s in signoffs] == [
        (1, "rejected", supervisor["id"], REASON),
        (2, "approved", supervisor["id"], COMMENT),
    ]
    for s in signoffs:
        seen = s["evidence_hashes"]
        assert sorted(json.loads(seen) if isinstance(seen, str) else seen) == hashes
    actions = desk.rows(
        "SELECT action, actor_id FROM audit_event WHERE task_id = :t ORDER BY seq, id",
        t=task["id"],
    )[events_before:]
    assert [(a["action"], a["actor_id"]) for a in actions] == [
        ("attach_evidence", task["officer_id"]),
        ("attach_evidence", task["officer_id"]),
        ("submit", task["officer_id"]),
        ("reject", supervisor["id"]),
        ("submit", task["officer_id"]),
        ("approve", supervisor["id"]),
    ]
    desk.db.ok("audit", "verify")

    names = [p.name for p in camera.taken]
    assert len(names) == len(set(names)) == len(list(folder.glob("*.png")))
    assert all(p.stat().st_size > 0 for p in camera.taken)
