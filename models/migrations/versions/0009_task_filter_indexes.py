"""the ledger's area and department filters counted from indexes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:40:00

A ledger filtered by a lead department and a stage, a light or a class counted its 1,000
tasks by looking each one up in the table (1.8-2.5 ms on 100,000 tasks); by an area and a
department, the same. The two indexes hold every column those filters read, and their
first columns serve what task (area_id) and task (lead_department_id) served.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTERED = ["stage", "deadline", "deadline_class"]


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_area_filters", ["area_id", *FILTERED], unique=False)
        batch_op.create_index(
            "ix_task_department_filters", ["lead_department_id", "area_id", *FILTERED],
            unique=False,
        )  # fmt: skip
        batch_op.drop_index("ix_task_area_id")
        batch_op.drop_index("ix_task_lead_department_id")


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_lead_department_id", ["lead_department_id"], unique=False)
        batch_op.create_index("ix_task_area_id", ["area_id"], unique=False)
        batch_op.drop_index("ix_task_department_filters")
        batch_op.drop_index("ix_task_area_filters")
