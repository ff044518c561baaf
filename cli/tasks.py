"""Tasks: reading them and taking workflow actions on them."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlmodel import Session, select

from cli.common import (
    AsOption,
    JsonOption,
    act,
    console,
    department_ref,
    departments_ref,
    load_task,
    now,
    parse_choice,
    parse_date,
    person_ref,
    print_json,
    unit_of_work,
)
from models import audit
from models.calendar import SHANGHAI, load_calendar, local_date
from models.directory import find_person
from models.errors import BadInput, NotFound
from models.evidence import StoredFile, discard_unreferenced, store_file
from models.ledger import (
    DEADLINE_CLASS_LABELS,
    Area,
    DeadlineClass,
    Measure,
    Task,
    TaskSupport,
)
from models.lights import LIGHT_LABELS, Light, light
from models.queries import names_by_id, records_of
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
from models.stages import ACTION_LABELS, STAGE_LABELS, Action, Stage, event_label
from models.workflow import allowed_actions, apply

task_app = typer.Typer(help="整改任务：查看与办理", no_args_is_help=True)

LIGHT_STYLES = {Light.RED: "red", Light.YELLOW: "yellow", Light.GREEN: "green"}


# --- tasks: reading --------------------------------------------------------------------


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
        today, calendar = local_date(now()), load_calendar(session)
        people, departments = names_by_id(session)
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
                "light": light(t, today, calendar),
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
        people, departments = names_by_id(session)
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
            "light": light(task, local_date(now()), load_calendar(session)),
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
    return event_label(action)


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
    with _evidence_kept_only_on_success() as stored, unit_of_work() as (session, current):
        task = load_task(session, task_id)
        actor = find_person(session, actor_ref)
        target = _measure(session, task, measure)
        _attach_all(session, current, task, actor, files, stored,
                    description=description, effective_date=effective, measure=target)  # fmt: skip
    console.print(f"任务 {task_id}：已上传 {len(files)} 份佐证材料")


@contextmanager
def _evidence_kept_only_on_success() -> Iterator[list[StoredFile]]:
    """Files stored for a command that then fails are removed again (unless referenced)."""
    stored: list[StoredFile] = []
    try:
        yield stored
    except BaseException:
        with unit_of_work() as (session, current):
            discard_unreferenced(session, current.home, stored)
        raise


def _attach_all(
    session: Session,
    current: Any,
    task: Task,
    actor: Any,
    files: list[Path],
    stored: list[StoredFile],
    **data: Any,
) -> None:
    for path in files:
        if not path.is_file():
            raise BadInput(f"找不到文件：{path}")
        with path.open("rb") as source:
            stored.append(store_file(current.home, source, path.name, current.evidence_policy))
        apply(session, task, Action.ATTACH_EVIDENCE, actor, now(), file=stored[-1], **data)


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
    files: Annotated[
        list[Path] | None, typer.Option("--file", help="随进展报送的佐证材料，可多次给出")
    ] = None,
) -> None:
    """报送整改进展（不改变阶段）；调度期间即是对本轮调度的报送。可附佐证材料。"""
    chosen = parse_choice(status, PROGRESS_STATUS_LABELS, "进展状态")
    with _evidence_kept_only_on_success() as stored, unit_of_work() as (session, current):
        task = load_task(session, task_id)
        actor = find_person(session, actor_ref)
        _attach_all(session, current, task, actor, files or [], stored,
                    description="随进展报送的佐证材料")  # fmt: skip
        event = apply(session, task, Action.REPORT_PROGRESS, actor, now(),
                      calendar=load_calendar(session), status=chosen, text=text)  # fmt: skip
        answered = event.data.get("dispatch_round")
    extra = f"，附佐证材料 {len(files)} 份" if files else ""
    answer = "（已计入本轮调度）" if answered else ""
    console.print(f"任务 {task_id}：{actor.name} 报送进展{extra}{answer}")


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
