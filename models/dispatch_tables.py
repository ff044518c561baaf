"""Tables of the quarterly dispatch (按季度调度) and of the embedded scheduler."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, LargeBinary, Table, Unicode, UniqueConstraint
from sqlmodel import Field, SQLModel


class DispatchRound(SQLModel, table=True):
    """One quarterly collection of progress on an inspection's open tasks, created once."""

    __tablename__ = "dispatch_round"
    __table_args__ = (UniqueConstraint("inspection_id", "year", "quarter"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id", index=True)
    year: int
    quarter: int  # 1 to 4
    number: int  # the inspection's n-th round: "截至目前已调度N次"
    title: str = Field(max_length=100)  # "2026年第四季度调度"
    opened_on: date  # its first working day
    due: date  # answers due (the 5th working day)
    closes_on: date  # late answers escalated, the round closed and reported (the 6th)
    opened_at: datetime
    closed_at: datetime | None = None
    summary: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # frozen at close


class DispatchRequest(SQLModel, table=True):
    """One task's progress asked for in a round, and the answer when it came."""

    __tablename__ = "dispatch_request"
    __table_args__ = (UniqueConstraint("round_id", "task_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="dispatch_round.id", index=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    officer_id: int = Field(foreign_key="person.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="progress_report.id")
    answered_at: datetime | None = None
    escalated_at: datetime | None = None


class SchedulerLease(SQLModel, table=True):
    """Who runs the embedded scheduler on this database: one process at a time, or jobs
    run twice (APScheduler has no lock of its own, STACK-NOTES.md)."""

    __tablename__ = "scheduler_lease"

    name: str = Field(max_length=50, primary_key=True)
    holder: str = Field(max_length=200)  # host and process id, for the refusal message
    acquired_at: datetime
    expires_at: datetime


# APScheduler's own job store (SQLAlchemyJobStore), declared here so migrations create it
# like every other table: the next run time of each job survives a restart, which is what
# lets a job missed during downtime run once when Rectify starts again.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
