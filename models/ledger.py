"""The ledger: inspection → areas → tasks → measures, and the campaigns grouping tasks."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel, String

from models.stages import Stage


class DeadlineClass(StrEnum):
    IMMEDIATE = "immediate"
    DATED = "dated"
    LONG_TERM = "long_term"


DEADLINE_CLASS_LABELS: dict[DeadlineClass, str] = {
    DeadlineClass.IMMEDIATE: "立行立改",
    DeadlineClass.DATED: "限期整改",
    DeadlineClass.LONG_TERM: "长期坚持",
}


class FirstSigner(StrEnum):
    """Who gives the first of two sign-off signatures; NONE means the office alone signs."""

    NONE = "none"
    LEADER = "leader"
    DEPARTMENT_HEAD = "department_head"


FIRST_SIGNER_LABELS: dict[FirstSigner, str] = {
    FirstSigner.NONE: "整改办单签",
    FirstSigner.LEADER: "责任领导初审、整改办终审",
    FirstSigner.DEPARTMENT_HEAD: "牵头部门负责人初审、整改办终审",
}


class Inspection(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    unit: str | None = Field(default=None, max_length=200)
    group: str | None = Field(default=None, max_length=100)
    start: date | None = None
    end: date | None = None
    feedback: date | None = None
    publish_from: date | None = None
    publish_to: date | None = None
    source_sha256: str | None = Field(default=None, max_length=64, unique=True)
    first_signer: str = Field(default=FirstSigner.NONE, sa_type=String(20))
    lookback_months: int = Field(default=3, ge=1)
    created_at: datetime


class Area(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("inspection_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id", index=True)
    number: int
    title: str = Field(max_length=500)


_task_version = Column("version", Integer, nullable=False, server_default="1")


_FILTERED = ("stage", "deadline", "deadline_class")


def long_term(deadline_class: str) -> bool:
    """长期坚持: no deadline to meet, signed off phase by phase (for rows read as columns too)."""
    return deadline_class == DeadlineClass.LONG_TERM


class Task(SQLModel, table=True):
    """One problem fed back (整改任务): who answers for it, by when, and where it stands."""

    __table_args__ = (
        UniqueConstraint("area_id", "number"),
        # Stage lookups, and the lights' filters (an open stage and a deadline range) counted
        # from the index alone.
        Index("ix_task_stage_deadline", "stage", "deadline", "deadline_class"),
        # The ledger's filters by area or lead department, alone or with a stage, light or
        # class, counted from an index alone instead of a table lookup per task (migration
        # 0009); their first columns serve the foreign keys' lookups.
        Index("ix_task_area_filters", "area_id", *_FILTERED),
        Index("ix_task_department_filters", "lead_department_id", "area_id", *_FILTERED),
        # A page of one area's or one department's tasks in id order, read in that order
        # (migration 0010): PostgreSQL walked the primary key instead, past 16,000 others.
        Index("ix_task_area_order", "area_id", "id"),
        Index("ix_task_department_order", "lead_department_id", "id"),
    )
    __mapper_args__ = {"version_id_col": _task_version}

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id", index=True)
    area_id: int = Field(foreign_key="area.id")
    number: int
    title: str = Field(max_length=500)
    stage: str = Field(default=Stage.PENDING, sa_type=String(20))
    version: int = Field(default=1, sa_column=_task_version)
    leader_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    lead_department_id: int | None = Field(default=None, foreign_key="department.id")
    officer_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    deadline: date | None = None
    deadline_class: str = Field(default=DeadlineClass.DATED, sa_type=String(20))
    phase: int = Field(default=1)
    round: int = Field(default=0)
    submitted_by_id: int | None = Field(default=None, foreign_key="person.id")
    submitted_at: datetime | None = None
    submission_summary: str | None = None
    signed_off_at: datetime | None = None
    rebound_count: int = Field(default=0)
    created_at: datetime
    updated_at: datetime

    @property
    def is_long_term(self) -> bool:
        return long_term(self.deadline_class)


class TaskSupport(SQLModel, table=True):
    """A supporting department (配合部门) of a task."""

    __tablename__ = "task_support"

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class Measure(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("task_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    number: int
    text: str


class Campaign(SQLModel, table=True):
    """A special campaign (专项整治) grouping tasks that share a root cause."""

    __table_args__ = (UniqueConstraint("inspection_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id", index=True)
    name: str = Field(max_length=200)


class CampaignTask(SQLModel, table=True):
    __tablename__ = "campaign_task"

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    task_id: int = Field(foreign_key="task.id", primary_key=True)
