"""a page of one area's or one department's tasks, read in id order

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:00:00

The ledger shows 50 tasks a page in id order. Filtered by an area (1,000 of 100,000 tasks),
PostgreSQL walked the primary key and threw away 16,000 rows of other areas for page three
(3-7 ms a page); with (area_id, id) it reads the page's ids in order. The same for a lead
department. SQLite gets them too (there an index ends with the row id anyway).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_area_order", ["area_id", "id"], unique=False)
        batch_op.create_index("ix_task_department_order", ["lead_department_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_department_order")
        batch_op.drop_index("ix_task_area_order")
