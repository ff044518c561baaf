"""What happens to a task, kept as records: evidence, sign-offs, reviews, deadlines, reports."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel, String


class Evidence(SQLModel, table=True):
    """A file proving a measure was done (佐证材料); the bytes live under RECTIFY_HOME by hash."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    measure_id: int | None = Field(default=None, foreign_key="measure.id")
    sha256: str = Field(max_length=64, index=True)
    name: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    uploaded_by_id: int = Field(foreign_key="person.id")
    uploaded_at: datetime
    effective_date: date | None = None
    description: str | None = None


class Decision(StrEnum):
    ENDORSED = "endorsed"
    APPROVED = "approved"
    PHASE_APPROVED = "phase_approved"
    REJECTED = "rejected"


DECISION_LABELS: dict[Decision, str] = {
    Decision.ENDORSED: "初审同意",
    Decision.APPROVED: "批准销号",
    Decision.PHASE_APPROVED: "阶段销号",
    Decision.REJECTED: "退回",
}


class SignOff(SQLModel, table=True):
    """One signature on a submission (or a rejection), with the evidence hashes it saw."""

    __tablename__ = "sign_off"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    round: int
    phase: int
    decision: str = Field(sa_type=String(20))
    signer_id: int = Field(foreign_key="person.id")
    at: datetime
    comment: str | None = None
    evidence_hashes: list[str] = Field(default_factory=list, sa_type=JSON)


class ReviewStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    REBOUNDED = "rebounded"


REVIEW_STATUS_LABELS: dict[ReviewStatus, str] = {
    ReviewStatus.OPEN: "核查中",
    ReviewStatus.CONFIRMED: "确认巩固",
    ReviewStatus.REBOUNDED: "问题反弹",
}


class LookbackReview(SQLModel, table=True):
    """A look-back (回头看) on a signed-off task: did the problem stay fixed?"""

    __tablename__ = "lookback_review"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    reviewer_id: int = Field(foreign_key="person.id", index=True)
    opened_at: datetime
    due: date
    status: str = Field(default=ReviewStatus.OPEN, sa_type=String(20))
    closed_at: datetime | None = None
    finding: str | None = None


class DeadlineChange(SQLModel, table=True):
    """Every change of a task's deadline, so the history of extensions stays visible."""

    __tablename__ = "deadline_change"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    old_deadline: date | None = None
    new_deadline: date | None = None
    reason: str | None = None
    via: str = Field(max_length=30)  # the action that changed it
    by_id: int = Field(foreign_key="person.id")
    at: datetime


class RequestStatus(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


REQUEST_STATUS_LABELS: dict[RequestStatus, str] = {
    RequestStatus.PENDING: "待审批",
    RequestStatus.GRANTED: "已批准",
    RequestStatus.REFUSED: "不予延期",
}


class ExtensionRequest(SQLModel, table=True):
    __tablename__ = "extension_request"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    requested_deadline: date
    reason: str
    requested_by_id: int = Field(foreign_key="person.id")
    requested_at: datetime
    status: str = Field(default=RequestStatus.PENDING, sa_type=String(20))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = None
    decision_comment: str | None = None


class ProgressStatus(StrEnum):
    DONE = "done"
    MOSTLY_DONE = "mostly_done"
    IN_PROGRESS = "in_progress"
    ONGOING = "ongoing"


PROGRESS_STATUS_LABELS: dict[ProgressStatus, str] = {
    ProgressStatus.DONE: "已完成",
    ProgressStatus.MOSTLY_DONE: "基本完成",
    ProgressStatus.IN_PROGRESS: "正在推进",
    ProgressStatus.ONGOING: "长期坚持",
}


class ProgressReport(SQLModel, table=True):
    """A progress report: no stage change, just where the work stands."""

    __tablename__ = "progress_report"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    reporter_id: int = Field(foreign_key="person.id")
    at: datetime
    status: str = Field(sa_type=String(20))
    text: str
