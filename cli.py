"""The `rectify` command: the composition root that wires settings, database and domain."""

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, select
from typer.exceptions import TyperException

from flows.demo import load_demo
from flows.people_file import read_people_file
from models import audit
from models.calendar import SHANGHAI, local_date
from models.db import make_engine, require_current_schema, transaction, upgrade
from models.directory import find_department, find_person, import_people, system_actor
from models.errors import BadInput, NotFound, RectifyError
from models.evidence import EvidencePolicy, StoredFile, discard_unreferenced, store_file
from models.intake import set_first_signer
from models.ledger import (
    DEADLINE_CLASS_LABELS,
    FIRST_SIGNER_LABELS,
    Area,
    DeadlineClass,
    FirstSigner,
    Inspection,
    Measure,
    Task,
    TaskSupport,
)
from models.lights import LIGHT_LABELS, Light, light
from models.people import ROLE_LABELS, Department, Person, Role
from models.queries import ledger_summary, records_of
from models.records import (
    DECISION_LABELS,
    PROGRESS_STATUS_LABELS,
    DeadlineChange,
    Decision,
    Evidence,
    ProgressReport,
    ProgressStatus,
    SignOff,
)
from models.settings import Settings
from models.stages import ACTION_LABELS, STAGE_LABELS, Action, Stage
from models.workflow import allowed_actions, apply

app = typer.Typer(
    help="Rectify：巡察整改工作平台（整改台账、销号流程、提醒、调度与回头看）",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
people_app = typer.Typer(help="人员与角色", no_args_is_help=True)
task_app = typer.Typer(help="整改任务：查看与办理", no_args_is_help=True)
ledger_app = typer.Typer(help="整改台账", no_args_is_help=True)
audit_app = typer.Typer(help="审计记录", no_args_is_help=True)
inspection_app = typer.Typer(help="巡察（整改批次）", no_args_is_help=True)
app.add_typer(people_app, name="people")
app.add_typer(task_app, name="task")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
app.add_typer(inspection_app, name="inspection")

# User text may contain [brackets], so no markup. Piped output gets room for Chinese tables.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
console = Console(highlight=False, markup=False, width=_WIDTH)
errors = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)  # one line each

LIGHT_STYLES = {Light.RED: "red", Light.YELLOW: "yellow", Light.GREEN: "green"}

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
def unit_of_work(*, migrated: bool = True) -> Iterator[tuple[Session, Settings]]:
    """One transaction on the configured database, committed only if the command succeeds."""
    current = settings()
    engine = engine_for(current)
    try:
        if migrated:
            require_current_schema(engine)
        with transaction(engine) as session:
            yield session, current
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


def evidence_policy(current: Settings) -> EvidencePolicy:
    return EvidencePolicy(
        max_bytes=current.evidence_max_bytes, allowed_types=tuple(current.evidence_allowed_types)
    )


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
        apply(session, task, action, actor, now(), **resolved)
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


# --- init and people -------------------------------------------------------------------


@app.command()
def init(
    demo: Annotated[bool, typer.Option("--demo", help="同时载入演示台账")] = False,
) -> None:
    """创建或升级数据库；加 --demo 载入演示台账。"""
    current = settings()
    current.home.mkdir(parents=True, exist_ok=True)
    engine = engine_for(current)
    try:
        upgrade(engine)
        console.print(f"数据库已就绪：{_safe_url(current.db_url)}")
        if demo:
            with transaction(engine) as session:
                result = load_demo(session, current.home, now(), evidence_policy(current))
            if result.created:
                console.print(f"已载入演示台账：{result.tasks} 项整改任务")
            else:
                console.print("演示台账已存在，未重复载入")
    finally:
        engine.dispose()


