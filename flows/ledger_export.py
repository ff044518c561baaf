"""Exporting the ledgers as .xlsx: the 整改台账 that owners and deadlines are filled into, and the
销号台账 of the tasks signed off.

Each export reads the inspection in a handful of bulk queries (tasks, people, departments,
supporting departments, measures, latest progress reports; sign-offs and evidence counts for
the closed ledger), never one per row, and streams the rows into the workbook.
"""

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from flows.ledger_xlsx import (
    CLOSED_COLUMNS,
    CLOSED_SHEET,
    DEADLINE_CLASS_CHOICES,
    LEDGER_COLUMNS,
    LEDGER_SHEET,
    LIGHT_FILLS,
    LONG_TERM_WORD,
    AreaRow,
    Row,
    Styled,
    chinese_date,
    chinese_numeral,
    write_ledger_workbook,
)
from models.calendar import WorkCalendar, load_calendar, local_date
from models.ledger import DEADLINE_CLASS_LABELS, Area, DeadlineClass, Measure, Task, TaskSupport
from models.lights import LIGHT_LABELS, Light, light_of
from models.queries import choose_inspection, names_by_id
from models.records import Decision, Evidence, ProgressReport, SignOff
from models.stages import STAGE_LABELS, Stage

CLOSED_STAGES = (Stage.SIGNED_OFF, Stage.LOOKBACK, Stage.CONSOLIDATED)
LOOKBACK_LABELS = {
    Stage.SIGNED_OFF: "待回头看",
    Stage.LOOKBACK: "回头看中",
    Stage.CONSOLIDATED: "已巩固",
}


def export_ledger(
    session: Session,
    path: Path,
    today: date,
    inspection_id: int | None = None,
    *,
    calendar: WorkCalendar | None = None,
) -> int:
    """Write the 整改台账 of an inspection to `path`; returns the number of task rows."""
    calendar = calendar or load_calendar(session)
    inspection = choose_inspection(session, inspection_id)
    people, departments = names_by_id(session)
    supports = _supports(session, inspection.id, departments)
    measures = _measures(session, inspection.id)
    progress = _latest_progress(session, inspection.id)
    lamp = _light_cache(today, calendar)
    tasks = session.execute(
        select(
            Task.id,
            Task.area_id,
            Task.number,
            Task.title,
            Task.stage,
            Task.leader_id,
            Task.lead_department_id,
            Task.officer_id,
            Task.deadline,
            Task.deadline_class,
        )
        .where(Task.inspection_id == inspection.id)
        .order_by(Task.area_id, Task.number)
    ).all()

    def task_row(area: Area, t: Any) -> list[Any]:
        deadline = t.deadline
        if deadline is None and t.deadline_class == DeadlineClass.LONG_TERM:
            deadline = LONG_TERM_WORD
        state = lamp(t.stage, t.deadline_class, t.deadline)
        label = LIGHT_LABELS[state]
        return [
            f"{area.number}.{t.number}",
            area.title,
            t.title,
            measures.get(t.id),
            people.get(t.leader_id),
            departments.get(t.lead_department_id),
            supports.get(t.id),
            people.get(t.officer_id),
            deadline,
            DEADLINE_CLASS_LABELS.get(t.deadline_class, t.deadline_class),
            progress.get(t.id),
            STAGE_LABELS[Stage(t.stage)],
            Styled(label, f"light-{state.value}") if state in LIGHT_FILLS else label,
            t.id,
        ]

    rows = _with_area_rows(session, inspection.id, tasks, task_row, all_areas=True)
    write_ledger_workbook(
        path,
        sheet_title=LEDGER_SHEET,
        title=f"{inspection.title}反馈问题整改台账（截至{chinese_date(today)}）",
        columns=LEDGER_COLUMNS,
        rows=rows,
        validations={"时限类别": DEADLINE_CLASS_CHOICES},
    )
    return len(tasks)


