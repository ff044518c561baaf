"""A small organisation and a way to bring a task to any stage through the real workflow."""

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from models.directory import system_actor
from models.evidence import EvidencePolicy, store_file
from models.intake import add_area, add_task, create_inspection
from models.ledger import Area, DeadlineClass, FirstSigner, Inspection, Task
from models.people import Department, Person, Role
from models.stages import Action, Stage
from models.workflow import apply

POLICY = EvidencePolicy(max_bytes=1024 * 1024, allowed_types=("pdf", "png", "jpg", "txt", "docx"))
PDF = b"%PDF-1.4\n% evidence\n"

# The path every stage is reached by, from a fresh task.
PATH_TO: dict[Stage, list[Action]] = {
    Stage.PENDING: [],
    Stage.ASSIGNED: [Action.ASSIGN],
    Stage.ACTING: [Action.ASSIGN, Action.START],
    Stage.EVIDENCE: [Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT],
    Stage.SIGNED_OFF: [
        *(Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.APPROVE)
    ],
    Stage.LOOKBACK: [
        *(Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.APPROVE),
        Action.OPEN_LOOKBACK,
    ],
    Stage.CONSOLIDATED: [
        *(Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.APPROVE),
        *(Action.OPEN_LOOKBACK, Action.CONFIRM),
    ],
}


@dataclass
class World:
    """One inspection, one area, a department and a cast holding each role once."""

    session: Session
    now: datetime
    home: Path
    inspection: Inspection = field(init=False)
    area: Area = field(init=False)
    department: Department = field(init=False)
    support: Department = field(init=False)
    office: Person = field(init=False)  # 整改办
    leadership: Person = field(init=False)  # 领导小组
    officer: Person = field(init=False)  # 责任人
    leader: Person = field(init=False)  # 责任领导
    head: Person = field(init=False)  # 牵头部门负责人 (leader role, heads the department)
    reviewer: Person = field(init=False)  # 回头看
    admin: Person = field(init=False)
    system: Person = field(init=False)

    def __post_init__(self) -> None:
        s = self.session
        self.department = Department(name="河湖管理科")
        self.support = Department(name="水资源科")
        s.add_all([self.department, self.support])
        s.flush()
        self.office = self.person("王芳", Role.OFFICE)
        self.leadership = self.person("周明", Role.LEADERSHIP)
        self.officer = self.person("李明", Role.OFFICER)
        self.leader = self.person("张伟", Role.LEADER)
        self.head = self.person("陈静", Role.LEADER, heads=True)
        self.reviewer = self.person("赵敏", Role.REVIEWER)
        self.admin = self.person("孙立", Role.ADMIN)
        self.system = system_actor(s, self.now)
        self.inspection = create_inspection(
            s, title="市委第一巡察组对测试单位的巡察", actor=self.system, now=self.now
        )
        self.area = add_area(s, self.inspection, 1, "测试方面", self.system, self.now)
        s.flush()

    def person(self, name: str, *roles: Role, heads: bool = False) -> Person:
        person = Person(
            name=name,
            email=f"{abs(hash(name)) % 10**8}@example.cn",
            department_id=self.department.id,
            heads_department=heads,
            created_at=self.now,
        )
        person.set_roles(set(roles))
        self.session.add(person)
        self.session.flush()
        return person

    def later(self, days: int = 0, hours: int = 0) -> datetime:
        return self.now + timedelta(days=days, hours=hours)

    @property
    def deadline(self) -> date:
        return date(2026, 10, 30)

    def two_signatures(self, mode: FirstSigner = FirstSigner.LEADER) -> None:
        self.inspection.first_signer = mode
        self.session.flush()

    def new_task(self, *, long_term: bool = False, number: int | None = None) -> Task:
        number = number or (len(self.session.info.setdefault("tasks", [])) + 1)
        task = add_task(
            self.session,
            self.area,
            number,
            f"测试问题{number}",
            ["措施一", "措施二"],
            self.system,
            self.now,
        )
        task.deadline_class = DeadlineClass.LONG_TERM if long_term else DeadlineClass.DATED
        self.session.info["tasks"].append(task.id)
        return task

    def evidence(self, content: bytes = PDF, name: str = "照片.pdf"):
        return store_file(self.home, io.BytesIO(content), name, POLICY)

    def data_for(self, action: Action, task: Task) -> dict:
        """Valid data for an action, so tests can take any action with one call."""
        return {
            Action.ASSIGN: lambda: {
                "officer": self.officer,
                "leader": self.leader,
                "lead_department": self.department,
                "support_departments": [self.support],
                "deadline": None if task.is_long_term else self.deadline,
                "deadline_class": task.deadline_class,
            },
            Action.REASSIGN: lambda: {
                "deadline": self.deadline + timedelta(days=5),
                "reason": "调整",
            },
            Action.ATTACH_EVIDENCE: lambda: {"file": self.evidence()},
            Action.SUBMIT: lambda: {"summary": "已整改到位"},
            Action.REJECT: lambda: {"reason": "佐证不足"},
            Action.OPEN_LOOKBACK: lambda: {"reviewer": self.reviewer},
            Action.REBOUND: lambda: {"finding": "问题反弹", "deadline": date(2026, 12, 31)},
            Action.REPORT_PROGRESS: lambda: {"status": "in_progress", "text": "正在推进"},
            Action.REQUEST_EXTENSION: lambda: {
                "deadline": date(2026, 11, 30),
                "reason": "工程未完工",
            },
            Action.REFUSE_EXTENSION: lambda: {"reason": "理由不充分"},
        }.get(action, dict)()

    def actor_for(self, action: Action) -> Person:
        """The person who normally takes an action in these tests."""
        return {
            Action.ASSIGN: self.office,
            Action.REASSIGN: self.office,
            Action.START: self.officer,
            Action.ATTACH_EVIDENCE: self.officer,
            Action.SUBMIT: self.officer,
            Action.ENDORSE: self.leader,
            Action.APPROVE: self.office,
            Action.APPROVE_PHASE: self.office,
            Action.REJECT: self.office,
            Action.OPEN_LOOKBACK: self.system,
            Action.CONFIRM: self.reviewer,
            Action.REBOUND: self.reviewer,
            Action.REPORT_PROGRESS: self.officer,
            Action.REQUEST_EXTENSION: self.officer,
            Action.GRANT_EXTENSION: self.office,
            Action.REFUSE_EXTENSION: self.office,
        }[action]

    def do(self, task: Task, action: Action, actor: Person | None = None, **data):
        """Take an action with valid data (overridable) at the world's moment."""
        merged = {**self.data_for(action, task), **data}
        return apply(
            self.session, task, action, actor or self.actor_for(action), self.now, **merged
        )

    def task_at(self, stage: Stage, *, long_term: bool = False) -> Task:
        task = self.new_task(long_term=long_term)
        for action in PATH_TO[stage]:
            self.do(task, action)
        assert task.stage == stage
        return task
