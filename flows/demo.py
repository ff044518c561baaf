"""The demo ledger: the project's own synthetic notice, staff list and ledger, brought to life.

Every step goes through the real workflow (`apply`) with moments in the past, so the demo's
audit trail, sign-offs and look-backs are exactly what real use would have produced.
"""

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from flows.notice_import import import_notice_bytes
from flows.people_file import read_people_file
from models.accounts import hash_password, set_password
from models.calendar import local_date
from models.directory import find_department, find_person, import_people, system_actor
from models.evidence import EvidencePolicy, store_file
from models.intake import find_inspection_by_source
from models.ledger import Area, DeadlineClass, Task
from models.people import Person
from models.records import ProgressStatus
from models.stages import Action
from models.workflow import apply

DEMO = Path(__file__).with_name("demo")
NOTICE = DEMO / "notice.txt"
PEOPLE = DEMO / "people.csv"
LEDGER = DEMO / "ledger.csv"

OFFICE, SECOND_OFFICE = "许文博", "邓佳琪"
REVIEWERS = ("韩冰", "冯雪莹")
CLASSES = {
    "立行立改": DeadlineClass.IMMEDIATE,
    "限期整改": DeadlineClass.DATED,
    "长期坚持": DeadlineClass.LONG_TERM,
}

SET_UP_DAYS_AGO = 240
# Everyone on the demo staff list signs in to the desk with their e-mail and this password.
DEMO_PASSWORD = "rectify-demo"
DEMO_SIGN_INS = (("责任人", "何静怡"), ("整改办", "许文博"), ("领导小组", "周明远"),
                 ("责任领导", "陈立群"), ("回头看", "韩冰"), ("系统管理员", "吴家豪"))  # fmt: skip

# For each stage the demo shows, the steps that bring a task there (action, days ago).
SCRIPTS: dict[str, list[tuple[Action, int]]] = {
    "待交办": [],
    "已交办": [(Action.ASSIGN, 40)],
    "整改中": [(Action.ASSIGN, 60), (Action.START, 58), (Action.REPORT_PROGRESS, 20)],
    "待销号": [
        (Action.ASSIGN, 60),
        (Action.START, 58),
        (Action.ATTACH_EVIDENCE, 5),
        (Action.SUBMIT, 3),
    ],
    "已销号": [
        *[(Action.ASSIGN, 130), (Action.START, 128), (Action.ATTACH_EVIDENCE, 45)],
        *[(Action.SUBMIT, 42), (Action.APPROVE, 40)],
    ],
    "回头看": [
        *[(Action.ASSIGN, 200), (Action.START, 198), (Action.ATTACH_EVIDENCE, 110)],
        *[(Action.SUBMIT, 105), (Action.APPROVE, 100), (Action.OPEN_LOOKBACK, 4)],
    ],
    "已巩固": [
        *[(Action.ASSIGN, 220), (Action.START, 218), (Action.ATTACH_EVIDENCE, 130)],
        *[
            (Action.SUBMIT, 125),
            (Action.APPROVE, 120),
            (Action.OPEN_LOOKBACK, 25),
            (Action.CONFIRM, 6),
        ],
    ],
}


@dataclass
class DemoResult:
    created: bool
    tasks: int


def is_demo_ledger(session: Session) -> bool:
    """Whether the demo ledger is loaded (the desk then prints the demo sign-ins)."""
    digest = hashlib.sha256(NOTICE.read_bytes()).hexdigest()
    return find_inspection_by_source(session, digest) is not None


def load_demo(session: Session, home: Path, now: datetime, policy: EvidencePolicy) -> DemoResult:
    """Load the demo ledger once; loading it again changes nothing."""
    if is_demo_ledger(session):
        return DemoResult(created=False, tasks=0)
    notice = NOTICE.read_bytes()
    # The ledger was set up before the scripted history below began.
    set_up = now - timedelta(days=SET_UP_DAYS_AGO)
    system = system_actor(session, set_up)
    people = import_people(session, read_people_file(PEOPLE), system, set_up)
    if people.problems:  # the shipped list is checked by the tests; this guards edits to it
        raise RuntimeError("演示人员名单有误：" + "；".join(people.problems))
    shared_hash = hash_password(DEMO_PASSWORD)  # one argon2 run for the whole staff list
    for person in session.exec(select(Person).where(Person.email.is_not(None))):
        set_password(session, person, set_up, password_hash=shared_hash)
    imported = import_notice_bytes(session, notice, system, set_up)
    tasks = {
        (area.number, task.number): task
        for task, area in session.exec(
            select(Task, Area).join(Area).where(Task.inspection_id == imported.inspection.id)
        )
    }
    today = local_date(now)
    for row in csv.DictReader(io.StringIO(LEDGER.read_text(encoding="utf-8"))):
        task = tasks[int(row["方面序号"]), int(row["问题序号"])]
        for action, days_ago in SCRIPTS[row["演示进度"]]:
            _act(session, task, row, action, now - timedelta(days=days_ago), today, home, policy)
    return DemoResult(created=True, tasks=len(tasks))


def _act(
    session: Session,
    task: Task,
    row: dict[str, str],
    action: Action,
    at: datetime,
    today: date,
    home: Path,
    policy: EvidencePolicy,
) -> None:
    officer = find_person(session, row["责任人"])
    office = find_person(session, OFFICE)
    if action == Action.ASSIGN:
        days = row["时限天数"].strip()
        apply(
            session,
            task,
            action,
            office,
            at,
            officer=officer,
            leader=find_person(session, row["责任领导"]),
            lead_department=find_department(session, row["牵头部门"]),
            support_departments=[
                find_department(session, name) for name in row["配合部门"].split("、") if name
            ],
            deadline=today + timedelta(days=int(days)) if days else None,
            deadline_class=CLASSES[row["时限类别"]],
        )
    elif action == Action.START:
        apply(session, task, action, officer, at)
    elif action == Action.REPORT_PROGRESS:
        text = f"已按整改方案推进“{task.title}”的各项措施，阶段性工作已完成。"
        apply(session, task, action, officer, at, status=ProgressStatus.IN_PROGRESS, text=text)
    elif action == Action.ATTACH_EVIDENCE:
        content = f"演示佐证材料\n任务：{task.title}\n说明：整改措施落实情况的工作记录。\n"
        stored = store_file(
            home, io.BytesIO(content.encode()), f"任务{task.id}佐证材料.txt", policy
        )
        apply(session, task, action, officer, at, file=stored, description="整改工作记录（演示）")
    elif action == Action.SUBMIT:
        apply(session, task, action, officer, at, summary="各项整改措施已落实到位，申请销号。")
    elif action == Action.APPROVE:
        apply(
            session,
            task,
            action,
            find_person(session, SECOND_OFFICE),
            at,
            comment="佐证充分，同意销号。",
        )
    elif action == Action.OPEN_LOOKBACK:
        reviewer = find_person(session, REVIEWERS[task.id % len(REVIEWERS)])
        apply(session, task, action, system_actor(session, at), at, reviewer=reviewer)
    elif action == Action.CONFIRM:
        reviewer = find_person(session, REVIEWERS[task.id % len(REVIEWERS)])
        apply(session, task, action, reviewer, at, comment="经实地核查，整改成效巩固，未发现反弹。")
