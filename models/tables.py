"""Every table module, imported once so the metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from models import accounts, audit, dispatch_tables, ledger, mail, people, records  # noqa: F401

metadata = SQLModel.metadata
