"""Traffic lights (红黄绿灯): how urgent an open task is, by the working calendar."""

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, and_, bindparam, not_, or_

from models.calendar import DEFAULT_CALENDAR, WorkCalendar
from models.ledger import DeadlineClass, Task
from models.stages import OPEN_STAGES, Stage

YELLOW_WITHIN_WORKING_DAYS = 7


class Light(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    DONE = "done"  # signed off, under look-back or consolidated
    NONE = "none"  # not yet assigned, or long-term (长期坚持) without a deadline


LIGHT_LABELS: dict[Light, str] = {
    Light.RED: "红灯",
    Light.YELLOW: "黄灯",
    Light.GREEN: "绿灯",
    Light.DONE: "已销号",
    Light.NONE: "—",
}


def light(task: Task, today: date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> Light:
    """Red when overdue; yellow when at most 7 working days remain; green otherwise."""
    return light_of(task.stage, task.deadline_class, task.deadline, today, calendar)


def light_of(
    stage: str,
    deadline_class: str,
    deadline: date | None,
    today: date,
    calendar: WorkCalendar = DEFAULT_CALENDAR,
) -> Light:
    """The light from the three fields it depends on, for callers reading columns, not rows."""
    if stage not in OPEN_STAGES:
        return Light.NONE if stage == Stage.PENDING else Light.DONE
    if deadline_class == DeadlineClass.LONG_TERM or deadline is None:
        return Light.NONE
    return deadline_light(deadline, today, calendar)


def deadline_light(deadline: date, today: date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> Light:
    """The light of any dated duty (a task's deadline, a look-back's due day)."""
    if today > deadline:
        return Light.RED
    if deadline <= last_yellow_day(today, calendar):
        return Light.YELLOW
    return Light.GREEN


def last_yellow_day(today: date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> date:
    """The latest deadline that is still yellow today: the day before the first deadline with
    more than YELLOW_WITHIN_WORKING_DAYS working days left. One calendar walk per day, not
    one per task: a page of lights over a long horizon costs a comparison each."""
    return calendar.add_working_days(today, YELLOW_WITHIN_WORKING_DAYS + 1) - timedelta(days=1)


def light_where(lamp: Light) -> Any:
    """The tasks showing this light, as a WHERE clause (for filters over big ledgers),
    executed with `light_params(today, calendar)`. Built once per light."""
    return _LIGHT_CLAUSES[lamp]


def light_params(today: date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> dict[str, date]:
    """The days `light_where` is bound to: today's lights."""
    return {"today": today, "last_yellow": last_yellow_day(today, calendar)}


def _light_clause(lamp: Light) -> Any:
    open_stage = Task.stage.in_([s.value for s in OPEN_STAGES])
    dated = and_(Task.deadline_class != DeadlineClass.LONG_TERM, Task.deadline.is_not(None))
    if lamp == Light.DONE:
        return Task.stage.not_in([s.value for s in (*OPEN_STAGES, Stage.PENDING)])
    if lamp == Light.NONE:
        return or_(Task.stage == Stage.PENDING, and_(open_stage, not_(dated)))
    today, last_yellow = bindparam("today", type_=Date), bindparam("last_yellow", type_=Date)
    if lamp == Light.RED:
        bound = Task.deadline < today
    elif lamp == Light.YELLOW:
        bound = Task.deadline.between(today, last_yellow)
    else:
        bound = Task.deadline > last_yellow
    return and_(open_stage, dated, bound)


_LIGHT_CLAUSES = {lamp: _light_clause(lamp) for lamp in Light}
