"""The log shipper: a child process that copies a serving process's journal
into the prediction log table.

Why a process: copying in a thread of the serving process made the two
fight for the GIL. Every time the request path let go of it (the journal's
``os.write``, an ONNX Runtime call), the writer thread took it and the next
request waited for the writer's Python work (parsing lines, building rows),
often for the interpreter's whole switch interval. Measured on two cores,
that cost more than a third of the server's throughput; in its own process
the copy costs the server nothing but the journal write.

The shipper reads only the serving process's own segments (file names start
with its prefix), from where it last committed, whole lines only; a batch of
lines goes into one transaction (``ON CONFLICT DO NOTHING``: replaying is
harmless). It never deletes a segment: it reports how far each is committed,
and the serving process deletes a segment once it is sealed and committed to
its end.

Protocol, all over pipes:

- ``python -m mlsteward.serving.log.shipper --journal DIR --prefix P
  [--flush SECONDS] [--durable] [--offsets JSON]``, with the database in the
  environment: ``MLSTEWARD_SHIPPER_SQLITE`` (a file path; the embedded
  default, written through the standard library's ``sqlite3``),
  ``MLSTEWARD_SHIPPER_POSTGRES`` (a libpq connection URI, written through
  psycopg) or ``MLSTEWARD_SHIPPER_DB_URL`` (any other SQLAlchemy URL).
- stdin: the line ``stop`` asks it to ship everything written, then exit 0.
  End of input without ``stop`` means the serving process is gone (killed):
  the shipper exits at once and the next start replays the journal.
- stdout: one JSON line per committed batch and segment,
  ``{"seg": file name, "end": bytes committed from its start, "n": records}``;
  ``{"error": text}`` after a failed write (retried after a second).

It imports neither pandas nor SQLAlchemy, so it costs the
serving process tree little memory, and it runs at a lower CPU priority
(``nice`` 10) than its server: under saturation, answers come first and the
log catches up from the journal as the load eases.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mlsteward.serving.log.journal import SUFFIX, entry_records, expand, parse_entries
from mlsteward.serving.log.rows import postgres_insert_entries, sqlite_insert_entries

__all__ = ["Shipper", "main"]

ENV_SQLITE = "MLSTEWARD_SHIPPER_SQLITE"
ENV_DB_URL = "MLSTEWARD_SHIPPER_DB_URL"
ENV_POSTGRES = "MLSTEWARD_SHIPPER_POSTGRES"
#: How much lower the shipper's CPU priority is than its server's.
NICENESS = 10


class _SQLiteSink:
    """Writes through the standard library's sqlite3 driver."""

    def __init__(self, path: str, durable: bool) -> None:
        import sqlite3

        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA busy_timeout=30000")
        # WAL with synchronous=NORMAL may lose the last commits on power
        # loss; in fsync mode a segment is deleted once committed, so those
        # commits must be on disk too.
        self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")

    def write(self, entries: list[dict[str, Any]]) -> None:
        cursor = self.conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            sqlite_insert_entries(cursor, entries)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class _PostgresSink:
    """Writes through psycopg, without SQLAlchemy (half the memory)."""

    def __init__(self, conninfo: str, durable: bool) -> None:
        self.conninfo = conninfo
        self.conn: Any = None
        self._connect()

    def _connect(self) -> None:
        import psycopg

        self.conn = psycopg.connect(self.conninfo)

    def write(self, entries: list[dict[str, Any]]) -> None:
        if self.conn is None or self.conn.closed:
            self._connect()
        try:
            with self.conn.cursor() as cursor:
                postgres_insert_entries(cursor, entries)
            self.conn.commit()
        except BaseException:
            try:
                self.conn.rollback()
            except Exception:  # a broken connection: start afresh next time
                self.conn.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class _SQLAlchemySink:
    """Writes through SQLAlchemy (PostgreSQL and anything else)."""

    def __init__(self, url: str, durable: bool) -> None:
        from sqlalchemy import create_engine

        from mlsteward.serving.log.service import insert_journal_records

        self._insert = insert_journal_records
        self.engine = create_engine(url, pool_size=1, pool_pre_ping=True)

    def write(self, entries: list[dict[str, Any]]) -> None:
        records = [r for e in entries for r in expand(e)]
        with self.engine.begin() as conn:
            self._insert(conn, records)

    def close(self) -> None:
        self.engine.dispose()


