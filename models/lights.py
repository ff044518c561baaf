"""Traffic lights (红黄绿灯): how urgent an open task is, by the working calendar."""

from datetime import date
from enum import StrEnum

from models.calendar import DEFAULT_CALENDAR, WorkCalendar
from models.ledger import Task
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
    if task.stage not in OPEN_STAGES:
        return Light.NONE if task.stage == Stage.PENDING else Light.DONE
    if task.is_long_term or task.deadline is None:
        return Light.NONE
    if today > task.deadline:
        return Light.RED
    if calendar.working_days_between(today, task.deadline) <= YELLOW_WITHIN_WORKING_DAYS:
        return Light.YELLOW
    return Light.GREEN
