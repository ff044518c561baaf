"""The 整改台账 workbook layout, shared by the export (flows.ledger_export) and the import
(flows.ledger_import), and the streaming writer both exported ledgers use.

Why the writer streams rows itself: openpyxl's write-only mode builds a cell object and an
XML element for every cell, ~26 µs per styled cell on our 2-core machines, so a
100,000-task ledger (1.4 million cells) took 26–37 s to write, over the 30 s budget before a
single query ran. So openpyxl (write-only) still writes the whole workbook — styles, title and
header rows, column widths, frozen panes, merged ranges, data validation, filter, print
setup — and only the data rows are streamed into its worksheet as XML text, cell for cell
in the form openpyxl itself writes (inline strings, style ids it allocated): ~2 s for the
same rows. BENCHMARKS.md has the numbers.
"""

import math
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from models.errors import BadInput
from models.ledger import DEADLINE_CLASS_LABELS
from models.lights import Light

LEDGER_SHEET = "整改台账"
CLOSED_SHEET = "销号台账"
ID_COLUMN = "任务编号"  # hidden last column: re-imports match rows by it, whatever else changed
LONG_TERM_WORD = "长期"  # what the 整改时限 cell of a 长期坚持 task without a deadline shows
HEADER_ROW = 2  # row 1 is the title
FIRST_DATA_ROW = 3


@dataclass(frozen=True)
class Column:
    name: str
    width: float  # in Excel's units (one Latin digit); a Chinese character takes about two
    style: str = "text"  # the style of its data cells
    hidden: bool = False


LEDGER_COLUMNS: tuple[Column, ...] = (
    Column("序号", 7, "center"),
    Column("方面", 18),
    Column("问题", 36),
    Column("整改措施", 50),
    Column("责任领导", 10, "center"),
    Column("牵头部门", 14, "center"),
    Column("配合部门", 16, "center"),
    Column("责任人", 10, "center"),
    Column("整改时限", 12, "date"),
    Column("时限类别", 10, "center"),
    Column("进展情况", 36),
    Column("状态", 9, "center"),
    Column("红黄绿灯", 10, "center"),
    Column(ID_COLUMN, 10, "plain", hidden=True),
)

CLOSED_COLUMNS: tuple[Column, ...] = (
    Column("序号", 7, "center"),
    Column("方面", 18),
    Column("问题", 36),
    Column("责任领导", 10, "center"),
    Column("牵头部门", 14, "center"),
    Column("责任人", 10, "center"),
    Column("销号申请日期", 14, "date"),
    Column("销号日期", 12, "date"),
    Column("审批人", 18, "center"),
    Column("佐证材料（份）", 16, "center"),
    Column("回头看情况", 18, "center"),
    Column(ID_COLUMN, 10, "plain", hidden=True),
)

DEADLINE_CLASS_CHOICES = tuple(DEADLINE_CLASS_LABELS.values())

# Light fills, as ARGB: the classic solid 红黄绿 of hand-kept ledgers; signed-off tasks grey.
LIGHT_FILLS: dict[Light, str] = {
    Light.RED: "FFFF0000",
    Light.YELLOW: "FFFFFF00",
    Light.GREEN: "FF00B050",
    Light.DONE: "FFD9D9D9",
}
HEADER_FILL = "FFD9E1F2"
AREA_FILL = "FFF2F2F2"

_THIN = Side(style="thin", color="FF000000")
_GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BODY_FONT = Font(name="宋体", size=10)
_WRAP_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
_WRAP_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _light_style(fill: str) -> dict[str, Any]:
    return {
        "font": Font(name="宋体", size=10, bold=True),
        "alignment": _WRAP_CENTER,
        "border": _GRID,
        "fill": PatternFill(fill_type="solid", fgColor=fill),
    }


