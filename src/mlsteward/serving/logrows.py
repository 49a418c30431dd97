"""Journal records as prediction log rows, written through a DB-API cursor.

No SQLAlchemy here: the log shipper imports this module, and a process that
only copies journal lines into SQLite should not pay for an ORM's imports.
The values stored are the ones the SQLAlchemy table types store: JSON text,
and UTC times in SQLAlchemy's SQLite text format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["sqlite_insert"]

_SQLITE_PREDICTION = (
    "INSERT INTO predictions (request_id, created_at, deployment, model_name, "
    "model_version, route, inputs, outputs, latency_ms, flags) VALUES {} "
    "ON CONFLICT (request_id) DO NOTHING"
)
_SQLITE_SHADOW = (
    "INSERT INTO shadow_predictions (request_id, created_at, deployment, "
    "model_name, model_version, outputs, latency_ms) VALUES {} "
    "ON CONFLICT (request_id, model_version) DO NOTHING"
)
_ROWS_PER_STATEMENT = 200


def _many(cursor: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows with few statements.

    ``executemany`` runs one statement per row and the sqlite3 module lets go
    of the GIL around each; one statement per 200 rows keeps that to a
    handful per batch.
    """
    width = len(rows[0])
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        values = ", ".join([one] * len(chunk))
        cursor.execute(sql.format(values), [v for row in chunk for v in row])


def _sqlite_time(ts: float) -> str:
    # The text SQLAlchemy's SQLite DateTime stores for a naive UTC time.
    at = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def sqlite_insert(cursor: Any, records: Iterable[Mapping[str, Any]]) -> int:
    """Insert journal records (see :func:`mlsteward.serving.journal.expand`)
    through a sqlite3 cursor, in the caller's transaction, skipping request
    ids already logged. Returns the number of records handed in."""
    times: dict[float, str] = {}
    preds = []
    shadows = []
    for r in records:
        ts = r["ts"]
        when = times.get(ts)
        if when is None:
            when = times[ts] = _sqlite_time(ts)
        if r.get("t") == "s":
            shadows.append(
                (r["id"], when, r["d"], r["m"], int(r["v"]), _text(r["out"]),
                 r.get("ms"))
            )  # fmt: skip
        else:
            preds.append(
                (r["id"], when, r["d"], r["m"], int(r["v"]),
                 r.get("r", "champion"), _text(r["in"]), _text(r["out"]),
                 r.get("ms"), _text(r.get("f")))
            )  # fmt: skip
    if preds:
        _many(cursor, _SQLITE_PREDICTION, preds)
    if shadows:
        _many(cursor, _SQLITE_SHADOW, shadows)
    return len(preds) + len(shadows)
