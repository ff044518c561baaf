"""The working calendar: statutory holidays and 调休, user overrides, the Mon–Fri fallback."""

from datetime import date

import pytest
import typer
from sqlmodel import select

import cli
from cli.calendar import calendar_app
from models.calendar import (
    DaySource,
    WorkCalendar,
    clear_calendar_day,
    load_calendar,
    set_calendar_day,
)
from models.errors import BadInput
from models.lights import Light, light
from models.mail import CalendarDay
from models.stages import Stage
from tests.cli_harness import assert_one_line_error, write

D = date


# --- the statutory calendar of 2026 ------------------------------------------------------


def test_national_day_2026_is_seven_days_off():
    calendar = WorkCalendar()

    assert [calendar.is_working_day(D(2026, 10, day)) for day in range(1, 8)] == [False] * 7
    assert calendar.is_working_day(D(2026, 9, 30))
    assert calendar.is_working_day(D(2026, 10, 8))
    assert calendar.warnings == []


def test_the_2026_make_up_working_days_are_worked_whatever_the_weekday():
    calendar = WorkCalendar()
    make_up = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9)]
    make_up += [D(2026, 9, 20), D(2026, 10, 10)]

    assert all(day.weekday() >= 5 for day in make_up)
    assert all(calendar.is_working_day(day) for day in make_up)
    assert not calendar.is_working_day(D(2026, 9, 19))  # the Saturday before the Sunday
    assert not calendar.is_working_day(D(2026, 10, 11))  # the Sunday after the Saturday


def test_a_day_says_where_its_answer_comes_from():
    calendar = WorkCalendar()

    sunday = calendar.describe(D(2026, 9, 20))
    national_day = calendar.describe(D(2026, 10, 1))
    weekday = calendar.describe(D(2026, 10, 9))

    assert (sunday.working, sunday.source, sunday.note) == (
        True,
        DaySource.STATUTORY,
        "国庆节调休上班",
    )
    assert (national_day.working, national_day.note) == (False, "国庆节")
    assert (weekday.working, weekday.source, weekday.warning) == (True, DaySource.STATUTORY, None)


def test_working_days_are_counted_across_national_day():
    calendar = WorkCalendar()

    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert calendar.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert calendar.add_working_days(D(2026, 9, 30), 4) == D(2026, 10, 12)
    assert calendar.add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert calendar.add_working_days(D(2026, 10, 12), -7) == D(2026, 9, 24)
    # "N working days before D" counts back from D, D excluded, over the Sunday make-up day
    assert calendar.add_working_days(D(2026, 9, 30), -7) == D(2026, 9, 20)
    assert calendar.add_working_days(D(2026, 9, 21), -1) == D(2026, 9, 20)
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 12)) == 4
    assert calendar.working_days_between(D(2026, 10, 12), D(2026, 9, 30)) == 0


def test_working_days_are_counted_across_the_2026_spring_festival():
    calendar = WorkCalendar()

    assert calendar.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)  # Saturday, worked
    assert calendar.add_working_days(D(2026, 2, 14), 1) == D(2026, 2, 24)  # 2/15–2/23 off
    assert calendar.add_working_days(D(2026, 2, 24), -1) == D(2026, 2, 14)
    assert calendar.add_working_days(D(2026, 2, 24), -2) == D(2026, 2, 13)
    assert calendar.add_working_days(D(2026, 2, 24), 4) == D(2026, 2, 28)  # Saturday, worked
    assert calendar.add_working_days(D(2026, 2, 28), 1) == D(2026, 3, 2)
    assert calendar.working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6


def test_the_working_day_index_agrees_with_counting_day_by_day():
    calendar = WorkCalendar()
    first, last = D(2026, 9, 1), D(2026, 11, 30)

    index = calendar.working_day_index(first, last)

    assert len(index) == (last - first).days + 1
    for a, b in [(D(2026, 9, 18), D(2026, 10, 12)), (D(2026, 9, 30), D(2026, 10, 8))]:
        assert index[b] - index[a] == calendar.working_days_between(a, b)


# --- years the library does not know --------------------------------------------------


