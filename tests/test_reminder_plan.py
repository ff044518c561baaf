"""Deadline reminders around National Day 2026, day by day, against a table made by hand.

2026 working days from 9/14 (ordinal in brackets, for checking the table by hand):
  9/14 (1) 15 (2) 16 (3) 17 (4) 18 (5) — Sun 9/20 (6, 调休上班) 21 (7) 22 (8) 23 (9) 24 (10)
  — 9/25–27 中秋 off — 9/28 (11) 29 (12) 30 (13) — 10/1–7 国庆 off — 10/8 (14) 9 (15)
  Sat 10/10 (16, 调休上班) — 10/12 (17) 13 (18) 14 (19) 15 (20) 16 (21) — 10/19 (22) 20 (23)
  21 (24) 22 (25) 23 (26) — 10/26 (27) 27 (28) 28 (29) 29 (30) 30 (31) — Sat 10/31 off.
"""

from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from models.calendar import WorkCalendar
from models.ledger import DeadlineClass, Task
from models.lights import Light
from models.people import Person, Role
from models.reminders import (
    DEFAULT_POLICY,
    Digest,
    DigestKind,
    Recipient,
    ReminderPolicy,
    plan_reminders,
)
from models.stages import Action, Stage
from tests.factories import PATH_TO, World

D = date
B7, B3, B1, DUE = (
    "7 working days before",
    "3 working days before",
    "1 working day before",
    "due today",
)


def O(n: int) -> str:  # noqa: E743 — reads like the table: O(4) = 4 working days overdue
    return f"overdue {n} working day{'s' if n != 1 else ''}"


# Who is who (names as in tests/factories.py, plus the people made below):
# 李明, 刘洋 (no e-mail), 吴刚 (inactive) are officers; 张伟, 陈静, 孙丽 (inactive) leaders;
# 周明 is the leadership group, 郑华 an inactive member of it.
TASKS = {
    # label: (deadline, officer, leader, stage)
    "T914": (D(2026, 9, 14), "李明", "陈静", Stage.ACTING),  # overdue from 9/15
    "T922": (D(2026, 9, 22), "吴刚", "孙丽", Stage.ACTING),  # both inactive
    "T930": (D(2026, 9, 30), "李明", "张伟", Stage.ACTING),
    "T1003": (D(2026, 10, 3), "刘洋", "张伟", Stage.ASSIGNED),  # a National Day holiday
    "T1008": (D(2026, 10, 8), "李明", "张伟", Stage.ASSIGNED),
    "T1009": (D(2026, 10, 9), "刘洋", "陈静", Stage.EVIDENCE),
    "T1010": (D(2026, 10, 10), "刘洋", "张伟", Stage.ACTING),  # Saturday, worked
    "T1012": (D(2026, 10, 12), "李明", "陈静", Stage.ACTING),
}

