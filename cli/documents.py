"""Documents in and out: notices and Excel ledgers imported, ledgers and the 通报 exported."""

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from cli.common import JsonOption, console, now, print_json, unit_of_work
from flows.ledger_export import export_closed, export_ledger
from flows.ledger_import import import_ledger
from flows.notice import notice_summary, parse_notice, read_notice_file
from flows.notice_import import import_notice_file
from flows.progress_notice import export_progress_notice
from models.calendar import local_date
from models.directory import find_person, system_actor
from models.errors import Refused
from models.people import Person, Role

import_app = typer.Typer(help="导入整改通报与整改台账", no_args_is_help=True)
export_app = typer.Typer(help="导出整改台账、销号台账与整改进展通报", no_args_is_help=True)

ActorOption = Annotated[
    str | None, typer.Option("--as", help="办理人（整改办或领导小组；不填则记为系统导入）")
]
InspectionOption = Annotated[
    int | None, typer.Option("--inspection", help="巡察编号（只有一次巡察时可不填）")
]


def importer(session: Session, actor_ref: str | None) -> Person:
    """Who an import is recorded as: the named organiser, or the system itself."""
    if actor_ref is None:
        return system_actor(session, now())
    actor = find_person(session, actor_ref)
    if not actor.has_role(Role.OFFICE, Role.LEADERSHIP):
        raise Refused(f"{actor.name} 无权导入：需要整改办或领导小组身份")
    return actor


@import_app.command("notice")
def import_notice(
    file: Annotated[Path, typer.Argument(help="整改通报或反馈意见（.txt 或 .docx）")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只解析并显示，不写入")] = False,
    as_json: JsonOption = False,
    actor_ref: ActorOption = None,
) -> None:
    """读取整改通报，建立巡察及其方面、整改任务和整改措施；同一通报不会重复导入。"""
    if dry_run:
        notice = parse_notice(read_notice_file(file))
        result, created, inspection_id = notice_summary(notice), False, None
    else:
        with unit_of_work(grows_ledger=True) as (session, _):
            imported = import_notice_file(session, file, importer(session, actor_ref), now())
            result, created = notice_summary(imported.notice), imported.created
            inspection_id = imported.inspection.id
    if as_json:
        print_json(
            result if dry_run else {**result, "inspection_id": inspection_id, "created": created}
        )
        return
    stated = result["stated"]
    tasks = [task for area in result["areas"] for task in area["tasks"]]
    measures = sum(len(task["measures"]) for task in tasks)
    found = f"{len(result['areas'])} 个方面、{len(tasks)} 项整改任务、{measures} 条整改措施"
    if dry_run:
        console.print(f"识别出 {found}（未写入）")
    elif created:
        console.print(f"已导入巡察 {inspection_id}：{found}")
    else:
        console.print(f"该通报已导入过（巡察 {inspection_id}），未重复导入")
    if stated["areas"] or stated["tasks"] or stated["measures"]:
        said = "、".join(
            f"{n}{unit}"
            for n, unit in (
                (stated["areas"], "个方面"),
                (stated["tasks"], "项任务"),
                (stated["measures"], "条措施"),
            )
            if n
        )
        console.print(f"通报载明：{said}")
    for warning in result["warnings"]:
        console.print(f"注意：{warning}", style="yellow")


@import_app.command("ledger")
def import_ledger_command(
    file: Annotated[Path, typer.Argument(help="按整改台账格式填写的 .xlsx 文件")],
    actor_ref: ActorOption = None,
    inspection: InspectionOption = None,
) -> None:
    """按台账交办任务、调整责任人和时限；任何一行有误则全部不导入。"""
    with unit_of_work(grows_ledger=True) as (session, _):
        result = import_ledger(session, file, importer(session, actor_ref), now(), inspection)
    counts = (result.assigned, result.reassigned, result.unchanged)
    console.print("台账已导入：交办 {} 项，调整 {} 项，未变 {} 项".format(*counts))


OutArgument = Annotated[Path, typer.Argument(help="输出文件")]


@export_app.command("ledger")
def export_ledger_command(out: OutArgument, inspection: InspectionOption = None) -> None:
    """导出整改台账（.xlsx）：按方面分组，含责任人、时限、进展、状态和红黄绿灯。"""
    with unit_of_work() as (session, _):
        rows = export_ledger(session, out, local_date(now()), inspection)
    console.print(f"已导出整改台账：{out}（{rows} 项任务）")


@export_app.command("closed")
def export_closed_command(out: OutArgument, inspection: InspectionOption = None) -> None:
    """导出销号台账（.xlsx）：已销号任务、销号日期、审批人、佐证数量和回头看结果。"""
    with unit_of_work() as (session, _):
        rows = export_closed(session, out, inspection)
    console.print(f"已导出销号台账：{out}（{rows} 项任务）")


@export_app.command("notice")
def export_notice_command(
    out: OutArgument,
    inspection: InspectionOption = None,
    template: Annotated[Path | None, typer.Option(help="自定义 Jinja2 模板")] = None,
) -> None:
    """按公文格式（GB/T 9704）导出整改进展情况通报（.docx）。"""
    with unit_of_work() as (session, current):
        path = export_progress_notice(
            session,
            out,
            local_date(now()),
            inspection_id=inspection,
            template_path=template,
            home=current.home,
        )
    console.print(f"已导出整改进展情况通报：{path}")
