"""The board (挂图作战): progress by area and stage, deadlines ahead, overdue, rebounds, trend."""

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.dispatch_tables import DispatchRound
from models.ledger import Area, DeadlineClass, Task
from models.lights import Light, light_params, light_where
from models.stages import OPEN_STAGES, Stage

WEEKS_AHEAD = 8


def board(session: Session, today: date, calendar: WorkCalendar) -> dict[str, Any]:
    """The board's figures, each from one grouped query."""
    by_area: dict[int, dict[str, int]] = defaultdict(dict)
    for area_id, stage, count in session.exec(
        select(Task.area_id, Task.stage, func.count()).group_by(Task.area_id, Task.stage)
    ):
        by_area[area_id][stage] = count
    areas = [
        {"number": a.number, "title": a.title, "stages": by_area.get(a.id, {})}
        for a in session.exec(select(Area).order_by(Area.inspection_id, Area.number))
    ]
    lamps = (Light.RED, Light.YELLOW, Light.GREEN)
    counts = session.exec(
        select(*(func.count(case((light_where(lamp), 1))) for lamp in lamps)),
        params=light_params(today, calendar),
    ).one()
    lights = {lamp.value: count for lamp, count in zip(lamps, counts, strict=True)}
    rebounds = session.exec(
        select(func.count(), func.coalesce(func.sum(Task.rebound_count), 0)).where(
            Task.rebound_count > 0
        )
    ).one()
    return {
        "areas": areas,
        "lights": lights,
        "total": sum(sum(a["stages"].values()) for a in areas),
        "overdue": lights[Light.RED.value],
        "rebound_tasks": rebounds[0],
        "rebounds": rebounds[1],
        "ahead": _deadlines_ahead(session, today),
        "trend": _trend(session),
    }


def _deadlines_ahead(session: Session, today: date) -> list[dict[str, Any]]:
    """Open dated tasks falling due in each of the coming weeks (Monday to Sunday)."""
    monday = today - timedelta(days=today.weekday())
    end = monday + timedelta(weeks=WEEKS_AHEAD)
    counts: dict[date, int] = defaultdict(int)
    for deadline, count in session.exec(
        select(Task.deadline, func.count())
        .where(
            Task.stage.in_([s.value for s in OPEN_STAGES]),
            Task.deadline_class != DeadlineClass.LONG_TERM.value,
            Task.deadline >= today,
            Task.deadline < end,
        )
        .group_by(Task.deadline)
    ):
        counts[deadline - timedelta(days=deadline.weekday())] += count
    return [
        {"week": monday + timedelta(weeks=i), "count": counts.get(monday + timedelta(weeks=i), 0)}
        for i in range(WEEKS_AHEAD)
    ]


def _trend(session: Session) -> list[dict[str, Any]]:
    """Each closed dispatch round's answers, quarter by quarter (the frozen snapshots)."""
    return [
        {"title": r.title, "number": r.number, "by_status": (r.summary or {}).get("by_status", {})}
        for r in session.exec(
            select(DispatchRound)
            .where(DispatchRound.summary.is_not(None))
            .order_by(DispatchRound.number)
        )
    ]


STAGE_ORDER = [s.value for s in Stage]