STYLES: dict[str, dict[str, Any]] = {
    "title": {
        "font": Font(name="黑体", size=16, bold=True),
        "alignment": Alignment(horizontal="center", vertical="center"),
    },
    "header": {
        "font": Font(name="黑体", size=11, bold=True),
        "alignment": _WRAP_CENTER,
        "border": _GRID,
        "fill": PatternFill(fill_type="solid", fgColor=HEADER_FILL),
    },
    "area": {
        "font": Font(name="黑体", size=11, bold=True),
        "alignment": Alignment(horizontal="left", vertical="center"),
        "border": _GRID,
        "fill": PatternFill(fill_type="solid", fgColor=AREA_FILL),
    },
    "text": {"font": _BODY_FONT, "alignment": _WRAP_LEFT, "border": _GRID},
    "center": {"font": _BODY_FONT, "alignment": _WRAP_CENTER, "border": _GRID},
    "date": {
        "font": _BODY_FONT,
        "alignment": _WRAP_CENTER,
        "border": _GRID,
        "number_format": "yyyy-mm-dd",
    },
    "plain": {},
    **{f"light-{lamp.value}": _light_style(fill) for lamp, fill in LIGHT_FILLS.items()},
}


@dataclass(frozen=True)
class Styled:
    """A cell value with a style other than its column's."""

    value: Any
    style: str


@dataclass(frozen=True)
class AreaRow:
    """A 方面 heading: its text across every visible column."""

    text: str


Row = AreaRow | Sequence[Any]


def display_width(text: str) -> int:
    """Columns a text takes in Excel's units: two for a Chinese (wide) character, one otherwise."""
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


_DIGITS = "零一二三四五六七八九"