# Every (person, task, why) of every day from 9/14 to 10/31; a day not listed sends nothing.
EXPECTED: dict[date, set[tuple[str, str, str]]] = {
    D(2026, 9, 14): {("李明", "T914", DUE)},
    D(2026, 9, 15): {("李明", "T914", O(1)), ("陈静", "T914", O(1))},
    D(2026, 9, 16): set(),
    D(2026, 9, 17): set(),
    D(2026, 9, 18): {("李明", "T914", O(4)), ("陈静", "T914", O(4))},
    D(2026, 9, 20): {("李明", "T930", B7)},  # Sunday, a make-up working day
    D(2026, 9, 21): {("李明", "T1008", B7), ("刘洋", "T1003", B7)},
    D(2026, 9, 22): {("李明", "T914", O(7)), ("陈静", "T914", O(7)), ("刘洋", "T1009", B7)},
    D(2026, 9, 23): {("刘洋", "T1010", B7)},  # T922 is 1 day overdue: nobody active to tell
    D(2026, 9, 24): {("李明", "T930", B3), ("李明", "T1012", B7)},
    D(2026, 9, 28): {
        ("李明", "T914", O(10)),
        ("陈静", "T914", O(10)),
        ("周明", "T914", O(10)),
        ("李明", "T1008", B3),
        ("刘洋", "T1003", B3),
    },
    D(2026, 9, 29): {("李明", "T930", B1), ("刘洋", "T1009", B3)},
    D(2026, 9, 30): {
        ("李明", "T930", DUE),
        ("李明", "T1008", B1),
        ("刘洋", "T1003", B1),
        ("刘洋", "T1010", B3),
    },
    D(2026, 10, 8): {
        ("李明", "T914", O(13)),
        ("陈静", "T914", O(13)),
        ("周明", "T914", O(13)),
        ("李明", "T930", O(1)),
        ("张伟", "T930", O(1)),
        ("刘洋", "T1003", O(1)),
        ("张伟", "T1003", O(1)),
        ("李明", "T1008", DUE),
        ("刘洋", "T1009", B1),
        ("李明", "T1012", B3),
    },
    D(2026, 10, 9): {
        ("李明", "T1008", O(1)),
        ("张伟", "T1008", O(1)),
        ("刘洋", "T1009", DUE),
        ("刘洋", "T1010", B1),
    },
    D(2026, 10, 10): {  # Saturday, a make-up working day
        ("刘洋", "T1009", O(1)),
        ("陈静", "T1009", O(1)),
        ("刘洋", "T1010", DUE),
        ("李明", "T1012", B1),
    },
    D(2026, 10, 12): {
        ("李明", "T914", O(16)),
        ("陈静", "T914", O(16)),
        ("周明", "T914", O(16)),
        ("李明", "T930", O(4)),
        ("张伟", "T930", O(4)),
        ("刘洋", "T1003", O(4)),
        ("张伟", "T1003", O(4)),
        ("刘洋", "T1010", O(1)),
        ("张伟", "T1010", O(1)),
        ("李明", "T1012", DUE),
    },
    D(2026, 10, 13): {
        ("李明", "T1008", O(4)),
        ("张伟", "T1008", O(4)),
        ("李明", "T1012", O(1)),
        ("陈静", "T1012", O(1)),
        ("周明", "T922", O(10)),
    },
    D(2026, 10, 14): {("刘洋", "T1009", O(4)), ("陈静", "T1009", O(4))},
    D(2026, 10, 15): {
        ("李明", "T914", O(19)),
        ("陈静", "T914", O(19)),
        ("周明", "T914", O(19)),
        ("李明", "T930", O(7)),
        ("张伟", "T930", O(7)),
        ("刘洋", "T1003", O(7)),
        ("张伟", "T1003", O(7)),
        ("刘洋", "T1010", O(4)),
        ("张伟", "T1010", O(4)),
    },
    D(2026, 10, 16): {
        ("李明", "T1008", O(7)),
        ("张伟", "T1008", O(7)),
        ("李明", "T1012", O(4)),
        ("陈静", "T1012", O(4)),
        ("周明", "T922", O(13)),
    },
    D(2026, 10, 19): {("刘洋", "T1009", O(7)), ("陈静", "T1009", O(7))},
    D(2026, 10, 20): {
        ("李明", "T914", O(22)),
        ("陈静", "T914", O(22)),
        ("周明", "T914", O(22)),
        ("李明", "T930", O(10)),
        ("张伟", "T930", O(10)),
        ("周明", "T930", O(10)),
        ("刘洋", "T1003", O(10)),
        ("张伟", "T1003", O(10)),
        ("周明", "T1003", O(10)),
        ("刘洋", "T1010", O(7)),
        ("张伟", "T1010", O(7)),
    },
    D(2026, 10, 21): {
        ("李明", "T1008", O(10)),
        ("张伟", "T1008", O(10)),
        ("周明", "T1008", O(10)),
        ("李明", "T1012", O(7)),
        ("陈静", "T1012", O(7)),
        ("周明", "T922", O(16)),
    },
    D(2026, 10, 22): {("刘洋", "T1009", O(10)), ("陈静", "T1009", O(10)), ("周明", "T1009", O(10))},
    D(2026, 10, 23): {
        ("李明", "T914", O(25)),
        ("陈静", "T914", O(25)),
        ("周明", "T914", O(25)),
        ("李明", "T930", O(13)),
        ("张伟", "T930", O(13)),
        ("周明", "T930", O(13)),
        ("刘洋", "T1003", O(13)),
        ("张伟", "T1003", O(13)),
        ("周明", "T1003", O(13)),
        ("刘洋", "T1010", O(10)),
        ("张伟", "T1010", O(10)),
        ("周明", "T1010", O(10)),
    },
    D(2026, 10, 26): {
        ("李明", "T1008", O(13)),
        ("张伟", "T1008", O(13)),
        ("周明", "T1008", O(13)),
        ("李明", "T1012", O(10)),
        ("陈静", "T1012", O(10)),
        ("周明", "T1012", O(10)),
        ("周明", "T922", O(19)),
    },
    D(2026, 10, 27): {("刘洋", "T1009", O(13)), ("陈静", "T1009", O(13)), ("周明", "T1009", O(13))},
    D(2026, 10, 28): {
        ("李明", "T914", O(28)),
        ("陈静", "T914", O(28)),
        ("周明", "T914", O(28)),
        ("李明", "T930", O(16)),
        ("张伟", "T930", O(16)),
        ("周明", "T930", O(16)),
        ("刘洋", "T1003", O(16)),
        ("张伟", "T1003", O(16)),
        ("周明", "T1003", O(16)),
        ("刘洋", "T1010", O(13)),
        ("张伟", "T1010", O(13)),
        ("周明", "T1010", O(13)),
    },
    D(2026, 10, 29): {
        ("李明", "T1008", O(16)),
        ("张伟", "T1008", O(16)),
        ("周明", "T1008", O(16)),
        ("李明", "T1012", O(13)),
        ("陈静", "T1012", O(13)),
        ("周明", "T1012", O(13)),
        ("周明", "T922", O(22)),
    },
    D(2026, 10, 30): {("刘洋", "T1009", O(16)), ("陈静", "T1009", O(16)), ("周明", "T1009", O(16))},
}
# The open look-back of the task under review (opened 9/14, due 10 working days later, on
# 9/28) is reminded to its reviewer like any deadline, and escalated from 10 days overdue.
REVIEW = "回头看"
REVIEWS: dict[date, set[tuple[str, str, str]]] = {
    D(2026, 9, 17): {("赵敏", REVIEW, B7)},
    D(2026, 9, 22): {("赵敏", REVIEW, B3)},
    D(2026, 9, 24): {("赵敏", REVIEW, B1)},
    D(2026, 9, 28): {("赵敏", REVIEW, DUE)},
    D(2026, 9, 29): {("赵敏", REVIEW, O(1))},
    D(2026, 10, 9): {("赵敏", REVIEW, O(4))},
    D(2026, 10, 13): {("赵敏", REVIEW, O(7))},
    D(2026, 10, 16): {("赵敏", REVIEW, O(10)), ("周明", REVIEW, O(10))},
    D(2026, 10, 21): {("赵敏", REVIEW, O(13)), ("周明", REVIEW, O(13))},
    D(2026, 10, 26): {("赵敏", REVIEW, O(16)), ("周明", REVIEW, O(16))},
    D(2026, 10, 29): {("赵敏", REVIEW, O(19)), ("周明", REVIEW, O(19))},
}

