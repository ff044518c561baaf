"""Quarterly dispatch (按季度调度): rounds that collect the progress of every open task.

DESIGN.md "Policies, precisely" is the specification: a round opens at 09:00 on the first
working day of January, April, July and October; every open task (long-term ones included)
gets a progress request to its officer; answers are due on the 5th working day of the round
(the opening day is the 1st); those who have not answered are chased on the 3rd and the 5th
working day and escalated to their leader on the 6th, when the round closes and its report
goes to the leadership group. Each inspection's rounds are counted ("截至目前已调度N次") and
each is created once (a unique key on inspection, year and quarter).

Everything here takes a session and `now` and never commits; messages are the flows' work.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, func, select

from models.calendar import WorkCalendar
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.ledger import DEADLINE_CLASS_LABELS, Area, DeadlineClass, Inspection, Task
from models.people import Department, Person
from models.records import PROGRESS_STATUS_LABELS, ProgressReport, ProgressStatus
from models.stages import OPEN_STAGES, STAGE_LABELS, Stage

QUARTER_LABELS = {1: "一", 2: "二", 3: "三", 4: "四"}
UNANSWERED = "unanswered"
ANSWER_LABELS = {**{s.value: label for s, label in PROGRESS_STATUS_LABELS.items()}}
ANSWER_LABELS[UNANSWERED] = "未报送"


@dataclass(frozen=True)
class DispatchPolicy:
    """The dispatch numbers; DESIGN.md's defaults. Users may change them."""

    months: tuple[int, ...] = (1, 4, 7, 10)  # a round opens in these months
    hour: int = 9  # at this time, local, on the month's first working day
    minute: int = 0
    answer_day: int = 5  # answers are due on this working day of the round
    chase_days: tuple[int, ...] = (3, 5)  # those who have not answered are chased
    close_day: int = 6  # late answers escalated, the round closed and reported
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not self.months or any(not 1 <= m <= 12 for m in self.months):
            raise ValueError("months must be months of the year")
        if not 1 <= self.answer_day < self.close_day:
            raise ValueError("answers must be due before the round closes")
        if any(not 1 <= d <= self.close_day for d in self.chase_days):
            raise ValueError("chasers go out within the round")
        ZoneInfo(self.tz)


DEFAULT_DISPATCH = DispatchPolicy()


def first_working_day(calendar: WorkCalendar, year: int, month: int) -> date:
    first = date(year, month, 1)
    return first if calendar.is_working_day(first) else calendar.add_working_days(first, 1)


def round_day(calendar: WorkCalendar, opened_on: date, n: int) -> date:
    """The n-th working day of a round; its opening day is the 1st."""
    return opened_on if n == 1 else calendar.add_working_days(opened_on, n - 1)


def day_of_round(calendar: WorkCalendar, opened_on: date, today: date) -> int:
    """Which working day of the round today is: 1 on its (working) opening day, 0 before
    it opens; a day off counts as the working day before it."""
    if today < opened_on:
        return 0
    return 1 + calendar.working_days_between(opened_on, today)


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1


def round_title(year: int, quarter: int) -> str:
    return f"{year}年第{QUARTER_LABELS[quarter]}季度调度"


def _local(now: datetime, policy: DispatchPolicy) -> datetime:
    return now.astimezone(ZoneInfo(policy.tz))


def due_opening(
    now: datetime, calendar: WorkCalendar, policy: DispatchPolicy = DEFAULT_DISPATCH
) -> tuple[int, int, date] | None:
    """The (year, quarter, opening day) of the round that should be open at `now`, if any.

    A round is due from 09:00 on its opening day until the day it would close: a scheduler
    that was down on the opening day still opens it (late, with the official dates), but a
    round whose whole window passed is not opened any more.
    """
    local = _local(now, policy)
    today = local.date()
    if local.month not in policy.months:
        return None
    opened_on = first_working_day(calendar, local.year, local.month)
    if today < opened_on or (
        today == opened_on and local.time() < time(policy.hour, policy.minute)
    ):
        return None
    if today >= round_day(calendar, opened_on, policy.close_day):
        return None
    return local.year, quarter_of(local.month), opened_on


