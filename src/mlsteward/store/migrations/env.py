"""Alembic environment: runs against the engine the Store hands over."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from mlsteward.errors import IntegrityError
from mlsteward.store import load_all_tables, metadata

load_all_tables()
config = context.config


def _sqlite_foreign_keys(connection: Any, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement, outside any transaction (it is
    a no-op inside one), on the driver's connection (the store's engine
    starts a transaction before every statement it runs itself)."""
    driver = connection.connection.driver_connection
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Any) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise IntegrityError(
            f"the migration left rows whose foreign keys point nowhere in "
            f"{', '.join(tables)}; nothing was changed",
            field="db_url",
            tables=tables,
        )


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line: take the URL
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # A batch migration on SQLite copies a table, drops the original and
        # renames the copy. With foreign keys enforced, dropping a table that
        # other tables' rows point at fails (registered_models in 0010, once
        # model versions exist). Alembic's advice: enforcement off while the
        # migrations run, every key checked before they commit. SQLite's DDL
        # is transactional (the engine issues its own BEGIN), so the whole
        # upgrade is one transaction there too, as on PostgreSQL: a failed
        # check or revision leaves the store at the revision it had.
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                transactional_ddl=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                _sqlite_foreign_keys(connection, on=True)


run_migrations()
