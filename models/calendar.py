"""The Chinese working calendar behind one small interface.

A day is a working day by, in this order:
1. the users' override (a CalendarDay row): local changes, and years the library does not
   know yet;
2. the statutory calendar of chinesecalendar: holidays and adjusted working days (调休);
3. outside both, Monday–Friday, with a warning naming the year (never a crash).

"N working days after/before D" is the N-th working day counting from D, D excluded.
Build the calendar of a database with `load_calendar(session)` (one query); `WorkCalendar()`
without overrides is the statutory calendar alone.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import Holiday
from sqlmodel import Session, select

from models.errors import BadInput
from models.mail import CalendarDay

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTE_MAX_LENGTH = 100
WEEKDAY_LABELS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

# The library's tables, read once: its public lookups re-derive the covered years on every
# call (~30 µs each), too slow for planning over a whole ledger.
_STATUTORY_OFF: Mapping[date, str] = chinese_calendar.holidays
_STATUTORY_WORKING: Mapping[date, str] = chinese_calendar.workdays
_KNOWN_YEARS = range(min(_STATUTORY_OFF).year, max(_STATUTORY_OFF).year + 1)
_HOLIDAY_NAMES = {holiday.value: holiday.chinese for holiday in Holiday}


def local_date(now: datetime) -> date:
    """The calendar day in China at a moment (deadlines and working days are local)."""
    return now.astimezone(SHANGHAI).date()


def weekday_label(day: date) -> str:
    return WEEKDAY_LABELS[day.weekday()]


def unknown_year_warning(year: int) -> str:
    return (
        f"{year}年的法定节假日和调休安排尚未收录，暂按周一至周五为工作日计算；"
        "请按国务院办公厅通知录入本地调整"
    )


class DaySource(StrEnum):
    """Where the answer for a day came from."""

    OVERRIDE = "override"
    STATUTORY = "statutory"
    FALLBACK = "fallback"


DAY_SOURCE_LABELS: dict[DaySource, str] = {
    DaySource.OVERRIDE: "本地调整",
    DaySource.STATUTORY: "法定节假日安排",
    DaySource.FALLBACK: "按周一至周五推定",
}


@dataclass(frozen=True)
class DayInfo:
    """Whether a day is a working day, and why."""

    day: date
    working: bool
    source: DaySource
    note: str | None = None  # the override's note, or the holiday (国庆节, 国庆节调休上班)
    warning: str | None = None  # set when the Monday–Friday fallback decided


class WorkCalendar:
    """Working days by override, then the statutory calendar, then Monday–Friday.

    Answers are remembered per instance (the overrides are fixed when it is built), so
    counting over a whole ledger looks each day up once. Years that fell back to
    Monday–Friday are collected in `unknown_years`; `warnings` words them for people.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        notes: Mapping[date, str | None] | None = None,
    ) -> None:
        self.overrides: dict[date, bool] = dict(overrides or {})
        self.notes: dict[date, str | None] = dict(notes or {})
        self.unknown_years: set[int] = set()
        self._answers: dict[date, bool] = {}
        self._shifts: dict[tuple[date, int], date] = {}

    def is_working_day(self, day: date) -> bool:
        answer = self._answers.get(day)
        if answer is None:
            answer = self._answers[day] = self.describe(day).working
        return answer

    def describe(self, day: date) -> DayInfo:
        """The answer for one day with its source (for `rectify calendar check`)."""
        if day in self.overrides:
            return DayInfo(day, self.overrides[day], DaySource.OVERRIDE, self.notes.get(day))
        if day.year in _KNOWN_YEARS:
            if day in _STATUTORY_WORKING:
                name = _HOLIDAY_NAMES.get(_STATUTORY_WORKING[day], _STATUTORY_WORKING[day])
                return DayInfo(day, True, DaySource.STATUTORY, f"{name}调休上班")
            if day in _STATUTORY_OFF:
                name = _HOLIDAY_NAMES.get(_STATUTORY_OFF[day], _STATUTORY_OFF[day])
                return DayInfo(day, False, DaySource.STATUTORY, name)
            weekend = day.weekday() >= 5
            return DayInfo(day, not weekend, DaySource.STATUTORY, "周末" if weekend else None)
        self.unknown_years.add(day.year)
        return DayInfo(
            day,
            day.weekday() < 5,
            DaySource.FALLBACK,
            warning=unknown_year_warning(day.year),
        )

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n > 0) or before it (n < 0), `day` excluded.

        Remembered like the days: a page of lights asks the same question once per row."""
        key = (day, n)
        shifted = self._shifts.get(key)
        if shifted is None:
            step, remaining, shifted = timedelta(days=1 if n >= 0 else -1), abs(n), day
            while remaining:
                shifted += step
                if self.is_working_day(shifted):
                    remaining -= 1
            self._shifts[key] = shifted
        return shifted

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def working_day_index(self, first: date, last: date) -> dict[date, int]:
        """For every day d from `first` to `last`: the working days in [first, d].

        Differences answer any count in the range with two lookups, e.g. the working days
        d with a < d <= b are index[b] - index[a].
        """
        index: dict[date, int] = {}
        count, day, one = 0, first, timedelta(days=1)
        while day <= last:
            count += self.is_working_day(day)
            index[day] = count
            day += one
        return index

    @property
    def warnings(self) -> list[str]:
        return [unknown_year_warning(year) for year in sorted(self.unknown_years)]


DEFAULT_CALENDAR = WorkCalendar()


# --- the override table ----------------------------------------------------------------


_OVERRIDES = select(
    CalendarDay.day, CalendarDay.working, CalendarDay.note
)  # built once: every page


def load_calendar(session: Session) -> WorkCalendar:
    """The working calendar with every override of the database (one query)."""
    rows = session.exec(_OVERRIDES).all()
    return WorkCalendar(
        overrides={day: working for day, working, _ in rows},
        notes={day: note for day, _, note in rows},
    )


def calendar_days(session: Session, year: int | None = None) -> list[CalendarDay]:
    """The overrides, by date; only those of `year` if given."""
    query = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        )
    return list(session.exec(query))


def clean_note(note: str | None) -> str | None:
    text = (note or "").strip()
    if len(text) > NOTE_MAX_LENGTH:
        raise BadInput(f"说明不能超过 {NOTE_MAX_LENGTH} 个字（现有 {len(text)} 个字）")
    return text or None


def set_calendar_day(
    session: Session, day: date, working: bool, note: str | None, now: datetime
) -> CalendarDay:
    """Make `day` a working day or a day off whatever the statutory calendar says (no commit)."""
    note = clean_note(note)
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, working=working, note=note, updated_at=now)
        session.add(row)
    else:
        row.working, row.note, row.updated_at = working, note, now
    session.flush()
    return row


@dataclass(frozen=True)
class CalendarEntry:
    """One checked row of an override file."""

    day: date
    working: bool
    note: str | None = None


def set_calendar_days(
    session: Session, entries: list[CalendarEntry], now: datetime
) -> tuple[int, int]:
    """Write checked overrides (no commit): (how many were new, how many replaced)."""
    days = [entry.day for entry in entries]
    existing = set(session.exec(select(CalendarDay.day).where(CalendarDay.day.in_(days))).all())
    for entry in entries:
        set_calendar_day(session, entry.day, entry.working, entry.note, now)
    return len(set(days) - existing), len(existing)


def clear_calendar_day(session: Session, day: date) -> bool:
    """Drop the override of `day`, if any (no commit); True when there was one."""
    row = session.get(CalendarDay, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


# --- what users type -------------------------------------------------------------------

WORKING_WORDS = ("上班", "工作日", "补班", "work")
OFF_WORDS = ("休息", "休息日", "放假", "节假日", "off")


def parse_working(text: str) -> bool:
    """上班/work → True, 休息/off → False (a few synonyms accepted)."""
    word = text.strip().lower()
    if word in WORKING_WORDS:
        return True
    if word in OFF_WORDS:
        return False
    raise BadInput(f"类型不正确：“{text.strip()}”（可选：上班、休息，或 work、off）")


def working_label(working: bool) -> str:
    return "工作日" if working else "休息日"