def requested_tasks(session: Session, inspection_id: int) -> list[Task]:
    """The tasks a round asks about: every open task with an officer, long-term ones too
    (signed off per phase, they stay open)."""
    return list(
        session.exec(
            select(Task)
            .where(Task.inspection_id == inspection_id)
            .where(Task.stage.in_([s.value for s in OPEN_STAGES]))
            .where(Task.officer_id.is_not(None))
            .order_by(Task.area_id, Task.number)
        )
    )


def open_rounds(
    session: Session,
    now: datetime,
    calendar: WorkCalendar,
    policy: DispatchPolicy = DEFAULT_DISPATCH,
) -> list[DispatchRound]:
    """Open the round due now for every inspection that has none yet; the rounds opened.

    Idempotent: a round that exists is never opened again (and the unique key refuses a
    second one made concurrently elsewhere).
    """
    due = due_opening(now, calendar, policy)
    if due is None:
        return []
    year, quarter, opened_on = due
    opened = []
    for inspection in session.exec(select(Inspection).order_by(Inspection.id)):
        exists = session.exec(
            select(DispatchRound.id).where(
                DispatchRound.inspection_id == inspection.id,
                DispatchRound.year == year,
                DispatchRound.quarter == quarter,
            )
        ).first()
        tasks = requested_tasks(session, inspection.id)
        if exists is not None or not tasks:
            continue
        earlier = session.exec(
            select(func.count()).where(DispatchRound.inspection_id == inspection.id)
        ).one()
        dispatch = DispatchRound(
            inspection_id=inspection.id,
            year=year,
            quarter=quarter,
            number=earlier + 1,
            title=round_title(year, quarter),
            opened_on=opened_on,
            due=round_day(calendar, opened_on, policy.answer_day),
            closes_on=round_day(calendar, opened_on, policy.close_day),
            opened_at=now,
        )
        session.add(dispatch)
        session.flush()
        session.add_all(
            DispatchRequest(round_id=dispatch.id, task_id=task.id, officer_id=task.officer_id)
            for task in tasks
        )
        opened.append(dispatch)
    session.flush()
    return opened


def open_request_for(session: Session, task_id: int) -> DispatchRequest | None:
    """The unanswered request of a round still open, for this task."""
    return session.exec(
        select(DispatchRequest)
        .join(DispatchRound, DispatchRound.id == DispatchRequest.round_id)
        .where(DispatchRequest.task_id == task_id, DispatchRequest.answered_at.is_(None))
        .where(DispatchRound.closed_at.is_(None))
    ).first()


def answer(session: Session, report: ProgressReport) -> DispatchRequest | None:
    """A progress report answers its task's open request, if there is one (the report's
    handler calls this: reporting progress is how an officer answers a round)."""
    request = open_request_for(session, report.task_id)
    if request is not None:
        request.report_id, request.answered_at = report.id, report.at
        session.add(request)
    return request


@dataclass(frozen=True)
class Duty:
    """What a round needs today: chase the silent (chase), or escalate and close (close)."""

    round: DispatchRound
    kind: str  # "chase" or "close"
    day: int  # the working day of the round
    unanswered: list[DispatchRequest]


def duties(
    session: Session,
    now: datetime,
    calendar: WorkCalendar,
    policy: DispatchPolicy = DEFAULT_DISPATCH,
) -> list[Duty]:
    """For every open round: a chase on a chase day, a close from its closing day on.

    A chase is due on its day only (a missed chase day is not made up: the next one, or the
    escalation, follows); closing is due from the closing day on, so downtime never leaves a
    round open.
    """
    local = _local(now, policy)
    if local.time() < time(policy.hour, policy.minute):
        return []
    today = local.date()
    found = []
    rounds = session.exec(
        select(DispatchRound).where(DispatchRound.closed_at.is_(None)).order_by(DispatchRound.id)
    )
    for dispatch in rounds:
        silent = list(
            session.exec(
                select(DispatchRequest)
                .where(DispatchRequest.round_id == dispatch.id)
                .where(DispatchRequest.answered_at.is_(None))
                .order_by(DispatchRequest.id)
            )
        )
        if today >= dispatch.closes_on:
            found.append(Duty(dispatch, "close", policy.close_day, silent))
            continue
        if not calendar.is_working_day(today):
            continue
        day = day_of_round(calendar, dispatch.opened_on, today)
        if day in policy.chase_days and silent:
            found.append(Duty(dispatch, "chase", day, silent))
    return found


