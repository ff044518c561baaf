"""Read-only questions about the ledger, answered with a few queries."""

from datetime import date
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func
from sqlmodel import Session, SQLModel, select

from models.calendar import DEFAULT_CALENDAR, WorkCalendar
from models.errors import BadInput, NotFound
from models.ledger import Area, Inspection, Measure, Task
from models.lights import Light, light
from models.people import Department, Person
from models.stages import Stage

Record = TypeVar("Record", bound=SQLModel)


def ledger_summary(
    session: Session, today: date, calendar: WorkCalendar = DEFAULT_CALENDAR
) -> dict[str, Any]:
    """Counts of areas, tasks and measures, and tasks by stage and by light."""
    by_stage = {stage.value: 0 for stage in Stage}
    by_light = {lamp.value: 0 for lamp in Light}
    for task in session.exec(select(Task)):
        by_stage[task.stage] += 1
        by_light[light(task, today, calendar)] += 1
    return {
        "areas": session.exec(select(func.count()).select_from(Area)).one(),
        "tasks": sum(by_stage.values()),
        "measures": session.exec(select(func.count()).select_from(Measure)).one(),
        "by_stage": by_stage,
        "by_light": by_light,
    }


def choose_inspection(session: Session, inspection_id: int | None) -> Inspection:
    """The inspection named, or the only one there is; commands work on one inspection."""
    if inspection_id is not None:
        inspection = session.get(Inspection, inspection_id)
        if inspection is None:
            raise NotFound(f"没有编号为 {inspection_id} 的巡察")
        return inspection
    inspections = list(session.exec(select(Inspection).order_by(Inspection.id)))
    if not inspections:
        raise BadInput("还没有任何巡察：请先导入巡察反馈意见或整改通报")
    if len(inspections) > 1:
        listed = "；".join(f"{i.id}：{i.title}" for i in inspections)
        raise BadInput(
            f"台账中有多轮巡察（{len(inspections)} 次），请用 --inspection 指明是哪一次：{listed}"
        )
    return inspections[0]


def names_by_id(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """Every person's and every department's name by id, in two column-only queries."""
    people = dict(session.execute(select(Person.id, Person.name)).all())
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    return people, departments


@cache
def _records_query(model: type[SQLModel]) -> Select:
    """Built once per table: building a statement cost more than running it (the task page
    reads seven such tables)."""
    return select(model).where(model.task_id == bindparam("task_id")).order_by(model.id)


def records_of(session: Session, model: type[Record], task_id: int) -> list[Record]:
    """Every row of a per-task table (evidence, sign-offs, …) for one task, oldest first."""
    return list(session.exec(_records_query(model), params={"task_id": task_id}))
