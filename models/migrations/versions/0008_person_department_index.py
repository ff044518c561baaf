"""a department's people found from an index: person.department_id

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00

The office's task page suggests the lead department's officers and leaders. Without this
index SQLite walked all people in name order to find a department's 50: 2 ms a list, two
lists a page.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index("ix_person_department_id", ["department_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index("ix_person_department_id")
