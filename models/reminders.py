"""Deadline reminders: the policy as data, and a pure planner over the whole ledger.

DESIGN.md "Policies, precisely" is the specification:
- before the deadline D the officer is reminded on the working days 7, 3 and 1 before D
  ("N working days before D" is the N-th working day counting back from D, D excluded),
  and on D itself when D is a working day;
- overdue: on the first working day after D, then every 3 working days (after 1, 4, 7, 10,
  13 … working days), to the officer and the responsible leader; from 10 working days
  overdue on, those reminders also go to every active member of the leadership group;
- nothing on days off; each person gets at most one digest per run, listing all their items.

`plan_reminders` only decides; rendering, the outbox (one row per digest, keyed by person,
kind and date) and delivery are notifications' work, the schedule is flows'.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.ledger import DeadlineClass, Task
from models.lights import Light, deadline_light, light_of
from models.people import Person, PersonRole, Role
from models.records import LookbackReview, ReviewStatus
from models.stages import OPEN_STAGES


@dataclass(frozen=True)
class ReminderPolicy:
    """The reminder numbers; DESIGN.md's defaults. Users may change them."""

    before_days: tuple[int, ...] = (7, 3, 1)  # working days before the deadline
    on_the_day: bool = True  # remind on the deadline itself when it is a working day
    overdue_every: int = 3  # overdue: after 1, 1 + every, 1 + 2 × every … working days
    leadership_from: int = 10  # working days overdue from which the leadership group is told
    hour: int = 8  # when the daily run goes out, local time
    minute: int = 30
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.before_days):
            raise ValueError("before_days must be positive working-day counts")
        if self.overdue_every < 1 or self.leadership_from < 1:
            raise ValueError("overdue_every and leadership_from must be at least 1")
        if not (0 <= self.hour < 24 and 0 <= self.minute < 60):
            raise ValueError("hour and minute must be a time of day")
        ZoneInfo(self.tz)  # an unknown zone fails here, not at 08:30

    @property
    def cron(self) -> str:
        """Every day at the run time (the planner itself skips days off)."""
        return f"{self.minute} {self.hour} * * *"


DEFAULT_POLICY = ReminderPolicy()


class Recipient(StrEnum):
    """Why a person is told about a task."""

    OFFICER = "officer"  # 责任人
    LEADER = "leader"  # 责任领导 of the task
    LEADERSHIP = "leadership"  # 领导小组, late escalations
    REVIEWER = "reviewer"  # 回头看人员 of an open look-back


RECIPIENT_LABELS: dict[Recipient, str] = {
    Recipient.OFFICER: "责任人",
    Recipient.LEADER: "责任领导",
    Recipient.LEADERSHIP: "领导小组",
    Recipient.REVIEWER: "回头看人员",
}


class DigestKind(StrEnum):
    DEADLINES = "deadlines"  # the daily deadline digest (整改时限提醒)


class ReminderItem(NamedTuple):
    """One task in a digest, and why it is there today."""

    task_id: int
    light: Light
    deadline: date
    working_days: int  # before the deadline: working days left (0 = due today); after: -overdue
    recipient: Recipient
    lookback: bool = False  # the deadline is a look-back's due day, not the task's

    @property
    def overdue(self) -> int:
        return max(0, -self.working_days)

    @property
    def why(self) -> str:
        """In words: 7 working days before, due today, overdue 4 working days."""
        n = abs(self.working_days)
        days = f"{n} working day{'s' if n != 1 else ''}"
        if self.working_days > 0:
            return f"{days} before"
        return "due today" if self.working_days == 0 else f"overdue {days}"

    @property
    def why_label(self) -> str:
        """The same in Chinese, for the messages."""
        if self.working_days > 0:
            return f"距整改时限还有 {self.working_days} 个工作日"
        if self.working_days == 0:
            return "今天到期"
        return f"已逾期 {self.overdue} 个工作日"


@dataclass(frozen=True)
class Digest:
    """What one person is told in one run: every item due for them, oldest deadline first."""

    person_id: int
    kind: DigestKind
    items: tuple[ReminderItem, ...]


def _due_deadlines(
    today: date, first: date, horizon: date, calendar: WorkCalendar, policy: ReminderPolicy
) -> dict[date, int]:
    """The deadlines that call for a reminder today, each with its signed working days.

    Every task with the same deadline is reminded alike, so the rule is applied once per
    date (from the oldest deadline to the horizon), and each task costs one lookup.
    """
    index = calendar.working_day_index(first, horizon)  # working days in [first, d]
    now_index = index[today]
    before = set(policy.before_days)
    due: dict[date, int] = {}
    previous = now_index  # index of the day before each deadline after today
    day, one = today, timedelta(days=1)
    while day < horizon:  # after today: working days in [today, D), today among them
        day += one
        left = previous - now_index + 1
        if left in before:
            due[day] = left
        previous = index[day]
    if policy.on_the_day:
        due[today] = 0
    day = first
    while day < today:  # overdue: working days in (D, today], at least 1 as today works
        late = now_index - index[day]
        if (late - 1) % policy.overdue_every == 0:
            due[day] = -late
        day += one
    return due


