"""Alembic environment: runs on the engine models.db hands over (SQLite or PostgreSQL)."""

from alembic import context
from sqlalchemy import create_engine

from models.settings import Settings
from models.tables import metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line: use the configured database
        engine = create_engine(Settings().db_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
