"""The report of a closed dispatch round: the message's figures, its charts and the 调度表.

The numbers come from the round's frozen snapshot (models.dispatch.snapshot); the wording is
in notifications/templates/dispatch_report.*. Charts are drawn by matplotlib with a Chinese
font found on the machine; without one they are left out and the report says so, rather than
showing boxes for every character.
"""

import io
import logging
from datetime import date
from functools import cache
from typing import Any

from models.dispatch import ANSWER_ORDER, UNANSWERED, answer_label
from notifications.links import task_url
from notifications.message import Attachment

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Fonts with the Chinese glyphs, in order of preference (Debian: fonts-noto-cjk).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)
NO_FONT = "（服务器未安装中文字体，本报告不附图表；安装 fonts-noto-cjk 后即可显示。）"
STATUS_COLORS = {
    "done": "#188038",
    "mostly_done": "#7cb342",
    "in_progress": "#f9ab00",
    "ongoing": "#1f6feb",
    UNANSWERED: "#d93025",
}


def _counts(counts: dict[str, int]) -> list[int]:
    return [counts.get(status, 0) for status in ANSWER_ORDER]


def report_context(
    summary: dict[str, Any], *, base_url: str, closed_on: date, sheet: str
) -> dict[str, Any]:
    """Everything dispatch_report.* shows, computed from the snapshot (the template lays out)."""
    previous = summary["previous"]
    totals = [
        {
            "label": answer_label(status),
            "count": summary["by_status"].get(status, 0),
            "change": (
                summary["by_status"].get(status, 0) - previous.get(status, 0) if previous else None
            ),
        }
        for status in ANSWER_ORDER
    ]

    def grouped(groups: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
        return [
            {"name": name, "counts": _counts(counts), "total": sum(counts.values())}
            for name, counts in groups.items()
        ]

    def listed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**row, "url": task_url(base_url, row["task_id"])} for row in rows]

    return {
        "round_title": summary["round"]["title"],
        "number": summary["round"]["number"],
        "closed_on": closed_on,
        "total": len(summary["rows"]),
        "statuses": [answer_label(status) for status in ANSWER_ORDER],
        "totals": totals,
        "previous_title": previous["title"] if previous else None,
        "areas": grouped(summary["by_area"]),
        "departments": grouped(summary["by_department"]),
        "overdue": listed(summary["overdue"]),
        "rebounds": listed(summary["rebounds"]),
        "sheet": sheet,
    }


# --- the 调度表 -------------------------------------------------------------------------------

SHEET_COLUMNS = (
    ("序号", 6, None),
    ("编号", 7, "number"),
    ("方面", 24, "area"),
    ("整改任务", 40, "title"),
    ("牵头部门", 14, "department"),
    ("责任人", 9, "officer"),
    ("责任领导", 9, "leader"),
    ("整改时限", 12, "deadline"),
    ("当前阶段", 9, "stage"),
    ("报送状态", 10, "answer"),
    ("进展情况", 50, "progress"),
    ("报送时间", 17, "answered_at"),
)


def sheet_name(summary: dict[str, Any]) -> str:
    return f"{summary['round']['title']}表.xlsx"


def round_sheet(summary: dict[str, Any], unit: str | None) -> bytes:
    """The 调度表 as .xlsx: a title, one row per task asked about, its answer or 未报送."""
    # Imported here: every flow's process imports this module, only a closing round builds
    # a sheet, and openpyxl (with numpy, which it loads) is tens of MB (BENCHMARKS.md).
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "调度表"
    title = (
        f"{unit or ''}{summary['round']['title']}表（截至目前已调度{summary['round']['number']}次）"
    )
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(SHEET_COLUMNS))
    sheet["A1"].font = Font(size=14, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([name for name, _, _ in SHEET_COLUMNS])
    header_fill = PatternFill("solid", fgColor="F2F2F2")
    for index, (_, width, _) in enumerate(SHEET_COLUMNS, 1):
        cell = sheet.cell(row=2, column=index)
        cell.font, cell.fill = Font(bold=True), header_fill
        sheet.column_dimensions[get_column_letter(index)].width = width
    late = PatternFill("solid", fgColor="FDE7E9")
    for number, row in enumerate(summary["rows"], 1):
        values: list[Any] = [number]
        for _, _, key in SHEET_COLUMNS[1:]:
            value = row.get(key)
            if key == "answer":
                value = answer_label(value)
            elif key == "answered_at" and value:
                value = value[:16].replace("T", " ")
            elif key == "deadline":
                value = value or row["deadline_class"]
            values.append(value)
        sheet.append(values)
        if row["answer"] == UNANSWERED:
            for cell in sheet[sheet.max_row]:
                cell.fill = late
    for cells in sheet.iter_rows(min_row=3):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- charts ----------------------------------------------------------------------------------


@cache
def chinese_font() -> str | None:
    """The first font matplotlib knows that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _first_cjk(manager)
    if found is None:  # matplotlib's font cache may predate the fonts: look at the disk again
        known_files = {font.fname for font in manager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known_files:
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a font file matplotlib cannot read is not ours to fix
        found = _first_cjk(manager)
    return found


def _first_cjk(manager: Any) -> str | None:
    known = {font.name for font in manager.ttflist}
    return next((name for name in CJK_FONTS if name in known), None)


def charts(summary: dict[str, Any]) -> tuple[list[Attachment], str | None]:
    """The report's charts as inline PNGs, or none and the reason shown instead."""
    font = chinese_font()
    if font is None:
        log.warning("no Chinese font for the dispatch report's charts: %s", NO_FONT)
        return [], NO_FONT
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    labels = [answer_label(status) for status in ANSWER_ORDER]
    colors = [STATUS_COLORS[status] for status in ANSWER_ORDER]
    images = []
    with matplotlib.rc_context({"font.family": font, "axes.unicode_minus": False}):
        figure, axes = pyplot.subplots(figsize=(6.4, 2.8), dpi=110)
        counts = _counts(summary["by_status"])
        bars = axes.barh(labels[::-1], counts[::-1], color=colors[::-1])
        axes.bar_label(bars, padding=3)
        axes.set_title(f"{summary['round']['title']}：各项任务报送情况")
        axes.set_xlabel("任务数（项）")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        images.append(_png(figure, "status.png", "dispatch-status"))
        pyplot.close(figure)

        areas = list(summary["by_area"])[::-1]  # the first area at the top
        figure, axes = pyplot.subplots(figsize=(6.4, 0.5 * len(areas) + 1.6), dpi=110)
        left = [0] * len(areas)
        names = [_shorten(area, 14) for area in areas]
        for status, label, color in zip(ANSWER_ORDER, labels, colors, strict=True):
            values = [summary["by_area"][area].get(status, 0) for area in areas]
            axes.barh(names, values, left=left, color=color, label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_title("分方面报送情况")
        axes.set_xlabel("任务数（项）")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=8, loc="lower right", framealpha=0.9)
        figure.tight_layout()
        images.append(_png(figure, "areas.png", "dispatch-areas"))
        pyplot.close(figure)
    return images, None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _png(figure: Any, filename: str, content_id: str) -> Attachment:
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return Attachment(filename, "image/png", out.getvalue(), content_id)