def test_2027_falls_back_to_monday_to_friday_with_a_warning_naming_the_year():
    calendar = WorkCalendar()

    assert calendar.is_working_day(D(2027, 1, 1))  # a Friday: surely a holiday, not known yet
    assert not calendar.is_working_day(D(2027, 1, 2))
    assert calendar.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 1)
    assert calendar.describe(D(2027, 1, 4)).source == DaySource.FALLBACK
    assert len(calendar.warnings) == 1
    assert "2027年" in calendar.warnings[0]
    assert "周一至周五" in calendar.warnings[0]


def test_an_override_decides_a_2027_day_without_a_warning():
    calendar = WorkCalendar(overrides={D(2027, 1, 1): False}, notes={D(2027, 1, 1): "元旦"})

    info = calendar.describe(D(2027, 1, 1))

    assert (info.working, info.source, info.note, info.warning) == (
        False,
        DaySource.OVERRIDE,
        "元旦",
        None,
    )
    assert calendar.warnings == []
    assert calendar.add_working_days(D(2026, 12, 31), 1) == D(2027, 1, 4)
    assert calendar.warnings and "2027年" in calendar.warnings[0]  # 1/4 itself fell back


def test_overrides_win_over_the_statutory_calendar():
    calendar = WorkCalendar(overrides={D(2026, 10, 9): False, D(2026, 10, 3): True})

    assert not calendar.is_working_day(D(2026, 10, 9))
    assert calendar.is_working_day(D(2026, 10, 3))
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 3)
    assert calendar.add_working_days(D(2026, 10, 8), 1) == D(2026, 10, 10)


# --- the override table ----------------------------------------------------------------


def test_load_calendar_reads_the_overrides_of_the_database(session, now):
    set_calendar_day(session, D(2026, 10, 9), False, "单位运动会", now)
    set_calendar_day(session, D(2027, 2, 6), True, "春节调休上班", now)
    session.commit()

    calendar = load_calendar(session)

    assert not calendar.is_working_day(D(2026, 10, 9))
    assert calendar.describe(D(2026, 10, 9)).note == "单位运动会"
    assert calendar.is_working_day(D(2027, 2, 6))  # a Saturday
    assert calendar.is_working_day(D(2026, 10, 8))  # the library still answers the rest
    assert calendar.warnings == []


def test_setting_a_day_twice_replaces_it_and_clearing_restores_the_library(session, now):
    set_calendar_day(session, D(2026, 10, 9), False, "运动会", now)
    set_calendar_day(session, D(2026, 10, 9), True, None, now)

    rows = session.exec(select(CalendarDay)).all()
    assert [(r.day, r.working, r.note) for r in rows] == [(D(2026, 10, 9), True, None)]

    assert clear_calendar_day(session, D(2026, 10, 9)) is True
    assert clear_calendar_day(session, D(2026, 10, 9)) is False
    assert load_calendar(session).overrides == {}


def test_a_note_longer_than_the_column_is_refused(session, now):
    with pytest.raises(BadInput, match="100"):
        set_calendar_day(session, D(2026, 10, 9), False, "长" * 101, now)


def test_lights_follow_the_calendar_they_are_given(world):
    task = world.task_at(Stage.ACTING)
    task.deadline = D(2026, 10, 20)
    # 9/30 → 10/20: 10/8, 9, 10, 12–16, 19, 20 = 10 working days: green
    assert light(task, D(2026, 9, 30), WorkCalendar()) == Light.GREEN
    # three of them off locally: 7 left, yellow
    closed = {D(2026, 10, 8): False, D(2026, 10, 9): False, D(2026, 10, 10): False}
    assert light(task, D(2026, 9, 30), WorkCalendar(overrides=closed)) == Light.YELLOW


# --- the `rectify calendar` commands -----------------------------------------------------


@pytest.fixture
def rectify_calendar(rectify, monkeypatch):
    """`rectify` with the calendar commands, registered here until cli/__init__ does it."""
    registered = any(group.name == "calendar" for group in cli.app.registered_groups)
    if not registered:
        app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
        app.registered_commands = list(cli.app.registered_commands)
        app.registered_groups = list(cli.app.registered_groups)
        app.add_typer(calendar_app, name="calendar")
        monkeypatch.setattr(cli, "app", app)
    rectify.ok("init")
    return rectify


