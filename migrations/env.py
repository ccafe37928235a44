"""Alembic environment: synchronous psycopg connection, metadata from domain.models."""

from alembic import context
from sqlalchemy import create_engine, pool

import domain.models  # noqa: F401  (fills Base.metadata)
from domain.db import Base

config = context.config


def run_migrations() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            # Serialise concurrent migrators (API and worker starting together) on one advisory lock.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7216)")
            context.run_migrations()
    engine.dispose()


run_migrations()
