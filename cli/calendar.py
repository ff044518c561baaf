"""`rectify calendar`: the working calendar and the overrides users keep in it."""

import csv
import io
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import JsonOption, console, errors, now, parse_date, print_json, unit_of_work
from models.calendar import (
    DAY_SOURCE_LABELS,
    NOTE_MAX_LENGTH,
    CalendarEntry,
    DayInfo,
    WorkCalendar,
    calendar_days,
    clean_note,
    clear_calendar_day,
    load_calendar,
    parse_working,
    set_calendar_day,
    set_calendar_days,
    weekday_label,
    working_label,
)
from models.errors import BadInput, NotFound, RectifyError

calendar_app = typer.Typer(
    help="工作日历：法定节假日与调休，以及本单位录入的调整", no_args_is_help=True
)

COLUMNS = ("日期", "类型", "说明")


def _day(day: date) -> str:
    return f"{day.isoformat()}（{weekday_label(day)}）"


def _verdict(info: DayInfo) -> str:
    why = DAY_SOURCE_LABELS[info.source] + (f"：{info.note}" if info.note else "")
    return f"{working_label(info.working)}（{why}）"


def _warn(info: DayInfo) -> None:
    if info.warning:
        errors.print(f"注意：{info.warning}")


@calendar_app.command("set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="日期，如 2027-10-09")],
    kind: Annotated[str, typer.Argument(help="上班 或 休息（也可写 work、off）")],
    note: Annotated[str | None, typer.Option("--note", help="说明，如“国庆节调休上班”")] = None,
) -> None:
    """把某天设为工作日或休息日，优先于法定节假日安排。"""
    chosen, working, text = parse_date(day), parse_working(kind), clean_note(note)
    statutory = WorkCalendar().describe(chosen)
    with unit_of_work() as (session, _):
        set_calendar_day(session, chosen, working, text, now())
    suffix = "，与法定节假日安排相同" if statutory.working == working else ""
    if statutory.warning:
        suffix = ""  # the statutory answer is unknown for that year
    console.print(f"{_day(chosen)} 已设为{working_label(working)}（本地调整{suffix}）")


@calendar_app.command("unset")
def calendar_unset(day: Annotated[str, typer.Argument(help="日期，如 2027-10-09")]) -> None:
    """删除某天的本地调整，恢复按法定节假日安排（或周一至周五）计算。"""
    chosen = parse_date(day)
    with unit_of_work() as (session, _):
        if not clear_calendar_day(session, chosen):
            raise NotFound(f"{_day(chosen)} 没有本地调整")
    info = WorkCalendar().describe(chosen)
    console.print(f"已删除 {_day(chosen)} 的本地调整，现为{_verdict(info)}")
    _warn(info)


@calendar_app.command("list")
def calendar_list(
    year: Annotated[int | None, typer.Option("--year", help="只列出这一年")] = None,
    as_json: JsonOption = False,
) -> None:
    """列出本地调整（日期、上班或休息、说明）。"""
    with unit_of_work() as (session, _):
        rows = [
            {
                "day": row.day.isoformat(),
                "weekday": weekday_label(row.day),
                "working": row.working,
                "note": row.note,
                "updated_at": row.updated_at.isoformat(),
            }
            for row in calendar_days(session, year)
        ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"{year} 年没有本地调整" if year else "没有本地调整")
        return
    table = Table("日期", "星期", "类型", "说明")
    for row in rows:
        kind = "上班" if row["working"] else "休息"
        table.add_row(row["day"], row["weekday"], kind, row["note"] or "")
    console.print(table)


@calendar_app.command("check")
def calendar_check(
    day: Annotated[str, typer.Argument(help="日期，如 2026-10-10")],
    as_json: JsonOption = False,
) -> None:
    """某天是否工作日，以及依据：本地调整、法定节假日安排，或按周一至周五推定。"""
    chosen = parse_date(day)
    with unit_of_work() as (session, _):
        info = load_calendar(session).describe(chosen)
    if as_json:
        print_json(
            {
                "day": chosen.isoformat(),
                "weekday": weekday_label(chosen),
                "working": info.working,
                "source": info.source.value,
                "note": info.note,
                "warning": info.warning,
            }
        )
        return
    console.print(f"{_day(chosen)}：{_verdict(info)}")
    _warn(info)


@calendar_app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(help="CSV 文件，列为：日期,类型,说明")],
) -> None:
    """从 CSV 导入本地调整：先检查全部行，有任何一行出错则全部不导入。"""
    entries = read_calendar_file(file)
    with unit_of_work() as (session, _):
        created, updated = set_calendar_days(session, entries, now())
    console.print(f"已导入 {len(entries)} 天的本地调整：新增 {created} 天，更新 {updated} 天")


# --- the CSV file ----------------------------------------------------------------------


def read_calendar_file(path: Path) -> list[CalendarEntry]:
    """Every row checked; one problem per bad row, and nothing returned if any is bad."""
    if not path.is_file():
        raise BadInput(f"找不到文件：{path}")
    table = _csv_table(path.read_bytes(), path.name)
    start = next((i for i, row in enumerate(table) if any(c.strip() for c in row)), None)
    if start is None:
        raise BadInput(f"{path.name} 是空文件")
    header = [cell.strip() for cell in table[start]]
    if "日期" in header:
        missing = [name for name in COLUMNS[:2] if name not in header]
        if missing:
            raise BadInput(f"{path.name} 缺少列：{'、'.join(missing)}（需要：{','.join(COLUMNS)}）")
        position = {name: header.index(name) for name in COLUMNS if name in header}
        start += 1
    else:  # no header: the columns in their usual order
        position = {name: i for i, name in enumerate(COLUMNS)}

    def cell(row: list[str], name: str) -> str:
        index = position.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    entries: list[CalendarEntry] = []
    problems: list[str] = []
    seen: dict[date, int] = {}
    for line, row in enumerate(table[start:], start=start + 1):
        if not any(c.strip() for c in row):
            continue
        day = working = note = None
        try:
            day = parse_date(cell(row, "日期"))
        except BadInput:
            problems.append(f"第 {line} 行 日期：“{cell(row, '日期')}”不是日期")
        try:
            working = parse_working(cell(row, "类型"))
        except BadInput:
            problems.append(f"第 {line} 行 类型：不认识“{cell(row, '类型')}”（可选：上班、休息）")
        try:
            note = clean_note(cell(row, "说明"))
        except RectifyError:
            problems.append(f"第 {line} 行 说明：超过 {NOTE_MAX_LENGTH} 个字")
        if day is not None and day in seen:
            problems.append(f"第 {line} 行 日期：{day.isoformat()} 与第 {seen[day]} 行重复")
        elif day is not None:
            seen[day] = line
        if day is not None and working is not None:
            entries.append(CalendarEntry(day, working, note))
    if problems:
        raise BadInput(
            f"日历文件有 {len(problems)} 处问题，未导入任何数据：\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    if not entries:
        raise BadInput(f"{path.name} 中没有日期")
    return entries


def _csv_table(data: bytes, name: str) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GB18030
        try:
            return list(csv.reader(io.StringIO(data.decode(encoding))))
        except UnicodeDecodeError:
            continue
    raise BadInput(f"{name} 不是 UTF-8 或 GB18030 编码的 CSV 文件")