def _safe_url(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


@people_app.command("import")
def people_import(
    file: Annotated[
        Path, typer.Argument(help="人员名单（.csv 或 .xlsx：姓名、部门、邮箱、角色、上级）")
    ],
    actor_ref: Annotated[str | None, typer.Option("--as", help="办理人（须为系统管理员）")] = None,
) -> None:
    """导入或更新人员名单：有任何一行出错则全部不导入。"""
    rows = read_people_file(file)
    with unit_of_work() as (session, _):
        moment = now()
        actor = system_actor(session, moment)
        if actor_ref is not None:
            actor = find_person(session, actor_ref)
            if not actor.has_role(Role.ADMIN):
                raise RectifyError(f"{actor.name} 不是系统管理员，不能导入人员名单")
        result = import_people(session, rows, actor, moment)
        if result.problems:
            raise BadInput(
                f"人员名单有 {len(result.problems)} 处问题，未导入任何数据：\n"
                + "\n".join(f"  {p}" for p in result.problems)
            )
    console.print(f"人员名单已导入：新增 {result.created} 人，更新 {result.updated} 人")


@people_app.command("list")
def people_list(as_json: JsonOption = False) -> None:
    """列出人员、部门与角色。"""
    with unit_of_work() as (session, _):
        departments = {d.id: d.name for d in session.exec(select(Department))}
        people = [
            p
            for p in session.exec(select(Person).order_by(Person.id))
            if Role.SYSTEM not in p.roles
        ]
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "department": departments.get(p.department_id),
                "email": p.email,
                "roles": sorted(p.roles),
                "heads_department": p.heads_department,
            }
            for p in people
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("编号", "姓名", "部门", "邮箱", "角色")
    for row in rows:
        roles = "、".join(ROLE_LABELS[Role(r)] for r in row["roles"])
        if row["heads_department"]:
            roles += "（部门负责人）"
        table.add_row(
            str(row["id"]), row["name"], row["department"] or "", row["email"] or "", roles
        )
    console.print(table)


# --- inspections -----------------------------------------------------------------------


@inspection_app.command("list")
def inspection_list() -> None:
    """列出巡察及其销号签批方式。"""
    with unit_of_work() as (session, _):
        table = Table("编号", "巡察", "巡察组", "反馈日期", "销号签批")
        for inspection in session.exec(select(Inspection).order_by(Inspection.id)):
            table.add_row(
                str(inspection.id),
                inspection.title,
                inspection.group or "",
                str(inspection.feedback or ""),
                FIRST_SIGNER_LABELS[FirstSigner(inspection.first_signer)],
            )
    console.print(table)


@inspection_app.command("signoff")
def inspection_signoff(
    inspection_id: int,
    mode: Annotated[str, typer.Argument(help="none（整改办单签）、leader 或 department_head")],
    actor_ref: AsOption,
) -> None:
    """设置销号签批方式：单签，或先由责任领导/牵头部门负责人初审再由整改办终审。"""
    chosen = parse_choice(mode, {m: m.value for m in FirstSigner}, "签批方式")
    with unit_of_work() as (session, _):
        inspection = session.get(Inspection, inspection_id)
        if inspection is None:
            raise NotFound(f"找不到巡察 {inspection_id}")
        actor = find_person(session, actor_ref)
        if not actor.has_role(Role.OFFICE, Role.LEADERSHIP):
            raise RectifyError(f"{actor.name} 无权设置销号签批方式：需要整改办或领导小组身份")
        set_first_signer(session, inspection, chosen, actor, now())
    console.print(f"巡察 {inspection_id} 的销号签批方式：{FIRST_SIGNER_LABELS[chosen]}")


# --- tasks: reading --------------------------------------------------------------------


def _names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    people = {p.id: p.name for p in session.exec(select(Person))}
    departments = {d.id: d.name for d in session.exec(select(Department))}
    return people, departments


def _light_text(lamp: Light) -> Text:
    style = LIGHT_STYLES.get(lamp)
    label = LIGHT_LABELS[lamp]
    return Text.assemble(("● ", style), label) if style else Text(label)


