"""Traffic lights: the rule, its SQL twin the ledger filters by, and the ledger's paging."""

from datetime import date, timedelta

from models.calendar import WorkCalendar
from models.lights import YELLOW_WITHIN_WORKING_DAYS, Light, deadline_light, light
from models.stages import Stage
from models.views import LedgerFilter, ledger_page

D = date
NATIONAL_DAY = [D(2026, 9, 20) + timedelta(days=n) for n in range(30)]  # 10/1–10/7 off, 10/10 on


def by_definition(deadline: date, today: date, calendar: WorkCalendar) -> Light:
    """DESIGN.md's rule, counted day by day: red overdue, yellow within 7 working days."""
    if today > deadline:
        return Light.RED
    left = calendar.working_days_between(today, deadline)
    return Light.YELLOW if left <= YELLOW_WITHIN_WORKING_DAYS else Light.GREEN


def test_the_light_is_the_rule_on_every_day_around_national_day():
    calendar = WorkCalendar()
    for today in NATIONAL_DAY:
        for ahead in range(-3, 40):
            deadline = today + timedelta(days=ahead)
            assert deadline_light(deadline, today, calendar) == by_definition(
                deadline, today, calendar
            ), (today, deadline)


def test_a_local_day_off_moves_the_yellow_boundary():
    closed = WorkCalendar(overrides={D(2026, 10, 9): False})
    # After 9/30 the working days are 10/8, 9, 10 (a Saturday on duty), 12, 13, 14, 15: the
    # 7th is 10/15, the last yellow deadline. With 10/9 off locally the 7th is 10/16.
    assert deadline_light(D(2026, 10, 15), D(2026, 9, 30), WorkCalendar()) == Light.YELLOW
    assert deadline_light(D(2026, 10, 16), D(2026, 9, 30), WorkCalendar()) == Light.GREEN
    assert deadline_light(D(2026, 10, 16), D(2026, 9, 30), closed) == Light.YELLOW


def test_the_ledgers_light_filter_finds_exactly_the_tasks_showing_that_light(world):
    today, calendar = D(2026, 9, 30), WorkCalendar()
    tasks = []
    for ahead in range(-5, 25):
        task = world.task_at(Stage.ACTING)
        task.deadline = today + timedelta(days=ahead)
        tasks.append(task)
    tasks.append(world.task_at(Stage.ACTING, long_term=True))
    tasks.append(world.task_at(Stage.SIGNED_OFF))
    tasks.append(world.new_task())  # pending
    world.session.flush()

    for lamp in Light:
        lines, total = ledger_page(
            world.session, world.office, LedgerFilter(light=lamp), today, calendar, 1, 100
        )
        expected = sorted(t.id for t in tasks if light(t, today, calendar) == lamp)
        assert [line.id for line in lines] == expected, lamp
        assert total == len(expected)
        assert all(line.light == lamp for line in lines)


def test_pages_of_the_ledger_are_the_filtered_tasks_in_order_without_gaps_or_repeats(world):
    for n in range(23):
        world.task_at(Stage.ACTING if n % 3 else Stage.ASSIGNED)
    world.session.flush()
    wanted, today = LedgerFilter(stage=Stage.ACTING), D(2026, 9, 30)
    everything, total = ledger_page(world.session, world.office, wanted, today, WorkCalendar(),
                                    1, 100)  # fmt: skip
    pages = [
        ledger_page(world.session, world.office, wanted, today, WorkCalendar(), n, 4)
        for n in range(1, 6)
    ]
    assert [line.id for lines, _ in pages for line in lines] == [line.id for line in everything]
    assert all(count == total == 15 for _, count in pages)
    assert pages[-1][0] == []  # past the end: an empty page, not an error
