"""the lights' filters counted from one index: task (stage, deadline, deadline_class)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_stage_deadline", ["stage", "deadline", "deadline_class"], unique=False
        )
        batch_op.drop_index("ix_task_stage")  # the new index's first column serves it


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_stage", ["stage"], unique=False)
        batch_op.drop_index("ix_task_stage_deadline")