@task_app.command("list")
def task_list(
    stage: Annotated[str | None, typer.Option(help="只看某一阶段（如 整改中 或 acting）")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出整改任务及其红黄绿灯。"""
    wanted = parse_choice(stage, STAGE_LABELS, "阶段") if stage else None
    with unit_of_work() as (session, _):
        today = local_date(now())
        people, departments = _names(session)
        areas = {a.id: a for a in session.exec(select(Area))}
        query = select(Task).order_by(Task.inspection_id, Task.area_id, Task.number)
        if wanted is not None:
            query = query.where(Task.stage == wanted)
        rows = [
            {
                "id": t.id,
                "number": f"{areas[t.area_id].number}.{t.number}",
                "area": areas[t.area_id].title,
                "title": t.title,
                "officer": people.get(t.officer_id),
                "lead_department": departments.get(t.lead_department_id),
                "deadline": t.deadline,
                "deadline_class": t.deadline_class,
                "stage": t.stage,
                "light": light(t, today),
            }
            for t in session.exec(query)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(expand=True)
    table.add_column("编号", no_wrap=True)
    table.add_column("序号", no_wrap=True)
    table.add_column("问题", ratio=1, overflow="fold")
    table.add_column("牵头部门", overflow="fold")
    table.add_column("责任人", no_wrap=True)
    table.add_column("整改时限", no_wrap=True)
    table.add_column("阶段", no_wrap=True)
    table.add_column("灯", no_wrap=True)
    for row in rows:
        deadline = row["deadline"] or DEADLINE_CLASS_LABELS[DeadlineClass(row["deadline_class"])]
        table.add_row(
            str(row["id"]),
            row["number"],
            row["title"],
            row["lead_department"] or "",
            row["officer"] or "",
            str(deadline) if row["officer"] else "",
            STAGE_LABELS[Stage(row["stage"])],
            _light_text(row["light"]),
        )
    console.print(table)
    console.print(f"共 {len(rows)} 项")


@task_app.command("show")
def task_show(
    task_id: int,
    actor_ref: Annotated[str | None, typer.Option("--as", help="显示此人现在可执行的操作")] = None,
    as_json: JsonOption = False,
) -> None:
    """显示一项任务：问题、措施、责任人、时限历史、佐证、签批、进展与审计记录。"""
    with unit_of_work() as (session, _):
        task = load_task(session, task_id)
        people, departments = _names(session)
        area = session.get(Area, task.area_id)
        supports = session.exec(
            select(TaskSupport.department_id).where(TaskSupport.task_id == task.id)
        )
        info: dict[str, Any] = {
            "id": task.id,
            "area": f"{area.number}. {area.title}",
            "number": task.number,
            "title": task.title,
            "stage": task.stage,
            "light": light(task, local_date(now())),
            "leader": people.get(task.leader_id),
            "lead_department": departments.get(task.lead_department_id),
            "support_departments": [departments[d] for d in supports],
            "officer": people.get(task.officer_id),
            "deadline": task.deadline,
            "deadline_class": task.deadline_class,
            "phase": task.phase,
            "rebound_count": task.rebound_count,
            "version": task.version,
            "measures": [m.text for m in records_of(session, Measure, task.id)],
            "evidence": [
                {
                    "name": e.name,
                    "size": e.size,
                    "sha256": e.sha256,
                    "by": people[e.uploaded_by_id],
                    "at": e.uploaded_at,
                }
                for e in records_of(session, Evidence, task.id)
            ],
            "sign_offs": [
                {
                    "decision": s.decision,
                    "by": people[s.signer_id],
                    "at": s.at,
                    "comment": s.comment,
                    "evidence": len(s.evidence_hashes),
                }
                for s in records_of(session, SignOff, task.id)
            ],
            "deadline_history": [
                {
                    "from": d.old_deadline,
                    "to": d.new_deadline,
                    "via": d.via,
                    "by": people[d.by_id],
                    "at": d.at,
                    "reason": d.reason,
                }
                for d in records_of(session, DeadlineChange, task.id)
            ],
            "progress": [
                {"status": p.status, "text": p.text, "by": people[p.reporter_id], "at": p.at}
                for p in records_of(session, ProgressReport, task.id)
            ],
            "audit": [
                {
                    "seq": e.seq,
                    "action": e.action,
                    "by": e.actor_name,
                    "at": e.at,
                    "stage": e.stage_to,
                }
                for e in session.exec(
                    select(audit.AuditEvent)
                    .where(audit.AuditEvent.task_id == task.id)
                    .order_by(audit.AuditEvent.seq)
                )
            ],
        }
        if actor_ref:
            actor = find_person(session, actor_ref)
            info["allowed_actions"] = list(allowed_actions(session, task, actor))
    if as_json:
        print_json(info)
        return
    _print_task(info, actor_ref)


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"


def _print_task(info: dict[str, Any], actor_ref: str | None) -> None:
    """Free text is soft-wrapped: Chinese has no spaces for rich to break lines at."""
    say = partial(console.print, soft_wrap=True)
    deadline_class = DEADLINE_CLASS_LABELS[DeadlineClass(info["deadline_class"])]
    say(f"任务 {info['id']}：{info['title']}", style="bold")
    say(f"方面：{info['area']}")
    say(
        Text(f"阶段：{STAGE_LABELS[Stage(info['stage'])]}    灯："),
        _light_text(info["light"]),
        sep="",
    )
    say(f"责任领导：{info['leader'] or '—'}    牵头部门：{info['lead_department'] or '—'}")
    supports = "、".join(info["support_departments"]) or "—"
    say(f"配合部门：{supports}    责任人：{info['officer'] or '—'}")
    say(f"整改时限：{info['deadline'] or '—'}（{deadline_class}）")
    if info["rebound_count"]:
        say(f"反弹次数：{info['rebound_count']}", style="red")
    say("整改措施", style="bold")
    for number, text in enumerate(info["measures"], start=1):
        say(f"  {number}. {text}")
    sections = [
        (
            "时限变更",
            "deadline_history",
            lambda d: f"{_local(d['at'])[:10]} {d['by']}：{d['from'] or '—'} → {d['to'] or '—'}",
        ),
        (
            "佐证材料",
            "evidence",
            lambda e: f"{e['name']}（{e['size']} 字节，{e['by']}，sha256 {e['sha256'][:12]}…）",
        ),
        (
            "签批记录",
            "sign_offs",
            lambda s: f"{_local(s['at'])} {s['by']} {_decision_label(s)}：{s['comment'] or ''}",
        ),
        (
            "进展报告",
            "progress",
            lambda p: (
                f"{_local(p['at'])[:10]} {p['by']}（{_status_label(p['status'])}）：{p['text']}"
            ),
        ),
        (
            "审计记录",
            "audit",
            lambda a: f"#{a['seq']} {_local(a['at'])} {a['by']} {_action_label(a['action'])}",
        ),
    ]
    for title, key, fmt in sections:
        if info[key]:
            say(title, style="bold")
            for item in info[key]:
                say(f"  {fmt(item)}")
    if actor_ref:
        actions = "、".join(ACTION_LABELS[a] for a in info["allowed_actions"]) or "无"
        say(f"{actor_ref} 现在可以：{actions}", style="bold")


def _decision_label(sign_off: dict[str, Any]) -> str:
    return DECISION_LABELS[Decision(sign_off["decision"])]


def _status_label(status: str) -> str:
    return PROGRESS_STATUS_LABELS[ProgressStatus(status)]


def _action_label(action: str) -> str:
    try:
        return ACTION_LABELS[Action(action)]
    except ValueError:
        return {"create": "创建任务"}.get(action, action)


# --- tasks: acting ---------------------------------------------------------------------


@task_app.command("assign")
def task_assign(
    task_id: int,
    actor_ref: AsOption,
    officer: Annotated[str, typer.Option(help="责任人")],
    leader: Annotated[str, typer.Option(help="责任领导")],
    lead_dept: Annotated[str, typer.Option("--lead-dept", help="牵头部门")],
    support_dept: Annotated[
        list[str] | None, typer.Option("--support-dept", help="配合部门，可多次给出")
    ] = None,
    deadline: Annotated[str | None, typer.Option(help="整改时限，如 2026-12-31")] = None,
    deadline_class: Annotated[
        str, typer.Option("--class", help="立行立改、限期整改或长期坚持")
    ] = "限期整改",
) -> None:
    """交办任务：明确责任领导、牵头与配合部门、责任人和整改时限。"""
    act(
        task_id,
        Action.ASSIGN,
        actor_ref,
        officer=person_ref(officer),
        leader=person_ref(leader),
        lead_department=department_ref(lead_dept),
        support_departments=departments_ref(support_dept or []),
        deadline=parse_date(deadline) if deadline else None,
        deadline_class=parse_choice(deadline_class, DEADLINE_CLASS_LABELS, "时限类别"),
    )


@task_app.command("reassign")
def task_reassign(
    task_id: int,
    actor_ref: AsOption,
    officer: Annotated[str | None, typer.Option(help="新的责任人")] = None,
    leader: Annotated[str | None, typer.Option(help="新的责任领导")] = None,
    lead_dept: Annotated[str | None, typer.Option("--lead-dept", help="新的牵头部门")] = None,
    support_dept: Annotated[
        list[str] | None, typer.Option("--support-dept", help="新的配合部门")
    ] = None,
    deadline: Annotated[str | None, typer.Option(help="新的整改时限")] = None,
    deadline_class: Annotated[str | None, typer.Option("--class", help="新的时限类别")] = None,
    reason: Annotated[str | None, typer.Option(help="调整原因")] = None,
) -> None:
    """调整交办：更换责任人、领导、部门或时限。"""
    act(
        task_id,
        Action.REASSIGN,
        actor_ref,
        officer=person_ref(officer),
        leader=person_ref(leader),
        lead_department=department_ref(lead_dept),
        support_departments=departments_ref(support_dept),
        deadline=parse_date(deadline) if deadline else None,
        deadline_class=parse_choice(deadline_class, DEADLINE_CLASS_LABELS, "时限类别")
        if deadline_class
        else None,
        reason=reason,
    )


@task_app.command("start")
def task_start(task_id: int, actor_ref: AsOption) -> None:
    """责任人开始整改。"""
    act(task_id, Action.START, actor_ref)


@task_app.command("attach")
def task_attach(
    task_id: int,
    files: Annotated[list[Path], typer.Argument(help="佐证材料文件，可多个")],
    actor_ref: AsOption,
    description: Annotated[str | None, typer.Option(help="材料说明")] = None,
    effective_date: Annotated[
        str | None, typer.Option("--effective-date", help="材料形成日期")
    ] = None,
    measure: Annotated[int | None, typer.Option(help="对应的措施序号")] = None,
) -> None:
    """上传佐证材料（按内容哈希保存）；多个文件要么全部上传，要么都不上传。"""
    effective = parse_date(effective_date) if effective_date else None
    stored: list[StoredFile] = []
    try:
        with unit_of_work() as (session, current):
            task = load_task(session, task_id)
            actor = find_person(session, actor_ref)
            target = _measure(session, task, measure)
            for path in files:
                if not path.is_file():
                    raise BadInput(f"找不到文件：{path}")
                with path.open("rb") as source:
                    stored.append(
                        store_file(current.home, source, path.name, evidence_policy(current))
                    )
                apply(
                    session,
                    task,
                    Action.ATTACH_EVIDENCE,
                    actor,
                    now(),
                    file=stored[-1],
                    description=description,
                    effective_date=effective,
                    measure=target,
                )
    except BaseException:
        with unit_of_work() as (session, current):
            discard_unreferenced(session, current.home, stored)
        raise
    console.print(f"任务 {task_id}：已上传 {len(files)} 份佐证材料")


def _measure(session: Session, task: Task, number: int | None) -> Measure | None:
    if number is None:
        return None
    found = session.exec(
        select(Measure).where(Measure.task_id == task.id, Measure.number == number)
    ).first()
    if found is None:
        raise NotFound(f"任务 {task.id} 没有第 {number} 项措施")
    return found


@task_app.command("submit")
def task_submit(
    task_id: int,
    actor_ref: AsOption,
    summary: Annotated[str, typer.Option(help="整改情况说明")],
) -> None:
    """提交销号申请（须已上传佐证材料）。"""
    act(task_id, Action.SUBMIT, actor_ref, summary=summary)


Comment = Annotated[str | None, typer.Option(help="签批意见")]


@task_app.command("endorse")
def task_endorse(task_id: int, actor_ref: AsOption, comment: Comment = None) -> None:
    """两级签批时的初审同意（责任领导或牵头部门负责人）。"""
    act(task_id, Action.ENDORSE, actor_ref, comment=comment)


@task_app.command("approve")
def task_approve(task_id: int, actor_ref: AsOption, comment: Comment = None) -> None:
    """批准销号。"""
    act(task_id, Action.APPROVE, actor_ref, comment=comment)


@task_app.command("approve-phase")
def task_approve_phase(task_id: int, actor_ref: AsOption, comment: Comment = None) -> None:
    """长期坚持类任务：批准本阶段销号，进入下一阶段。"""
    act(task_id, Action.APPROVE_PHASE, actor_ref, comment=comment)


@task_app.command("reject")
def task_reject(
    task_id: int, actor_ref: AsOption, reason: Annotated[str, typer.Option(help="退回理由")]
) -> None:
    """退回销号申请（须说明理由）。"""
    act(task_id, Action.REJECT, actor_ref, reason=reason)


@task_app.command("open-lookback")
def task_open_lookback(
    task_id: int,
    actor_ref: AsOption,
    reviewer: Annotated[str, typer.Option(help="回头看人员")],
    due: Annotated[str | None, typer.Option(help="完成时限，默认 10 个工作日")] = None,
) -> None:
    """对已销号任务启动回头看。"""
    act(
        task_id,
        Action.OPEN_LOOKBACK,
        actor_ref,
        reviewer=person_ref(reviewer),
        due=parse_date(due) if due else None,
    )


@task_app.command("confirm")
def task_confirm(task_id: int, actor_ref: AsOption, comment: Comment = None) -> None:
    """回头看确认整改成效巩固。"""
    act(task_id, Action.CONFIRM, actor_ref, comment=comment)


@task_app.command("rebound")
def task_rebound(
    task_id: int,
    actor_ref: AsOption,
    finding: Annotated[str, typer.Option(help="反弹问题的核查情况")],
    deadline: Annotated[str | None, typer.Option(help="新的整改时限")] = None,
) -> None:
    """回头看认定问题反弹：任务重新进入整改。"""
    act(
        task_id,
        Action.REBOUND,
        actor_ref,
        finding=finding,
        deadline=parse_date(deadline) if deadline else None,
    )


@task_app.command("report")
def task_report(
    task_id: int,
    actor_ref: AsOption,
    status: Annotated[str, typer.Option(help="已完成、基本完成、正在推进或长期坚持")],
    text: Annotated[str, typer.Option(help="进展情况")],
) -> None:
    """报送整改进展（不改变阶段）。"""
    chosen = parse_choice(status, PROGRESS_STATUS_LABELS, "进展状态")
    act(task_id, Action.REPORT_PROGRESS, actor_ref, status=chosen, text=text)


@task_app.command("request-extension")
def task_request_extension(
    task_id: int,
    actor_ref: AsOption,
    to: Annotated[str, typer.Option("--to", help="申请延至的日期")],
    reason: Annotated[str, typer.Option(help="延期理由")],
) -> None:
    """申请延长整改时限。"""
    act(task_id, Action.REQUEST_EXTENSION, actor_ref, deadline=parse_date(to), reason=reason)


@task_app.command("grant-extension")
def task_grant_extension(task_id: int, actor_ref: AsOption, comment: Comment = None) -> None:
    """批准延期申请。"""
    act(task_id, Action.GRANT_EXTENSION, actor_ref, comment=comment)


@task_app.command("refuse-extension")
def task_refuse_extension(
    task_id: int, actor_ref: AsOption, reason: Annotated[str, typer.Option(help="不予延期的理由")]
) -> None:
    """不予延期。"""
    act(task_id, Action.REFUSE_EXTENSION, actor_ref, reason=reason)


# --- ledger and audit ------------------------------------------------------------------


@ledger_app.command("summary")
def ledger_summary_command(as_json: JsonOption = False) -> None:
    """台账概况：方面、任务、措施数，各阶段与各灯的任务数。"""
    with unit_of_work() as (session, _):
        summary = ledger_summary(session, local_date(now()))
    if as_json:
        print_json(summary)
        return
    areas, tasks, measures = summary["areas"], summary["tasks"], summary["measures"]
    console.print(f"方面 {areas} 个，整改任务 {tasks} 项，整改措施 {measures} 条")
    stages = "，".join(f"{STAGE_LABELS[Stage(s)]} {n}" for s, n in summary["by_stage"].items())
    lights = "，".join(f"{LIGHT_LABELS[Light(k)]} {n}" for k, n in summary["by_light"].items())
    console.print(f"按阶段：{stages}")
    console.print(f"按灯：{lights}")


@audit_app.command("verify")
def audit_verify() -> None:
    """核验审计记录是否完整、未被篡改；发现问题时以非零状态退出。"""
    with unit_of_work() as (session, _):
        problems = audit.verify(session)
        count = len(session.exec(select(audit.AuditEvent.id)).all())
    if problems:
        for problem in problems:
            errors.print(Text.assemble(("篡改 ", "red"), str(problem)))
        errors.print(f"审计记录核验未通过：发现 {len(problems)} 处问题")
        raise typer.Exit(1)
    console.print(f"审计记录完整：{count} 条事件核验通过")


# --- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure is one clear line on stderr and a non-zero exit code."""
    try:
        result = app(args=argv, prog_name="rectify", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        errors.print("已取消")
        return 130
    except TyperException as error:  # usage errors: a missing option, an unknown command
        if type(error).__name__ == "NoArgsIsHelpError":
            return 0  # the help has been shown
        fail("用法错误：", usage_message(error))
        return 2
    except RectifyError as error:
        fail("错误：", f"{error}")
        return 1
    except ValidationError as error:
        first = error.errors()[0]
        fail("配置错误：", f"RECTIFY_{str(first['loc'][0]).upper()}：{first['msg']}")
        return 2
    except OperationalError as error:
        fail("数据库错误：", f"{str(error.orig).strip().splitlines()[0]}")
        return 1
    except SQLAlchemyError as error:
        fail("数据库错误：", f"{str(error).strip().splitlines()[0]}")
        return 1
    except OSError as error:
        fail("文件错误：", f"{error}")
        return 1
    except Exception as error:  # the last line of defence: still one line, never a traceback
        if os.environ.get("RECTIFY_DEBUG"):
            raise
        fail("内部错误：", f"{type(error).__name__}: {error}（设置 RECTIFY_DEBUG=1 查看详情）")
        return 70


def usage_message(error: TyperException) -> str:
    """The parser's complaint in Chinese where we know it, with where to find help."""
    kind = type(error).__name__
    param = getattr(error, "param", None)
    option = "/".join(getattr(param, "opts", None) or [])
    name = option if option.startswith("-") else option.upper()  # an argument, like TASK_ID
    unknown_command = re.match(r"No such command '(.*)'", error.format_message())
    if kind == "MissingParameter" and name:
        message = f"缺少 {name}"
    elif kind == "NoSuchOption":
        message = f"没有选项 {getattr(error, 'option_name', '')}"
    elif kind == "BadParameter" and name:
        message = f"{name} 的值不正确"
    elif unknown_command:
        message = f"没有命令“{unknown_command.group(1)}”"
    else:
        message = error.format_message()
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "rectify"
    return f"{message}；运行“{command} --help”查看用法"


def fail(label: str, message: str) -> None:
    errors.print(Text.assemble((label, "red"), message))


def entry() -> None:
    sys.exit(main())