def test_calendar_check_names_the_source_of_its_answer(rectify_calendar):
    rc = rectify_calendar

    assert rc.ok("calendar", "check", "2026-10-10").out.strip() == (
        "2026-10-10（星期六）：工作日（法定节假日安排：国庆节调休上班）"
    )
    assert rc.ok("calendar", "check", "2026-10-05").out.strip() == (
        "2026-10-05（星期一）：休息日（法定节假日安排：国庆节）"
    )
    fallback = rc.ok("calendar", "check", "2027-01-04")
    assert fallback.out.strip() == "2027-01-04（星期一）：工作日（按周一至周五推定）"
    assert "注意：2027年" in fallback.err

    answer = rc.ok("calendar", "check", "2027/1/4", "--json").json
    assert answer["source"] == "fallback"
    assert "2027年" in answer["warning"]


def test_calendar_set_list_check_and_unset(rectify_calendar):
    rc = rectify_calendar

    assert "已设为休息日" in rc.ok("calendar", "set", "2027-01-01", "休息", "--note", "元旦").out
    rc.ok("calendar", "set", "2027-02-06", "work", "--note", "春节调休上班")
    rc.ok("calendar", "set", "2026-10-09", "off")

    check = rc.ok("calendar", "check", "2027-01-01")
    assert check.out.strip() == "2027-01-01（星期五）：休息日（本地调整：元旦）"
    assert check.err == ""
    listed = rc.ok("calendar", "list", "--year", "2027", "--json").json
    assert [(r["day"], r["working"], r["note"]) for r in listed] == [
        ("2027-01-01", False, "元旦"),
        ("2027-02-06", True, "春节调休上班"),
    ]
    assert len(rc.ok("calendar", "list", "--json").json) == 3
    assert "2026-10-09" in rc.ok("calendar", "list").out

    unset = rc.ok("calendar", "unset", "2026-10-09")
    assert "现为工作日（法定节假日安排）" in unset.out
    assert rc.count("calendar_day") == 2
    assert rc.ok("calendar", "list", "--year", "2026").out.strip() == "2026 年没有本地调整"


def test_calendar_commands_refuse_bad_input_in_one_line(rectify_calendar):
    rc = rectify_calendar

    assert_one_line_error(rc("calendar", "set", "2027-02-30", "休息"), "日期格式不正确")
    assert_one_line_error(rc("calendar", "set", "2027-02-01", "加班"), "类型不正确", "加班")
    assert_one_line_error(rc("calendar", "unset", "2027-02-01"), "没有本地调整")
    assert rc.count("calendar_day") == 0


def test_calendar_import_writes_every_row(rectify_calendar, tmp_path):
    rc = rectify_calendar
    rc.ok("calendar", "set", "2027-01-01", "上班")
    csv_text = "日期,类型,说明\n2027-01-01,休息,元旦\n\n2027-02-06,上班,春节调休上班\n"
    file = write(tmp_path / "2027.csv", csv_text.encode("gb18030"))

    result = rc.ok("calendar", "import", file)

    assert "已导入 2 天的本地调整：新增 1 天，更新 1 天" in result.out
    listed = rc.ok("calendar", "list", "--json").json
    assert [(r["day"], r["working"], r["note"]) for r in listed] == [
        ("2027-01-01", False, "元旦"),
        ("2027-02-06", True, "春节调休上班"),
    ]


def test_calendar_import_reports_every_bad_row_and_writes_nothing(rectify_calendar, tmp_path):
    rc = rectify_calendar
    csv_text = (
        "日期,类型,说明\n"
        "2027-01-01,休息,元旦\n"
        "2027-02-30,休息,\n"
        "2027-02-06,加班,\n"
        "2027-01-01,上班,\n"
        f"2027-10-01,休息,{'长' * 101}\n"
    )
    file = write(tmp_path / "bad.csv", csv_text.encode("utf-8-sig"))

    result = rc("calendar", "import", file)

    assert result.code == 1
    assert "日历文件有 4 处问题，未导入任何数据" in result.err
    assert "第 3 行 日期：“2027-02-30”不是日期" in result.err
    assert "第 4 行 类型：不认识“加班”" in result.err
    assert "第 5 行 日期：2027-01-01 与第 2 行重复" in result.err
    assert "第 6 行 说明：超过 100 个字" in result.err
    assert "Traceback" not in result.err
    assert rc.count("calendar_day") == 0
