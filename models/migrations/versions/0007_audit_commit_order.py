"""audit readers follow commit order on PostgreSQL: audit_event.txid, event_cursor.last_txid

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:00:00

Ids come from a sequence, so with several desks an event with a smaller id can commit after
one with a larger id was read: a cursor on the id alone would skip it for good. On
PostgreSQL each event records the id of the transaction that wrote it, and readers take
only what transactions older than every one still running wrote, in (txid, id) order
(models.audit_feed). Events written before this revision count as transaction 0: they are
all committed, and a cursor keeps its place among them. SQLite has one writer at a time:
its ids follow commit order, and txid stays empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WRITER_TXID = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_audit_event_txid_id", ["txid", "id"], unique=False)
    with op.batch_alter_table("event_cursor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_txid", sa.BigInteger(), nullable=False, server_default="0")
        )
    if postgres:
        op.execute("UPDATE audit_event SET txid = 0")
        op.alter_column("audit_event", "txid", server_default=sa.text(WRITER_TXID))


def downgrade() -> None:
    with op.batch_alter_table("event_cursor", schema=None) as batch_op:
        batch_op.drop_column("last_txid")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_txid_id")
        batch_op.drop_column("txid")