def plan_reminders(
    session: Session,
    now: datetime,
    calendar: WorkCalendar,
    policy: ReminderPolicy = DEFAULT_POLICY,
) -> list[Digest]:
    """Who is told what today: one digest per person, none on days off.

    Four queries whatever the size of the ledger: the open dated tasks and the open
    look-backs up to the last deadline a reminder can reach, the active people, the active
    leadership group. The
    rule is applied once per deadline date over one working-day index, never by walking
    the calendar per task. Days that fell back to Monday–Friday leave their years in
    `calendar.warnings`.
    """
    today = now.astimezone(ZoneInfo(policy.tz)).date()
    if not calendar.is_working_day(today):
        return []
    # The last deadline any "N working days before" can reach from today.
    horizon = calendar.add_working_days(today, max((*policy.before_days, 0)))

    rows = session.exec(
        select(Task.id, Task.stage, Task.deadline, Task.officer_id, Task.leader_id)
        .where(Task.stage.in_([stage.value for stage in OPEN_STAGES]))
        .where(Task.deadline.is_not(None))
        .where(Task.deadline <= horizon)
        # 长期坚持 tasks have no deadline reminders: they report in every dispatch round
        # (DESIGN.md "Dispatch"), so chasing them belongs to the quarterly dispatch planner.
        .where(Task.deadline_class != DeadlineClass.LONG_TERM.value)
        .order_by(Task.deadline, Task.id)  # so every digest lists oldest deadlines first
    ).all()
    reviews = session.exec(  # open look-backs are reminded like any deadline
        select(LookbackReview.task_id, LookbackReview.due, LookbackReview.reviewer_id)
        .where(LookbackReview.status == ReviewStatus.OPEN.value)
        .where(LookbackReview.due <= horizon)
    ).all()
    if not rows and not reviews:
        return []
    active = set(session.exec(select(Person.id).where(Person.active)).all())
    leadership = sorted(
        session.exec(
            select(PersonRole.person_id)
            .join(Person, Person.id == PersonRole.person_id)
            .where(PersonRole.role == Role.LEADERSHIP.value, Person.active)
        ).all()
    )

    first = min(today, *(row[2] for row in rows[:1]), *(review[1] for review in reviews))
    due = _due_deadlines(today, first, horizon, calendar, policy)
    lights: dict[tuple[str, date], Light] = {}
    chosen: dict[int, dict[int, ReminderItem]] = defaultdict(dict)

    def tell(person_ids: list[int | None], item: ReminderItem) -> None:
        working_days = item.working_days
        told = [(person_ids[0], item)]
        if working_days < 0:
            told += [(pid, item._replace(recipient=Recipient.LEADER)) for pid in person_ids[1:]]
            if -working_days >= policy.leadership_from:
                escalated = item._replace(recipient=Recipient.LEADERSHIP)
                told += [(person_id, escalated) for person_id in leadership]
        for person_id, reason in told:
            if person_id in active:
                # the first reason wins when one person is both officer and leader, say
                chosen[person_id].setdefault(item.task_id, reason)

    for task_id, stage, deadline, officer_id, leader_id in rows:
        working_days = due.get(deadline)
        if working_days is None:
            continue
        lamp = lights.get((stage, deadline))
        if lamp is None:
            # the query left long-term tasks out: every row here has a dated deadline
            lamp = lights[stage, deadline] = light_of(
                stage, DeadlineClass.DATED, deadline, today, calendar
            )
        item = ReminderItem(task_id, lamp, deadline, working_days, Recipient.OFFICER)
        tell([officer_id, leader_id], item)
    for task_id, review_due, reviewer_id in reviews:
        working_days = due.get(review_due)
        if working_days is not None:
            lamp = deadline_light(review_due, today, calendar)
            tell([reviewer_id], ReminderItem(task_id, lamp, review_due, working_days,
                                              Recipient.REVIEWER, lookback=True))  # fmt: skip
    return [
        Digest(
            person_id,
            DigestKind.DEADLINES,
            tuple(sorted(items.values(), key=lambda item: (item.deadline, item.task_id))),
        )
        for person_id, items in sorted(chosen.items())
    ]