def export_closed(session: Session, path: Path, inspection_id: int | None = None) -> int:
    """Write the 销号台账 (signed-off tasks, with their approvers, evidence and look-back)."""
    inspection = choose_inspection(session, inspection_id)
    people, departments = names_by_id(session)
    in_scope = (Task.inspection_id == inspection.id, Task.stage.in_(CLOSED_STAGES))
    tasks = session.execute(
        select(
            Task.id,
            Task.area_id,
            Task.number,
            Task.title,
            Task.stage,
            Task.leader_id,
            Task.lead_department_id,
            Task.officer_id,
            Task.submitted_at,
            Task.signed_off_at,
            Task.rebound_count,
        )
        .where(*in_scope)
        .order_by(Task.area_id, Task.number)
    ).all()
    evidence = dict(
        session.execute(
            select(Evidence.task_id, func.count())
            .join(Task, Task.id == Evidence.task_id)
            .where(*in_scope)
            .group_by(Evidence.task_id)
        ).all()
    )
    # The signatures on the submission that was approved: the task's current round.
    approvers: dict[int, list[str]] = {}
    for task_id, signer_id in session.execute(
        select(SignOff.task_id, SignOff.signer_id)
        .join(Task, (Task.id == SignOff.task_id) & (Task.round == SignOff.round))
        .where(*in_scope, SignOff.decision.in_([Decision.ENDORSED, Decision.APPROVED]))
        .order_by(SignOff.task_id, SignOff.id)
    ):
        approvers.setdefault(task_id, []).append(people.get(signer_id, ""))

    def task_row(area: Area, t: Any) -> list[Any]:
        lookback = LOOKBACK_LABELS[Stage(t.stage)]
        if t.rebound_count:
            lookback += f"（反弹{t.rebound_count}次）"
        return [
            f"{area.number}.{t.number}",
            area.title,
            t.title,
            people.get(t.leader_id),
            departments.get(t.lead_department_id),
            people.get(t.officer_id),
            local_date(t.submitted_at) if t.submitted_at else None,
            local_date(t.signed_off_at) if t.signed_off_at else None,
            "、".join(approvers.get(t.id, [])),
            evidence.get(t.id, 0),
            lookback,
            t.id,
        ]

    rows = _with_area_rows(session, inspection.id, tasks, task_row, all_areas=False)
    write_ledger_workbook(
        path,
        sheet_title=CLOSED_SHEET,
        title=f"{inspection.title}反馈问题销号台账",
        columns=CLOSED_COLUMNS,
        rows=rows,
    )
    return len(tasks)


# --- bulk reads ------------------------------------------------------------------------


def _supports(session: Session, inspection_id: int, departments: dict[int, str]) -> dict[int, str]:
    """Each task's supporting departments, as the cell shows them: "水资源科、办公室"."""
    listed: dict[int, list[str]] = {}
    for task_id, department_id in session.execute(
        select(TaskSupport.task_id, TaskSupport.department_id)
        .join(Task, Task.id == TaskSupport.task_id)
        .where(Task.inspection_id == inspection_id)
        .order_by(TaskSupport.task_id, TaskSupport.department_id)
    ):
        listed.setdefault(task_id, []).append(departments[department_id])
    return {task_id: "、".join(names) for task_id, names in listed.items()}


def _measures(session: Session, inspection_id: int) -> dict[int, str]:
    """Each task's measures as one cell: "1. …\\n2. …"."""
    listed: dict[int, list[str]] = {}
    for task_id, number, text in session.execute(
        select(Measure.task_id, Measure.number, Measure.text)
        .join(Task, Task.id == Measure.task_id)
        .where(Task.inspection_id == inspection_id)
        .order_by(Measure.task_id, Measure.number)
    ):
        listed.setdefault(task_id, []).append(f"{number}. {text}")
    return {task_id: "\n".join(lines) for task_id, lines in listed.items()}


def _latest_progress(session: Session, inspection_id: int) -> dict[int, str]:
    """The text of each task's latest progress report."""
    ranked = (
        select(
            ProgressReport.task_id,
            ProgressReport.text,
            func.row_number()
            .over(
                partition_by=ProgressReport.task_id,
                order_by=(ProgressReport.at.desc(), ProgressReport.id.desc()),
            )
            .label("rank"),
        )
        .join(Task, Task.id == ProgressReport.task_id)
        .where(Task.inspection_id == inspection_id)
        .subquery()
    )
    return dict(
        session.execute(select(ranked.c.task_id, ranked.c.text).where(ranked.c.rank == 1)).all()
    )


def _light_cache(today: date, calendar: WorkCalendar) -> Callable[[str, str, date | None], Light]:
    """The light depends only on stage, class and deadline: computed once per combination."""
    cache: dict[tuple[str, str, date | None], Light] = {}

    def lamp(stage: str, deadline_class: str, deadline: date | None) -> Light:
        key = (stage, deadline_class, deadline)
        if key not in cache:
            cache[key] = light_of(*key, today, calendar)
        return cache[key]

    return lamp


def _with_area_rows(
    session: Session,
    inspection_id: int,
    tasks: Iterable[Any],
    task_row: Callable[[Area, Any], list[Any]],
    *,
    all_areas: bool,
) -> list[Row]:
    """Rows in 方面 order, each 方面 headed by its area row (empty ones only if asked)."""
    areas = list(
        session.execute(
            select(Area).where(Area.inspection_id == inspection_id).order_by(Area.number)
        ).scalars()
    )
    by_area: dict[int, list[Any]] = {}
    for t in tasks:
        by_area.setdefault(t.area_id, []).append(t)
    rows: list[Row] = []
    for area in areas:
        members = by_area.get(area.id, [])
        if not members and not all_areas:
            continue
        rows.append(AreaRow(f"（{chinese_numeral(area.number)}）{area.title}"))
        rows.extend(task_row(area, t) for t in members)
    return rows
