"""Journal records as prediction log rows, written through a DB-API cursor
(the standard library's sqlite3, or psycopg for PostgreSQL).

No SQLAlchemy here: the log shipper imports this module, and a process that
only copies journal lines into a table should not pay for an ORM's imports.
The values stored are the ones the SQLAlchemy table types store: JSON text,
and UTC times in SQLAlchemy's SQLite text format.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from mlsteward.serving.log.journal import request_records

__all__ = [
    "entry_rows",
    "postgres_insert_entries",
    "sqlite_insert",
    "sqlite_insert_entries",
]

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
_PG_PREDICTION = (
    "INSERT INTO predictions (request_id, created_at, deployment, model_name, "
    "model_version, route, inputs, outputs, latency_ms, flags) VALUES (%s, "
    "to_timestamp(%s), %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s::jsonb) "
    "ON CONFLICT (request_id) DO NOTHING"
)
_PG_SHADOW = (
    "INSERT INTO shadow_predictions (request_id, created_at, deployment, "
    "model_name, model_version, outputs, latency_ms) VALUES (%s, "
    "to_timestamp(%s), %s, %s, %s, %s::jsonb, %s) "
    "ON CONFLICT (request_id, model_version) DO NOTHING"
)


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


_SECONDS: dict[int, str] = {}


def _sqlite_time(ts: float) -> str:
    """The text SQLAlchemy's SQLite DateTime stores for a naive UTC time
    (``2026-11-26 17:30:01.123456``), of epoch seconds, to the microsecond.
    The seconds part is formatted once per second: this runs per request."""
    frac, whole = math.modf(float(ts))  # as datetime.fromtimestamp rounds
    secs, micros = int(whole), round(frac * 1_000_000)
    if micros >= 1_000_000:
        secs, micros = secs + 1, micros - 1_000_000
    head = _SECONDS.get(secs)
    if head is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        head = _SECONDS[secs] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs))
    return f"{head}.{micros:06d}"


def _text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def sqlite_insert(cursor: Any, records: Iterable[Mapping[str, Any]]) -> int:
    """Insert journal records (see :func:`mlsteward.serving.log.journal.expand`)
    through a sqlite3 cursor, in the caller's transaction, skipping request
    ids already logged. Returns the number of records handed in."""
    preds: list[tuple[Any, ...]] = []
    shadows: list[tuple[Any, ...]] = []
    for r in records:
        _record_row(r, _sqlite_time(r["ts"]), preds, shadows)
    return _insert(cursor, preds, shadows)


def sqlite_insert_entries(cursor: Any, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert journal lines as written (request lines unexpanded: their
    rows are built straight from the columns), like :func:`sqlite_insert`."""
    return _insert(cursor, *entry_rows(entries, _sqlite_time))


def postgres_insert_entries(cursor: Any, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert journal lines through a psycopg cursor, in the caller's
    transaction, skipping request ids already logged."""
    preds, shadows = entry_rows(entries, float)
    if preds:
        cursor.executemany(_PG_PREDICTION, preds)
    if shadows:
        cursor.executemany(_PG_SHADOW, shadows)
    return len(preds) + len(shadows)


def entry_rows(
    entries: Iterable[Mapping[str, Any]], when_of: Callable[[float], Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Prediction and shadow rows of journal lines: request id, time (as
    ``when_of`` renders epoch seconds), deployment, model, version, then
    route, inputs, outputs, latency and flags (JSON text) for predictions,
    outputs and latency for shadows."""
    preds: list[tuple[Any, ...]] = []
    shadows: list[tuple[Any, ...]] = []
    dumps = orjson.dumps
    for e in entries:
        when = when_of(e["ts"])
        if e.get("t") != "b":
            _record_row(e, when, preds, shadows)
            continue
        d, m, ms = e["d"], e["m"], e["ms"]
        for rid, version, route, inputs, answer, flag in request_records(e):
            preds.append(
                (rid, when, d, m, version, route, dumps(inputs).decode(),
                 dumps(answer).decode(), ms,
                 None if flag is None else dumps(flag).decode())
            )  # fmt: skip
    return preds, shadows


def _record_row(
    r: Mapping[str, Any],
    when: Any,
    preds: list[tuple[Any, ...]],
    shadows: list[tuple[Any, ...]],
) -> None:
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


def _insert(
    cursor: Any, preds: list[tuple[Any, ...]], shadows: list[tuple[Any, ...]]
) -> int:
    if preds:
        _many(cursor, _SQLITE_PREDICTION, preds)
    if shadows:
        _many(cursor, _SQLITE_SHADOW, shadows)
    return len(preds) + len(shadows)
