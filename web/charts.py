"""The board's charts as SVG geometry: bars computed here, drawn by the template.

SVG text is drawn by the browser with its own fonts, so Chinese labels render wherever the
desk is read; nothing is rasterised on the server.
"""

from dataclasses import dataclass
from typing import Any

from models.dispatch import ANSWER_ORDER, answer_label
from models.stages import STAGE_LABELS, Stage

STAGE_COLORS = {
    Stage.PENDING: "#bdbdbd", Stage.ASSIGNED: "#90caf9", Stage.ACTING: "#1e88e5",
    Stage.EVIDENCE: "#fbc02d", Stage.SIGNED_OFF: "#43a047", Stage.LOOKBACK: "#8e24aa",
    Stage.CONSOLIDATED: "#1b5e20",
}  # fmt: skip
ANSWER_COLORS = ["#188038", "#7cb342", "#1e88e5", "#8e24aa", "#d93025"]
BAR_WIDTH = 560  # the drawing width of the longest bar, in SVG units
ROW = 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str  # the tooltip: what this piece counts


def _legend(labels: list[str], colors: list[str]) -> list[dict[str, str]]:
    return [{"label": label, "color": color} for label, color in zip(labels, colors, strict=True)]


def areas_chart(areas: list[dict[str, Any]]) -> dict[str, Any]:
    """One horizontal bar per area, stacked by stage, scaled to the largest area."""
    largest = max((sum(a["stages"].values()) for a in areas), default=0) or 1
    rows = []
    for i, area in enumerate(areas):
        x, bars = 0.0, []
        for stage in Stage:
            count = area["stages"].get(stage.value, 0)
            if count:
                width = BAR_WIDTH * count / largest
                bars.append(Bar(x, i * ROW + 4, width, ROW - 8, STAGE_COLORS[stage],
                                f"{STAGE_LABELS[stage]} {count} 项"))  # fmt: skip
                x += width
        rows.append({"label": f"{area['number']}. {area['title']}", "y": i * ROW + ROW / 2,
                     "bars": bars, "total": sum(area["stages"].values()), "end": x})  # fmt: skip
    return {
        "rows": rows,
        "height": max(len(rows), 1) * ROW,
        "legend": _legend([STAGE_LABELS[s] for s in Stage], [STAGE_COLORS[s] for s in Stage]),
    }


HEADROOM = 18  # above the tallest column, for its number


def columns_chart(values: list[tuple[str, int]], height: float = 160) -> dict[str, Any]:
    """Vertical bars, one per label (the deadlines of the coming weeks)."""
    largest = max((v for _, v in values), default=0) or 1
    step = BAR_WIDTH / max(len(values), 1)
    return {
        "bars": [
            {
                "x": i * step + step * 0.15,
                "width": step * 0.7,
                "label": label,
                "count": value,
                "height": height * value / largest,
                "y": HEADROOM + height - height * value / largest,
            }
            for i, (label, value) in enumerate(values)
        ],
        "height": height,
        "bottom": HEADROOM + height,
    }


def trend_chart(trend: list[dict[str, Any]], height: float = 160) -> dict[str, Any]:
    """One stacked column per dispatch round: how its tasks answered."""
    largest = max((sum(r["by_status"].values()) for r in trend), default=0) or 1
    step = BAR_WIDTH / max(len(trend), 1)
    columns = []
    for i, one in enumerate(trend):
        y, bars = HEADROOM + height, []
        for status, color in zip(ANSWER_ORDER, ANSWER_COLORS, strict=True):
            count = one["by_status"].get(status, 0)
            if count:
                h = height * count / largest
                y -= h
                bars.append(Bar(i * step + step * 0.2, y, step * 0.6, h, color,
                                f"{answer_label(status)} {count} 项"))  # fmt: skip
        columns.append({"label": one["title"], "x": i * step + step / 2, "bars": bars})
    return {
        "columns": columns,
        "height": height,
        "bottom": HEADROOM + height,
        "legend": _legend([answer_label(s) for s in ANSWER_ORDER], ANSWER_COLORS),
    }


def board_charts(figures: dict[str, Any]) -> dict[str, Any]:
    ahead = [(f"{w['week'].month}月{w['week'].day}日起", w["count"]) for w in figures["ahead"]]
    return {
        "areas": areas_chart(figures["areas"]),
        "ahead": columns_chart(ahead),
        "trend": trend_chart(figures["trend"]),
    }
