"""The look-back sweep, on SQLite and PostgreSQL: due 3 calendar months after sign-off,
reviewers in turn, never someone who acted on or approved the task."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from models.calendar import WorkCalendar
from models.guards import involved_people
from models.lookback import add_months, due_for_lookback, sweep
from models.people import Role
from models.records import LookbackReview
from models.stages import Action, Stage

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("signed_off", "months", "due"),
    [
        (date(2026, 6, 15), 3, date(2026, 9, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),  # no 30 February: the month's last day
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 10, 31), 6, date(2027, 4, 30)),
    ],
)
def test_calendar_months_later(signed_off, months, due):
    assert add_months(signed_off, months) == due


def signed_off_on(world, day: date):
    world.now = at(day, 10)
    return world.task_at(Stage.SIGNED_OFF)


def test_a_task_is_due_three_calendar_months_after_its_sign_off(world):
    task = signed_off_on(world, date(2026, 6, 15))

    assert due_for_lookback(world.session, date(2026, 9, 14)) == []
    assert due_for_lookback(world.session, date(2026, 9, 15)) == [task]
    assert sweep(world.session, at(date(2026, 9, 14)), CALENDAR).opened == []


def test_an_inspection_may_set_its_own_number_of_months(world):
    world.inspection.lookback_months = 6
    task = signed_off_on(world, date(2026, 3, 10))

    assert due_for_lookback(world.session, date(2026, 9, 9)) == []
    assert due_for_lookback(world.session, date(2026, 9, 10)) == [task]


def test_the_sweep_opens_reviews_in_turn_due_ten_working_days_later(world):
    second = world.person("钱红", Role.REVIEWER)
    third = world.person("孙强", Role.REVIEWER)
    tasks = [signed_off_on(world, date(2026, 6, 1 + i)) for i in range(4)]

    report = sweep(world.session, at(date(2026, 9, 21)), CALENDAR)  # a Monday

    pool = [world.reviewer.id, second.id, third.id]
    assert report.opened == [(t.id, pool[i % 3]) for i, t in enumerate(tasks)]
    assert {t.stage for t in tasks} == {Stage.LOOKBACK}
    reviews = world.session.exec(select(LookbackReview).order_by(LookbackReview.id)).all()
    # 10 working days after Monday 9/21: 9/25–27 中秋 and 10/1–7 国庆 off, Sat 10/10 worked
    assert {r.due for r in reviews} == {date(2026, 10, 12)}
    later = signed_off_on(world, date(2026, 6, 30))
    assert sweep(world.session, at(date(2026, 9, 30)), CALENDAR).opened == [
        (later.id, second.id)  # the turn goes on where it stopped
    ]


def test_the_next_in_turn_is_skipped_for_a_task_they_approved(world):
    approver = world.person("王芳芳", Role.OFFICE, Role.REVIEWER)  # after 赵敏 in the pool
    first = signed_off_on(world, date(2026, 6, 1))  # approved by 王芳, the office
    world.now = at(date(2026, 6, 2), 10)
    second = world.task_at(Stage.EVIDENCE)
    world.do(second, Action.APPROVE, actor=approver)

    report = sweep(world.session, at(date(2026, 9, 2)), CALENDAR)

    # 王芳芳's turn comes with the second task, which she approved: 赵敏 takes it
    assert report.opened == [(first.id, world.reviewer.id), (second.id, world.reviewer.id)]
    for task in (first, second):
        assert world.reviewer.id not in involved_people(world.session, task)


def test_a_task_nobody_may_review_is_reported_and_left_signed_off(world):
    world.reviewer.active = False
    task = signed_off_on(world, date(2026, 6, 1))

    report = sweep(world.session, at(date(2026, 9, 1)), CALENDAR)

    assert report.opened == []
    assert report.unassigned == [(task.id, "没有可担任回头看的人员")]
    assert task.stage == Stage.SIGNED_OFF


def test_a_reviewer_who_approved_every_due_task_is_skipped_and_that_is_said(world):
    world.reviewer.set_roles({Role.REVIEWER, Role.OFFICE})
    world.now = at(date(2026, 6, 1), 10)
    task = world.task_at(Stage.EVIDENCE)
    world.do(task, Action.APPROVE, actor=world.reviewer)

    report = sweep(world.session, at(date(2026, 9, 1)), CALENDAR)

    assert report.unassigned == [(task.id, "回头看人员均曾参与该任务的整改或审批")]
