"""outbox bodies in a table of their own, their size on the message

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:00:00

A message row changes state several times (pending, sending, sent); SQLite rewrites the
whole row on every UPDATE, bodies included. The bodies move to outbox_body, written once;
the message keeps their size in characters, so delivery can bound what it holds at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite drops a column by rebuilding the table, which a foreign key pointing at it
    # would block: the bodies wait in a plain table until the rebuild is done.
    op.create_table('outbox_body_move',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    )
    # Messages that could not be rendered were stored with empty bodies: they get none.
    op.execute(
        "INSERT INTO outbox_body_move (message_id, text, html, size) "
        "SELECT id, text, html, length(text) + length(html) FROM outbox_message "
        "WHERE text <> '' OR html <> ''"
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('html')
        batch_op.drop_column('text')
        batch_op.add_column(sa.Column('size', sa.Integer(), server_default='0', nullable=False))
    op.create_table('outbox_body',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], ),
    sa.PrimaryKeyConstraint('message_id')
    )
    _compress_bodies_with_lz4()
    op.execute(
        "INSERT INTO outbox_body (message_id, text, html) "
        "SELECT message_id, text, html FROM outbox_body_move"
    )
    op.execute(
        "UPDATE outbox_message SET size = (SELECT size FROM outbox_body_move "
        "WHERE message_id = outbox_message.id) "
        "WHERE id IN (SELECT message_id FROM outbox_body_move)"
    )
    op.drop_table('outbox_body_move')


def _compress_bodies_with_lz4() -> None:
    """PostgreSQL 14+ built with lz4 compresses the bodies four times faster than with pglz:
    a day's digests are tens of megabytes, written once and read once. Elsewhere: unchanged."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or bind.dialect.server_version_info < (14,):
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(
                "ALTER TABLE outbox_body ALTER COLUMN text SET COMPRESSION lz4, "
                "ALTER COLUMN html SET COMPRESSION lz4"
            )
    except sa.exc.DBAPIError:  # a server built without lz4 keeps its default
        pass


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('html', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
    op.execute(
        "UPDATE outbox_message SET "
        "text = (SELECT text FROM outbox_body WHERE message_id = outbox_message.id), "
        "html = (SELECT html FROM outbox_body WHERE message_id = outbox_message.id) "
        "WHERE id IN (SELECT message_id FROM outbox_body)"
    )
    op.drop_table('outbox_body')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.alter_column('text', server_default=None)
        batch_op.alter_column('html', server_default=None)
        batch_op.drop_column('size')
