"""The metadata database as ``mlsteward doctor`` sees it: reachable, migrated,
and on the same clock as this machine.

The probe opens its own short-lived engine with a connect timeout rather than
the store's pooled one: a database that does not answer must give a prompt
answer here, not the driver's default wait.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from mlsteward.ops.models import Finding, Status
from mlsteward.store.engine import HEAD_REVISION

__all__ = [
    "CLOCK_FAIL_SECONDS",
    "CLOCK_WARN_SECONDS",
    "DatabaseProbe",
    "clock_finding",
    "database_finding",
    "probe",
]

#: Clock differences past these warn and fail: job leases are written by one
#: machine's clock and read by another's.
CLOCK_WARN_SECONDS = 2.0
CLOCK_FAIL_SECONDS = 30.0

_UPGRADE = "run `mlsteward db upgrade` with this MLSTEWARD_DB_URL"


@dataclass
class DatabaseProbe:
    """What one connection found.

    Attributes:
        where: The database named without its password (``host:port/db`` or
            the SQLite file).
        error: Why it could not be reached, in words; ``None`` when it was.
        revision: The schema revision in ``alembic_version`` (``None``: no
            mlsteward schema yet).
        clock_offset: Database clock minus this machine's, in seconds
            (``None`` for SQLite, which runs on this machine's clock).
        clock_uncertainty: Half the round trip of the clock query.
        dialect: ``sqlite`` or ``postgresql``.
        missing: A SQLite file that does not exist yet.
    """

    where: str
    error: str | None = None
    revision: str | None = None
    clock_offset: float | None = None
    clock_uncertainty: float = 0.0
    dialect: str = ""
    missing: bool = False

    @property
    def current(self) -> bool:
        """Reached, and at the revision this mlsteward knows as newest."""
        return self.error is None and self.revision == HEAD_REVISION


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    port = url.port or 5432
    return f"{url.host or 'localhost'}:{port}/{url.database or ''}"


def _plain(exc: BaseException, url: URL) -> str:
    """The driver's own words, on one line, with no password in them."""
    orig = getattr(exc, "orig", None) or exc
    words = re.sub(r"\s+", " ", str(orig)).strip() or type(orig).__name__
    if url.password:
        words = words.replace(str(url.password), "***")
    return words[:300]


def _engine(url: URL, timeout: float) -> Any:
    if url.get_backend_name() == "postgresql":
        # libpq's connect_timeout is whole seconds, at least 2 in effect.
        return create_engine(
            url, connect_args={"connect_timeout": max(2, round(timeout))}
        )
    return create_engine(url, connect_args={"timeout": timeout})


def probe(db_url: str, timeout: float = 5.0) -> DatabaseProbe:
    """Connect once: read the schema revision and the database's clock.

    A SQLite file that does not exist yet is reported, not created.
    """
    try:
        url = make_url(db_url)
    except Exception:
        return DatabaseProbe(
            where="MLSTEWARD_DB_URL", error="MLSTEWARD_DB_URL is not a database URL"
        )
    found = DatabaseProbe(where=_where(url), dialect=url.get_backend_name())
    file = url.database if found.dialect == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        found.error = "the file does not exist yet"
        found.missing = True
        return found
    try:
        engine = _engine(url, timeout)
        try:
            with engine.connect() as conn:
                if inspect(conn).has_table("alembic_version"):
                    rows = conn.execute(text("SELECT version_num FROM alembic_version"))
                    found.revision = rows.scalar()
                if found.dialect == "postgresql":
                    _read_clock(conn, found)
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error is the answer, in its words
        found.error = _plain(exc, url)
    return found


def _read_clock(conn: Any, found: DatabaseProbe) -> None:
    before = time.time()
    db_now = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    after = time.time()
    mine = dt.datetime.fromtimestamp((before + after) / 2, dt.UTC)
    found.clock_offset = (db_now - mine).total_seconds()
    found.clock_uncertainty = (after - before) / 2


def database_finding(found: DatabaseProbe) -> Finding:
    """Reachable and migrated, in one answer."""
    if found.missing:
        return Finding(
            check="database",
            status="warn",
            message=f"no database yet: {found.where} does not exist",
            fix=f"{_UPGRADE} (any command that writes also creates it)",
        )
    if found.error is not None:
        return Finding(
            check="database",
            status="fail",
            message=f"cannot reach the database at {found.where}: {found.error}",
            fix="check that the database runs there and accepts connections "
            "from this machine, and that MLSTEWARD_DB_URL names it",
        )
    return _migrated(found)


def _migrated(found: DatabaseProbe) -> Finding:
    rev = found.revision
    if rev == HEAD_REVISION:
        return Finding(
            check="database",
            status="ok",
            message=f"{found.where} answers; schema at {rev}, the newest",
        )
    if rev is None:
        return Finding(
            check="database",
            status="fail",
            message=f"{found.where} answers but has no mlsteward schema",
            fix=_UPGRADE,
        )
    if rev.isdigit() and int(rev) < int(HEAD_REVISION):
        return Finding(
            check="database",
            status="fail",
            message=f"{found.where} is at schema revision {rev}; this "
            f"mlsteward needs {HEAD_REVISION}",
            fix=_UPGRADE,
        )
    return Finding(
        check="database",
        status="fail",
        message=f"{found.where} is at schema revision {rev}, which this "
        f"mlsteward does not know (its newest is {HEAD_REVISION}): a newer "
        "mlsteward migrated it",
        fix="install the mlsteward version the server and workers run",
    )


def clock_finding(found: DatabaseProbe) -> Finding:
    """The database's clock against this machine's."""
    if found.error is not None:
        return Finding(
            check="clocks",
            status="skip",
            message="not checked: the database did not answer",
        )
    if found.clock_offset is None:
        return Finding(
            check="clocks",
            status="skip",
            message="SQLite runs on this machine's clock",
        )
    off = found.clock_offset
    gap = max(0.0, abs(off) - found.clock_uncertainty)
    ahead = "ahead of" if off > 0 else "behind"
    said = f"the database's clock is {abs(off):.1f} s {ahead} this machine's"
    if gap <= CLOCK_WARN_SECONDS:
        return Finding(check="clocks", status="ok", message=said)
    fix = (
        "synchronise both machines' clocks with NTP (e.g. `timedatectl "
        "set-ntp true`, or chrony); job leases compare times written by "
        "different machines"
    )
    status: Status = "fail" if gap > CLOCK_FAIL_SECONDS else "warn"
    return Finding(check="clocks", status=status, message=said, fix=fix)