def chinese_numeral(number: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 35 → 三十五 (as 方面 are numbered: （一）…（十二）)."""
    if not 0 < number < 100:
        return str(number)
    tens, units = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[units] if units else "")


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- the streaming writer --------------------------------------------------------------

_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")  # not allowed in XML 1.0
_MAX_CELL_TEXT = 32767  # Excel's limit per cell
_EXCEL_EPOCH = date(1899, 12, 30)
_BATCH_ROWS = 1000
# Row heights are written, not left to the reader: LibreOffice keeps the default height of a
# row written without one, whatever its wrapped text needs (seen in its PDF export), so tall
# cells spilled over their neighbours. Estimated from the text: a line of 10 pt 宋体 takes
# 13.5 pt.
_LINE_POINTS = 13.5
_ROW_PADDING_POINTS = 4
_DEFAULT_ROW_POINTS = 18
_MAX_ROW_POINTS = 409  # Excel's limit


def _escape(text: str) -> str:
    text = _ILLEGAL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > _MAX_CELL_TEXT:
        text = text[:_MAX_CELL_TEXT]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def wrapped_lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column `width` units wide (Chinese characters count
    two units: UTF-8 length plus character count, halved, is exactly that for CJK and ASCII)."""
    usable = max(width - 1.5, 1)
    if "\n" not in text and len(text) * 2 <= usable:
        return 1
    return sum(
        max(1, math.ceil((len(line.encode()) + len(line)) / 2 / usable))
        for line in text.split("\n")
    )


def row_height(lines: int) -> float:
    return min(
        max(_DEFAULT_ROW_POINTS, lines * _LINE_POINTS + _ROW_PADDING_POINTS), _MAX_ROW_POINTS
    )


def _cell_xml(ref: str, value: Any, style: int) -> str:
    """One <c> element, as openpyxl writes it; an empty cell keeps its style (the grid)."""
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f'<c r="{ref}"{s}><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    return _cell_xml(ref, str(value), style)


class _Styles:
    """Style ids allocated by openpyxl in the workbook being written."""

    def __init__(self, sheet) -> None:
        self.sheet = sheet
        self.ids: dict[str, int] = {name: self.cell(None, name).style_id for name in STYLES}

    def cell(self, value: Any, name: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value)
        for attribute, setting in STYLES[name].items():
            setattr(cell, attribute, setting)
        return cell


def write_ledger_workbook(
    path: Path,
    *,
    sheet_title: str,
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Row],
    validations: dict[str, Sequence[str]] | None = None,
) -> None:
    """Write a one-sheet ledger: title row, frozen header, area rows, data rows.

    `validations` maps a column name to the choices offered in its cells (a drop-down).
    The file appears complete or not at all (written aside, then renamed).
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise BadInput(f"台账文件名须以 .xlsx 结尾：{path.name}")
    if not path.parent.is_dir():
        raise BadInput(f"找不到目录：{path.parent}")
    visible = [c for c in columns if not c.hidden]
    last_visible = get_column_letter(len(visible))
    last_row = HEADER_ROW + len(rows)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    styles = _Styles(sheet)
    letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
    widths = [max(c.width, display_width(c.name) + 2) for c in columns]
    for letter, column, width in zip(letters, columns, widths, strict=True):
        dimension = sheet.column_dimensions[letter]
        dimension.width, dimension.hidden = width, column.hidden
    sheet.freeze_panes = f"D{FIRST_DATA_ROW}"
    sheet.print_title_rows = f"1:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = 9  # A4
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.row_dimensions[1].height = 36
    sheet.merged_cells.add(f"A1:{last_visible}1")
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last_visible}{max(last_row, HEADER_ROW + 1)}"
    for offset, row in enumerate(rows):
        if isinstance(row, AreaRow):
            number = FIRST_DATA_ROW + offset
            sheet.merged_cells.add(f"A{number}:{last_visible}{number}")
    for name, choices in (validations or {}).items():
        letter = letters[[c.name for c in columns].index(name)]
        validation = DataValidation(
            type="list",
            formula1=f'"{",".join(choices)}"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=name,
            error=f"请选择：{'、'.join(choices)}",
        )
        validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{max(last_row, FIRST_DATA_ROW)}")
        sheet.data_validations.append(validation)
    sheet.append([styles.cell(title, "title")])
    sheet.append([styles.cell(c.name, "header" if not c.hidden else "plain") for c in columns])

    skeleton = path.with_name(path.name + ".frame")
    partial = path.with_name(path.name + ".part")
    try:
        workbook.save(skeleton)
        dimension = f"A1:{letters[-1]}{last_row}"
        rows_xml = _rows_xml(rows, columns, widths, letters, styles.ids)
        _stream_rows(skeleton, partial, rows_xml, dimension)
        os.replace(partial, path)
    finally:
        for leftover in (skeleton, partial):
            leftover.unlink(missing_ok=True)


def _rows_xml(
    rows: Sequence[Row],
    columns: Sequence[Column],
    widths: list[float],
    letters: list[str],
    ids: dict[str, int],
) -> Iterable[str]:
    column_styles = [ids[c.style] for c in columns]
    visible = [letter for letter, c in zip(letters, columns, strict=True) if not c.hidden]
    band = sum(w for w, c in zip(widths, columns, strict=True) if not c.hidden)
    widths = [w if not c.hidden else math.inf for w, c in zip(widths, columns, strict=True)]
    area = ids["area"]
    for number, row in enumerate(rows, start=FIRST_DATA_ROW):
        if isinstance(row, AreaRow):
            cells = [_cell_xml(f"{visible[0]}{number}", row.text, area)]
            cells += [_cell_xml(f"{letter}{number}", None, area) for letter in visible[1:]]
            lines = wrapped_lines(row.text, band)
        else:
            cells, lines = [], 1
            for letter, style, width, value in zip(
                letters, column_styles, widths, row, strict=True
            ):
                if isinstance(value, Styled):
                    style, value = ids[value.style], value.value
                if isinstance(value, str):
                    lines = max(lines, wrapped_lines(value, width))
                cells.append(_cell_xml(f"{letter}{number}", value, style))
        height = row_height(lines)
        yield f'<row r="{number}" ht="{height:g}" customHeight="1">{"".join(cells)}</row>'


def _stream_rows(skeleton: Path, target: Path, rows: Iterable[str], dimension: str) -> None:
    """Copy the workbook openpyxl wrote, streaming the data rows into its only worksheet.

    The sheet also gets the <dimension> openpyxl's write-only mode leaves out: readers use it
    to size the sheet (openpyxl's read-only mode scans the whole sheet without it)."""
    with (
        zipfile.ZipFile(skeleton) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        sheets = [n for n in source.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        if len(sheets) != 1:
            raise RuntimeError(f"expected one worksheet in the workbook frame, found {sheets}")
        for info in source.infolist():
            if info.filename != sheets[0]:
                out.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
                continue
            head, marker, tail = source.read(info).partition(b"</sheetData>")
            if not marker:
                raise RuntimeError("the workbook frame has no sheetData to stream rows into")
            if b"<dimension" not in head:
                head = head.replace(
                    b"<sheetViews>", f'<dimension ref="{dimension}"/><sheetViews>'.encode(), 1
                )
            with out.open(info.filename, "w") as stream:
                stream.write(head)
                batch: list[str] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == _BATCH_ROWS:
                        stream.write("".join(batch).encode())
                        batch.clear()
                stream.write("".join(batch).encode())
                stream.write(marker + tail)