def close_round(session: Session, dispatch: DispatchRound, now: datetime) -> dict[str, Any]:
    """Escalate what is unanswered, freeze the round's snapshot and close it; the snapshot."""
    for request in session.exec(
        select(DispatchRequest).where(
            DispatchRequest.round_id == dispatch.id, DispatchRequest.answered_at.is_(None)
        )
    ):
        request.escalated_at = now
        session.add(request)
    summary = snapshot(session, dispatch, now)
    dispatch.summary, dispatch.closed_at = summary, now
    session.add(dispatch)
    session.flush()
    return summary


def snapshot(session: Session, dispatch: DispatchRound, now: datetime) -> dict[str, Any]:
    """The round as it stands: one row per task asked about, and the counts the report
    shows (by answer, by area, by lead department), against the previous round."""
    rows = round_rows(session, dispatch)
    by_status = Counter(row["answer"] for row in rows)
    by_area: dict[str, Counter] = defaultdict(Counter)
    by_department: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        by_area[row["area"]][row["answer"]] += 1
        by_department[row["department"] or "（未明确）"][row["answer"]] += 1
    previous = session.exec(
        select(DispatchRound)
        .where(DispatchRound.inspection_id == dispatch.inspection_id)
        .where(DispatchRound.number < dispatch.number, DispatchRound.summary.is_not(None))
        .order_by(DispatchRound.number.desc())
    ).first()
    return {
        "round": {"id": dispatch.id, "number": dispatch.number, "title": dispatch.title},
        "as_of": now.isoformat(),
        "rows": rows,
        "by_status": dict(by_status),
        "by_area": {area: dict(counts) for area, counts in by_area.items()},
        "by_department": {name: dict(counts) for name, counts in by_department.items()},
        "previous": (
            {"number": previous.number, "title": previous.title, **previous.summary["by_status"]}
            if previous is not None
            else None
        ),
        "overdue": [row for row in rows if row["overdue"]],
        "rebounds": [row for row in rows if row["rebounds"]],
    }


def round_rows(session: Session, dispatch: DispatchRound) -> list[dict[str, Any]]:
    """The 调度表: every task asked about, its owners, and its answer (or none)."""
    people = dict(session.exec(select(Person.id, Person.name)).all())
    departments = dict(session.exec(select(Department.id, Department.name)).all())
    query = (
        select(DispatchRequest, Task, Area, ProgressReport)
        .join(Task, Task.id == DispatchRequest.task_id)
        .join(Area, Area.id == Task.area_id)
        .outerjoin(ProgressReport, ProgressReport.id == DispatchRequest.report_id)
        .where(DispatchRequest.round_id == dispatch.id)
        .order_by(Area.number, Task.number)
    )
    rows = []
    for request, task, area, report in session.exec(query):
        rows.append(
            {
                "task_id": task.id,
                "number": f"{area.number}.{task.number}",
                "area": area.title,
                "title": task.title,
                "department": departments.get(task.lead_department_id),
                "officer": people.get(request.officer_id),
                "leader": people.get(task.leader_id),
                "deadline": task.deadline.isoformat() if task.deadline else None,
                "deadline_class": DEADLINE_CLASS_LABELS[DeadlineClass(task.deadline_class)],
                "stage": STAGE_LABELS[Stage(task.stage)],
                "answer": report.status if report else UNANSWERED,
                "progress": report.text if report else None,
                "answered_at": report.at.isoformat() if report else None,
                "overdue": bool(
                    task.deadline is not None
                    and task.deadline < dispatch.closes_on
                    and Stage(task.stage) in OPEN_STAGES
                ),
                "rebounds": task.rebound_count,
            }
        )
    return rows


def answer_label(status: str) -> str:
    return ANSWER_LABELS.get(status, status)


ANSWER_ORDER = [*(s.value for s in ProgressStatus), UNANSWERED]
