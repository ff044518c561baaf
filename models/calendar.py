"""The Chinese working calendar behind one small interface.

chinesecalendar knows the statutory holidays and adjusted working days (调休) for the
years it was built with; for other years the calendar falls back to Monday–Friday and
records a warning the caller can show, instead of crashing.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_date(now: datetime) -> date:
    """The calendar day in China at a moment (deadlines and working days are local)."""
    return now.astimezone(SHANGHAI).date()


class WorkCalendar:
    def __init__(self) -> None:
        self.unknown_years: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            self.unknown_years.add(day.year)
            return day.weekday() < 5

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n > 0) or before it (n < 0), `day` excluded."""
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    @property
    def warnings(self) -> list[str]:
        return [
            f"{year}年的法定节假日安排未知，暂按周一至周五为工作日计算"
            for year in sorted(self.unknown_years)
        ]


DEFAULT_CALENDAR = WorkCalendar()
