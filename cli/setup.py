"""Setting Rectify up: the database, the demo ledger, people and inspections."""

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import select

from cli.common import (
    AsOption,
    JsonOption,
    console,
    engine_for,
    now,
    parse_choice,
    print_json,
    settings,
    unit_of_work,
)
from flows.demo import load_demo
from flows.local_prefect import seed_database
from flows.people_file import read_people_file
from models.db import refresh_statistics, transaction, upgrade
from models.directory import find_person, import_people, system_actor
from models.errors import BadInput, NotFound, RectifyError
from models.intake import set_first_signer
from models.ledger import (
    FIRST_SIGNER_LABELS,
    FirstSigner,
    Inspection,
)
from models.people import ROLE_LABELS, Department, Person, Role

people_app = typer.Typer(help="人员与角色", no_args_is_help=True)
inspection_app = typer.Typer(help="巡察（整改批次）", no_args_is_help=True)


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
        if seed_database(current.home.resolve() / "prefect"):
            console.print("本地 Prefect 数据库已就绪")
        if demo:
            with transaction(engine) as session:
                result = load_demo(session, current.home, now(), current.evidence_policy)
            refresh_statistics(engine)
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
