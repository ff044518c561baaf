"""A simulated 2026 over the demo ledger, on SQLite and PostgreSQL: every day the scheduled
flows' work runs as at its hour (reminders at 08:30; dispatch, chasers and the look-back
sweep at 09:00), people sign off and answer now and then, and the year must show four
dispatch rounds on the first working day of each quarter by the Chinese calendar,
look-backs opened 3 months after each sign-off by someone uninvolved, and reminders only
on working days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from flows.demo import load_demo
from flows.dispatch import chase_and_close, open_due_rounds, sweep_lookbacks
from flows.reminders import plan_day
from models.calendar import WorkCalendar, local_date
from models.db import transaction
from models.directory import find_person
from models.dispatch_tables import DispatchRequest, DispatchRound
from models.guards import involved_people
from models.ledger import Task
from models.lookback import add_months
from models.mail import OutboxMessage
from models.people import Person
from models.records import LookbackReview
from models.settings import Settings
from models.stages import Action, Stage
from models.workflow import apply
from tests.cli_harness import clear_rectify_environment
from tests.factories import POLICY

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def sign_off_what_waits(engine, now: datetime) -> list[int]:
    """The office approves every task awaiting sign-off (the demo has two)."""
    with transaction(engine) as session:
        office = find_person(session, "邓佳琪")
        waiting = session.exec(select(Task).where(Task.stage == Stage.EVIDENCE.value)).all()
        for task in waiting:
            apply(session, task, Action.APPROVE, office, now, comment="同意销号")
        return [task.id for task in waiting]


def answer_half(engine, now: datetime) -> None:
    """Officers answer every other request of the open round, on its second day."""
    with transaction(engine) as session:
        open_requests = session.exec(
            select(DispatchRequest, Task)
            .join(Task, Task.id == DispatchRequest.task_id)
            .join(DispatchRound, DispatchRound.id == DispatchRequest.round_id)
            .where(DispatchRound.closed_at.is_(None), DispatchRequest.answered_at.is_(None))
            .order_by(DispatchRequest.id)
        ).all()
        for n, (request, task) in enumerate(open_requests):
            if n % 2 == 0:
                officer = session.get(Person, request.officer_id)
                apply(session, task, Action.REPORT_PROGRESS, officer, now,
                      status="in_progress", text="按计划推进")  # fmt: skip


@pytest.fixture
def year(engine, tmp_path, monkeypatch):
    """The demo ledger as of the last day of 2025, then every day of 2026."""
    clear_rectify_environment(monkeypatch)
    settings = Settings(home=tmp_path / "home")  # no SMTP: nothing leaves the outbox here
    with transaction(engine) as session:
        load_demo(session, tmp_path / "home", at(date(2025, 12, 31), 10), POLICY)
    signed: dict[int, date] = {}
    with Session(engine) as session:
        for task in session.exec(select(Task).where(Task.signed_off_at.is_not(None))):
            signed[task.id] = local_date(task.signed_off_at)
    day = date(2026, 1, 1)
    while day.year == 2026:
        plan_day(engine, at(day, 8, 30), settings)
        open_due_rounds(engine, at(day, 9), settings)
        chase_and_close(engine, at(day, 9), settings)
        sweep_lookbacks(engine, at(day, 9))
        if day in (date(2026, 2, 10), date(2026, 5, 20)):
            for task_id in sign_off_what_waits(engine, at(day, 15)):
                signed[task_id] = day
        if any(day == r.opened_on + timedelta(days=1) for r in rounds(engine)):
            answer_half(engine, at(day, 16))
        day += timedelta(days=1)
    return signed


def rounds(engine) -> list[DispatchRound]:
    with Session(engine) as session:
        return list(session.exec(select(DispatchRound).order_by(DispatchRound.id)))


def test_a_simulated_year_over_the_demo_ledger(engine, year):
    """One year, run once, checked three ways (a year takes a while to live through)."""
    check_four_rounds_on_the_first_working_day_of_each_quarter(engine)
    check_look_backs_three_months_after_each_sign_off_by_someone_uninvolved(engine, year)
    check_reminders_and_chasers_only_on_working_days(engine)


def check_four_rounds_on_the_first_working_day_of_each_quarter(engine) -> None:
    opened = [(r.title, r.number, local_date(r.opened_at)) for r in rounds(engine)]

    assert opened == [
        ("2026年第一季度调度", 1, date(2026, 1, 4)),  # a Sunday, worked (元旦 调休)
        ("2026年第二季度调度", 2, date(2026, 4, 1)),
        ("2026年第三季度调度", 3, date(2026, 7, 1)),
        ("2026年第四季度调度", 4, date(2026, 10, 8)),  # after 国庆
    ]
    assert all(r.closed_at is not None for r in rounds(engine))
    assert [local_date(r.closed_at) for r in rounds(engine)] == [
        r.closes_on for r in rounds(engine)
    ]


def check_look_backs_three_months_after_each_sign_off_by_someone_uninvolved(engine, year) -> None:
    with Session(engine) as session:
        reviews = session.exec(
            select(LookbackReview).where(LookbackReview.opened_at >= at(date(2026, 1, 1), 0))
        ).all()
        opened = {r.task_id: local_date(r.opened_at) for r in reviews}
        due_in_2026 = {
            task_id: add_months(day, 3)
            for task_id, day in year.items()
            if add_months(day, 3).year == 2026
        }
        assert len(due_in_2026) >= 4  # the demo's sign-offs and this year's two
        assert opened == due_in_2026, (opened, due_in_2026)
        for review in reviews:
            task = session.get(Task, review.task_id)
            assert review.reviewer_id not in involved_people(session, task)
            assert review.reviewer_id != task.officer_id


def check_reminders_and_chasers_only_on_working_days(engine) -> None:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.kind, OutboxMessage.created_at).where(
                OutboxMessage.kind.in_(["digest", "dispatch_chaser", "dispatch_request"])
            )
        ).all()
    days = {(kind, local_date(created)) for kind, created in rows}

    assert {kind for kind, _ in days} == {"digest", "dispatch_chaser", "dispatch_request"}
    assert [d for _, d in days if not CALENDAR.is_working_day(d)] == []
    assert len({d for kind, d in days if kind == "digest"}) > 100  # most working days