DAYS_OFF = {
    D(2026, 9, 19),
    *(D(2026, 9, d) for d in (25, 26, 27)),
    *(D(2026, 10, d) for d in range(1, 8)),
    D(2026, 10, 11),
    *(D(2026, 10, d) for d in (17, 18, 24, 25, 31)),
}


def at_0830_shanghai(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)


def window() -> list[date]:
    first, last = D(2026, 9, 14), D(2026, 10, 31)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Ledger:
    """The tasks of TASKS, and tasks that must never be reminded, in one World."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.people: dict[str, Person] = {
            "李明": world.officer,
            "张伟": world.leader,
            "陈静": world.head,
            "周明": world.leadership,
            "刘洋": world.person("刘洋", Role.OFFICER),
            "吴刚": world.person("吴刚", Role.OFFICER),
            "孙丽": world.person("孙丽", Role.LEADER),
            "郑华": world.person("郑华", Role.LEADERSHIP),
        }
        self.people["刘洋"].email = None  # planned all the same; the outbox reports it
        self.tasks: dict[str, Task] = {
            label: self.task(deadline, officer, leader, stage)
            for label, (deadline, officer, leader, stage) in TASKS.items()
        }
        # never reminded as tasks: long-term (even with a date), signed off, under look-back
        # (its review is: REVIEWS), not yet assigned
        self.long_term = self.task(
            D(2026, 9, 30), "李明", "张伟", Stage.ACTING, DeadlineClass.LONG_TERM
        )
        self.signed_off = self.task(D(2026, 9, 30), "李明", "张伟", Stage.SIGNED_OFF)
        self.lookback = self.task(D(2026, 10, 9), "刘洋", "张伟", Stage.LOOKBACK)
        self.pending = world.new_task()
        self.pending.deadline = D(2026, 9, 30)
        for name in ("吴刚", "孙丽", "郑华"):  # left after being assigned
            self.people[name].active = False
        world.session.flush()
        self.names = {person.id: name for name, person in self.people.items()}
        self.names[world.reviewer.id] = "赵敏"
        self.labels = {task.id: label for label, task in self.tasks.items()}
        self.labels[self.lookback.id] = REVIEW

    def task(
        self,
        deadline: date,
        officer: str,
        leader: str,
        stage: Stage,
        deadline_class: DeadlineClass = DeadlineClass.DATED,
    ) -> Task:
        world, person = self.world, self.people[officer]
        task = world.new_task()
        world.do(
            task,
            Action.ASSIGN,
            officer=person,
            leader=self.people[leader],
            deadline=deadline,
            deadline_class=deadline_class,
        )
        for action in PATH_TO[stage][1:]:
            own = action in (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT)
            world.do(task, action, actor=person if own else None)
        assert task.stage == stage
        return task

    def plan(self, day: date, **kwargs) -> list[Digest]:
        return plan_reminders(self.world.session, at_0830_shanghai(day), WorkCalendar(), **kwargs)

    def triples(self, digests: list[Digest]) -> set[tuple[str, str, str]]:
        return {
            (self.names[d.person_id], self.labels[i.task_id], i.why)
            for d in digests
            for i in d.items
        }


@pytest.fixture
def ledger(world) -> Ledger:
    return Ledger(world)


def test_the_table_covers_every_working_day_of_the_window():
    assert set(EXPECTED) | DAYS_OFF == set(window())
    assert not set(EXPECTED) & DAYS_OFF


def test_every_day_from_september_14_to_october_31_sends_exactly_the_table(ledger):
    for day in window():
        digests = ledger.plan(day)

        wanted = EXPECTED.get(day, set()) | REVIEWS.get(day, set())
        assert ledger.triples(digests) == wanted, day
        people = [digest.person_id for digest in digests]
        assert len(people) == len(set(people)), f"{day}: one digest per person"
        assert all(digest.kind == DigestKind.DEADLINES and digest.items for digest in digests)
        items = [(d.person_id, i.task_id) for d in digests for i in d.items]
        assert len(items) == len(set(items)), f"{day}: one item per task and person"


def test_nothing_is_planned_on_days_off(ledger):
    for day in sorted(DAYS_OFF):
        assert ledger.plan(day) == [], day


def test_one_digest_lists_all_of_a_persons_items_oldest_deadline_first(ledger):
    digests = ledger.plan(D(2026, 10, 8))
    li_ming = next(d for d in digests if d.person_id == ledger.people["李明"].id)

    assert [ledger.labels[i.task_id] for i in li_ming.items] == ["T914", "T930", "T1008", "T1012"]
    assert [i.working_days for i in li_ming.items] == [-13, -1, 0, 3]
    assert [i.light for i in li_ming.items] == [Light.RED, Light.RED, Light.YELLOW, Light.YELLOW]
    assert [i.why_label for i in li_ming.items] == [
        "已逾期 13 个工作日",
        "已逾期 1 个工作日",
        "今天到期",
        "距整改时限还有 3 个工作日",
    ]
    assert {i.recipient for i in li_ming.items} == {Recipient.OFFICER}
    assert len(digests) == 5  # 李明, 刘洋, 张伟, 陈静, 周明


def test_each_item_says_why_the_person_gets_it(ledger):
    digests = {d.person_id: d for d in ledger.plan(D(2026, 10, 20))}
    roles = {
        name: {i.recipient for i in digests[ledger.people[name].id].items}
        for name in ("李明", "张伟", "周明")
    }

    assert roles == {
        "李明": {Recipient.OFFICER},
        "张伟": {Recipient.LEADER},
        "周明": {Recipient.LEADERSHIP},
    }


def test_people_without_an_e_mail_address_are_planned(ledger):
    liu_yang = ledger.people["刘洋"]

    assert liu_yang.email is None
    assert {d.person_id for d in ledger.plan(D(2026, 9, 21))} >= {liu_yang.id}


def test_inactive_people_are_never_planned(ledger):
    inactive = {ledger.people[name].id for name in ("吴刚", "孙丽", "郑华")}

    for day in window():
        assert not inactive & {d.person_id for d in ledger.plan(day)}, day


def test_the_local_date_in_shanghai_decides_the_day(ledger):
    saturday_evening_utc = datetime(2026, 9, 19, 16, 30, tzinfo=UTC)  # Sun 9/20 00:30 in China
    friday_evening_utc = datetime(2026, 9, 18, 15, 59, tzinfo=UTC)  # Fri 9/18 23:59 in China
    calendar = WorkCalendar()

    sunday = plan_reminders(ledger.world.session, saturday_evening_utc, calendar)
    friday = plan_reminders(ledger.world.session, friday_evening_utc, calendar)

    assert ledger.triples(sunday) == EXPECTED[D(2026, 9, 20)]
    assert ledger.triples(friday) == EXPECTED[D(2026, 9, 18)]


def test_an_override_that_closes_a_day_moves_the_reminders(ledger):
    closed = WorkCalendar(overrides={D(2026, 9, 20): False})  # no make-up Sunday after all
    now = at_0830_shanghai(D(2026, 9, 18))

    assert plan_reminders(ledger.world.session, at_0830_shanghai(D(2026, 9, 20)), closed) == []
    # 9/18 is now the 7th working day before 9/30; the rest of 9/18 stays as it was
    assert ledger.triples(plan_reminders(ledger.world.session, now, closed)) == {
        ("李明", "T930", B7),
        *EXPECTED[D(2026, 9, 18)],
    }


def test_a_year_the_library_does_not_know_is_planned_monday_to_friday_with_a_warning(world):
    task = world.task_at(Stage.ACTING)
    task.deadline = D(2027, 1, 8)  # a Friday
    world.session.flush()
    calendar = WorkCalendar()

    digests = plan_reminders(world.session, at_0830_shanghai(D(2027, 1, 7)), calendar)

    assert [(d.person_id, [i.why for i in d.items]) for d in digests] == [(world.officer.id, [B1])]
    assert len(calendar.warnings) == 1 and "2027年" in calendar.warnings[0]
    closed = WorkCalendar(overrides={D(2027, 1, 7): False}, notes={D(2027, 1, 7): "本地调整"})
    assert plan_reminders(world.session, at_0830_shanghai(D(2027, 1, 7)), closed) == []


def test_the_policy_numbers_can_be_changed(ledger):
    policy = ReminderPolicy(before_days=(2,), on_the_day=False, overdue_every=1, leadership_from=2)

    digests = ledger.plan(D(2026, 9, 16), policy=policy)

    # T914: overdue 2 (every day now, leadership from 2); nothing is 2 days before a deadline
    assert ledger.triples(digests) == {
        ("李明", "T914", O(2)),
        ("陈静", "T914", O(2)),
        ("周明", "T914", O(2)),
    }
    assert ledger.triples(ledger.plan(D(2026, 9, 14), policy=policy)) == set()


def test_the_default_policy_is_the_design():
    assert asdict(DEFAULT_POLICY) == {
        "before_days": (7, 3, 1),
        "on_the_day": True,
        "overdue_every": 3,
        "leadership_from": 10,
        "hour": 8,
        "minute": 30,
        "tz": "Asia/Shanghai",
    }
    assert DEFAULT_POLICY.cron == "30 8 * * *"
    with pytest.raises(ValueError):
        ReminderPolicy(overdue_every=0)


def test_planning_takes_the_same_few_queries_for_any_ledger_size(ledger, world):
    statements: list[str] = []
    engine = world.session.get_bind()

    def count(*args) -> None:
        statements.append(args[2])

    day = D(2026, 10, 8)
    ledger.plan(day)  # warm up: the session flushes nothing more after this
    event.listen(engine, "before_cursor_execute", count)
    try:
        ledger.plan(day)
        small = len(statements)
        for _ in range(20):
            ledger.task(D(2026, 9, 30), "李明", "张伟", Stage.ACTING)
        world.session.flush()
        statements.clear()
        digests = ledger.plan(day)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(statements) == small <= 4  # tasks, look-backs, active people, leadership
    li_ming = next(d for d in digests if d.person_id == ledger.people["李明"].id)
    assert Counter(i.working_days for i in li_ming.items)[-1] == 21  # T930 and the 20 new
