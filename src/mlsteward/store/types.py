"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["JSONType", "UTCDateTime", "like_escape", "utcnow"]


def utcnow() -> dt.datetime:
    """Now, in UTC, with the time zone attached."""
    return dt.datetime.now(dt.UTC)


def like_escape(text: str) -> str:
    r"""``text`` with the LIKE wildcards escaped, for ``escape="\\"``.

    Names may hold ``_``, which LIKE would take for any one character.

    Example:
        >>> like_escape("credit_risk")
        'credit\\_risk'
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always UTC and always comes back time-zone aware.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value
    is stored as naive UTC and the zone is put back on the way out. Naive
    input is refused: a time without a zone is ambiguous in an audit trail.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: mlsteward stores UTC only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _json_type() -> Any:
    return JSON().with_variant(JSONB(), "postgresql")


JSONType = _json_type()