class Shipper:
    """Copy one serving process's journal segments into the table.

    Args:
        directory: The journal directory.
        prefix: File name prefix of the serving process's segments.
        write: Commits a list of journal lines, as written (one
            transaction; see :func:`mlsteward.serving.log.journal.expand`).
        report: Called with each progress or error message.
        offsets: Bytes already committed per segment file name.
        batch_bytes: Most journal bytes per transaction.
    """

    def __init__(
        self,
        directory: Path,
        prefix: str,
        write: Callable[[list[dict[str, Any]]], None],
        report: Callable[[dict[str, Any]], None],
        *,
        offsets: Mapping[str, int] | None = None,
        batch_bytes: int = 1 << 20,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.write = write
        self.report = report
        self.offsets = dict(offsets or {})
        self.batch_bytes = batch_bytes

    def ship_once(self) -> int | None:
        """Commit up to ``batch_bytes`` of new whole lines; the number of
        records committed (0: nothing new), or None if the write failed."""
        budget = self.batch_bytes
        chunks: list[tuple[str, int, int]] = []
        entries: list[dict[str, Any]] = []
        names = sorted(self.directory.glob(f"{self.prefix}-*{SUFFIX}"))
        for gone in set(self.offsets) - {p.name for p in names}:
            del self.offsets[gone]  # deleted by the serving process
        for path in names:
            start = self.offsets.get(path.name, 0)
            try:
                size = path.stat().st_size
                if size <= start:
                    continue
                with open(path, "rb") as fh:
                    fh.seek(start)
                    data = _written(fh.read(min(size - start, budget)))
                    cut = data.rfind(b"\n") + 1
                    if cut == 0 and not chunks and len(data) == budget:
                        fh.seek(start)  # one line longer than a whole batch
                        data = _written(fh.readline())
                        cut = data.rfind(b"\n") + 1
            except FileNotFoundError:
                continue
            if cut == 0:
                if chunks:
                    break  # the batch is full; the next one starts here
                continue  # a line still being written
            batch = parse_entries(data[:cut])
            entries.extend(batch)
            chunks.append((path.name, start + cut, sum(map(entry_records, batch))))
            budget -= cut
            if budget <= 0:
                break
        if not chunks:
            return 0
        try:
            self.write(entries)
        except Exception as exc:
            self.report({"error": f"{type(exc).__name__}: {exc}"})
            return None
        for name, end, n in chunks:
            self.offsets[name] = end
            self.report({"seg": name, "end": end, "n": n})
        return sum(n for _, _, n in chunks)


def _written(data: bytes) -> bytes:
    """``data`` up to its first zero byte: past it, the serving process has
    not copied its lines yet (segments are mapped files, zero-filled)."""
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def _watch_stdin(stop: threading.Event) -> None:
    for line in sys.stdin.buffer:
        if line.strip() == b"stop":
            stop.set()
            return
    # End of input without "stop": the serving process died (a SIGKILL
    # closes its end of the pipe). Its journal is replayed by the next start.
    os._exit(0)


def _reporter(out: BinaryIO) -> Callable[[dict[str, Any]], None]:
    def report(message: dict[str, Any]) -> None:
        out.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
        out.flush()

    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlsteward.serving.log.shipper")
    parser.add_argument("--journal", required=True, type=Path)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--flush", type=float, default=0.2)
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--offsets", default="{}")
    args = parser.parse_args(argv)
    sqlite_path = os.environ.get(ENV_SQLITE)
    postgres = os.environ.get(ENV_POSTGRES)
    url = os.environ.get(ENV_DB_URL)
    if not sqlite_path and not postgres and not url:
        print(f"set {ENV_SQLITE}, {ENV_POSTGRES} or {ENV_DB_URL}", file=sys.stderr)
        return 2
    # Answering requests comes first: on a saturated machine the shipper
    # takes the CPU its server leaves over, and the log catches up from the
    # journal (on disk, not in memory) as the load eases.
    os.nice(NICENESS)
    # What the shipper holds has no reference cycles: reference counting
    # frees it all. Without this, the collector's passes over each batch of
    # parsed lines doubled the cost of a record.
    gc.disable()
    stop = threading.Event()
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    sink: _SQLiteSink | _PostgresSink | _SQLAlchemySink
    if sqlite_path:
        sink = _SQLiteSink(sqlite_path, args.durable)
    elif postgres:
        sink = _PostgresSink(postgres, args.durable)
    else:
        sink = _SQLAlchemySink(str(url), args.durable)
    shipper = Shipper(
        args.journal,
        args.prefix,
        sink.write,
        _reporter(sys.stdout.buffer),
        offsets=orjson.loads(args.offsets),
    )
    failures = 0
    try:
        while True:
            stopping = stop.is_set()
            shipped = shipper.ship_once()
            if shipped is None:
                failures += 1
                if stopping and failures >= 3:
                    return 1  # what failed stays in the journal for replay
                time.sleep(1.0)
            elif shipped:
                failures = 0
            elif stopping:
                return 0
            else:
                failures = 0
                stop.wait(args.flush)
    finally:
        sink.close()


if __name__ == "__main__":
    sys.exit(main())
