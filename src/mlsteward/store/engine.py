"""The metadata store: one engine per URL, one transaction per use case."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module, resources
from pathlib import Path
from typing import Any, ClassVar, Final

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mlsteward.config import Settings
from mlsteward.errors import InvalidInput

__all__ = [
    "AUDIT_KEY_INFO",
    "HEAD_REVISION",
    "TABLE_MODULES",
    "Store",
    "load_all_tables",
]

#: The newest migration. A test checks it against the migration scripts; the
#: store compares it with the database's revision without importing Alembic.
HEAD_REVISION: Final = "0012"

#: The key of ``Session.info`` under which every session of a store carries
#: the audit key (``None`` without one); :mod:`mlsteward.store.audit` reads it.
AUDIT_KEY_INFO: Final = "mlsteward_audit_key"

# Every capability's tables, by module name. Alembic's autogenerate and the
# schema test read the full metadata through this table; the store itself
# never imports the capabilities (they sit above it).
TABLE_MODULES = (
    "mlsteward.store.audit",
    "mlsteward.datasets.tables",
    "mlsteward.registry.tables",
    "mlsteward.serving.tables",
    "mlsteward.monitoring.tables",
    "mlsteward.identity.tables",
    "mlsteward.governance.tables",
    "mlsteward.jobs.tables",
    "mlsteward.retraining.tables",
)


def load_all_tables() -> None:
    """Import every module that adds tables to the shared metadata."""
    for name in TABLE_MODULES:
        import_module(name)


def _json_loads(text: str | bytes) -> Any:
    """JSON columns read with orjson (several times faster on the large
    ``details`` of monitor results); a value written with a ``NaN`` literal,
    which only the standard library reads, falls back to it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_pragmas(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily, which
    # lets two writers deadlock on the upgrade from a read lock to a write
    # lock. Take the write lock at BEGIN instead, and wait for it.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("mlsteward_readonly"):
            conn.exec_driver_sql("BEGIN")  # WAL readers never block writers
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """Engine, sessions and migrations for one metadata database.

    Args:
        url: SQLAlchemy URL (``sqlite:///path`` or
            ``postgresql+psycopg://user@host/db``).
        auto_upgrade: Apply pending migrations the first time a unit of work
            starts.
        audit_key: Secret the audit chain's HMACs are keyed with
            (``MLSTEWARD_AUDIT_KEY``); every session carries it in
            ``Session.info`` for :func:`mlsteward.store.audit.record`. Kept in
            memory only: never stored, never shown.

    Example:
        >>> store = Store("sqlite:///:memory:")  # doctest: +SKIP
        >>> with store.unit_of_work() as session:  # doctest: +SKIP
        ...     ...
    """

    def __init__(
        self, url: str, *, auto_upgrade: bool = True, audit_key: str | None = None
    ) -> None:
        self.url = url
        self.auto_upgrade = auto_upgrade
        self._audit_key = audit_key or None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._upgraded = False
        self._lock = threading.RLock()

    #: Called with the session at the start of every unit of work. Identity
    #: registers its re-check of the acting principal here, so a permission
    #: is checked in the transaction of the change it allows.
    write_guards: ClassVar[list[Callable[[Session], None]]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        key = settings.audit_key
        return cls(
            settings.resolved_db_url(),
            auto_upgrade=settings.auto_upgrade,
            audit_key=key.get_secret_value() if key is not None else None,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
                    self._sessions = sessionmaker(
                        self._engine,
                        expire_on_commit=False,
                        info={AUDIT_KEY_INFO: self._audit_key},
                    )
        return self._engine

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
        except Exception as exc:
            raise InvalidInput(
                f"MLSTEWARD_DB_URL {self.url!r} is not a database URL; expected "
                "e.g. sqlite:///path/mlsteward.db or "
                "postgresql+psycopg://user@host:5432/db",
                field="db_url",
            ) from exc
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False},
                json_deserializer=_json_loads,
            )
            _sqlite_pragmas(engine)
            return engine
        if url.get_backend_name() == "postgresql":
            try:
                return create_engine(
                    url,
                    pool_pre_ping=True,
                    pool_size=5,
                    max_overflow=10,
                    json_deserializer=_json_loads,
                )
            except ModuleNotFoundError as exc:
                raise InvalidInput(
                    f"MLSTEWARD_DB_URL is a PostgreSQL URL but {exc.name} is not "
                    "installed: pip install 'mlsteward[postgres]'",
                    field="db_url",
                ) from exc
        raise InvalidInput(
            f"database {url.get_backend_name()!r} is not supported; "
            "use sqlite or postgresql",
            field="db_url",
        )

    # -- migrations -------------------------------------------------------
    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        script_dir = resources.files("mlsteward.store") / "migrations"
        cfg.set_main_option("script_location", str(script_dir))
        cfg.attributes["engine"] = self.engine
        return cfg

    def upgrade(self, revision: str = "head") -> str | None:
        """Apply migrations up to ``revision``; return the revision now in force."""
        from alembic import command

        command.upgrade(self._alembic_config(), revision)
        self._upgraded = True
        return self.current_revision()

    def current_revision(self) -> str | None:
        from alembic.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def _stored_revision(self) -> str | None:
        """The revision in ``alembic_version``, read with plain SQL."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            stored = conn.execute(text("SELECT version_num FROM alembic_version"))
            return stored.scalar()

    def _ensure_schema(self) -> None:
        if self._upgraded:
            return
        with self._lock:
            if self._upgraded:
                return
            if self.auto_upgrade:
                # The common case (the schema is current) without importing
                # Alembic: a serving process would carry it for nothing.
                if self._stored_revision() != HEAD_REVISION:
                    self.upgrade()
            elif not inspect(self.engine).has_table("alembic_version"):
                raise InvalidInput(
                    f"the database at {self.url!r} has no mlsteward schema; "
                    "run `mlsteward db upgrade`",
                    field="db_url",
                )
            self._upgraded = True

    # -- units of work ----------------------------------------------------
    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error."""
        self._ensure_schema()
        assert self._sessions is not None
        with self._sessions() as session, session.begin():
            for guard in self.write_guards:
                guard(session)
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        self._ensure_schema()
        assert self._sessions is not None
        with self._sessions() as session:
            session.connection(execution_options={"mlsteward_readonly": True})
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def within(
        self, session: Session | None, *, write: bool = False
    ) -> Iterator[Session]:
        """The caller's session if it gave one, else a new one of our own.

        Services take an optional ``session`` so that a use case spanning
        capabilities (loading outcomes checks the prediction log; retention
        deletes outcomes and predictions) still runs in one transaction,
        without one capability touching another's tables.

        Args:
            session: The caller's session, or ``None``.
            write: Without a caller's session, open a unit of work (committed
                on success) rather than a read.

        Example:
            >>> with store.within(None) as session:  # doctest: +SKIP
            ...     session.execute(query)
        """
        if session is not None:
            yield session
            return
        with self.unit_of_work() if write else self.read() as own:
            yield own

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
