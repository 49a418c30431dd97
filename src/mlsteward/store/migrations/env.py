"""Alembic environment: runs against the engine the Store hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from mlsteward.store import load_all_tables, metadata

load_all_tables()
config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line: take the URL
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
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
