"""Copy journaled prediction records into the prediction log table, in
batches, off the request path; replay what a dead process left behind."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from mlsteward.serving.journal import Journal, Segment, read_segment, stale_segments
from mlsteward.serving.log import PredictionLog

__all__ = ["LogWriter", "replay"]

_log = logging.getLogger(__name__)


def _connect(log: PredictionLog, durable: bool) -> Connection:
    with log.ctx.store.read():
        pass  # applies pending migrations, like any first use
    conn = log.ctx.store.engine.connect()
    if durable and conn.dialect.name == "sqlite":
        # WAL with synchronous=NORMAL may lose the last commits on power
        # loss; a journal segment is deleted once its records are committed,
        # so in fsync mode those commits must be on disk too. The setting
        # cannot change inside a transaction, so it goes to the driver
        # connection before this connection ever begins one.
        raw: Any = conn.connection.driver_connection
        raw.execute("PRAGMA synchronous=FULL")
    return conn


def replay(log: PredictionLog, journal_dir: Any, *, durable: bool = False) -> int:
    """Ingest every journal segment whose writer is gone; return the count.

    Idempotent: records already in the table are skipped. A segment is
    deleted only after its records are committed.
    """
    total = 0
    conn: Connection | None = None
    try:
        for path, fd in stale_segments(journal_dir):
            try:
                records = read_segment(path)
                if records:
                    conn = conn or _connect(log, durable)
                    total += log.ingest(records, conn)
                path.unlink(missing_ok=True)
            finally:
                os.close(fd)
    finally:
        if conn is not None:
            conn.close()
    return total


class LogWriter:
    """A thread that batches journal records into the table.

    Args:
        log: The prediction log service.
        journal: The journal the records were written to; told when they
            are committed so it can delete finished segments.
        flush_seconds: Longest a record waits before a batch is written.
        durable: fsync mode (see :func:`_connect`).
        on_written: Called with the number of records of each committed batch.
    """

    def __init__(
        self,
        log: PredictionLog,
        journal: Journal,
        *,
        flush_seconds: float = 0.2,
        durable: bool = False,
        on_written: Callable[[int], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.log = log
        self.journal = journal
        self.flush_seconds = flush_seconds
        self.durable = durable
        self.on_written = on_written
        self.on_error = on_error
        self._items: list[tuple[Segment, list[dict[str, Any]]]] = []
        self._pending = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None

    @property
    def pending(self) -> int:
        """Records handed in and not yet committed."""
        return self._pending

    def start(self) -> None:
        self._conn = _connect(self.log, self.durable)
        self._thread = threading.Thread(
            target=self._run, name="mlsteward-log-writer", daemon=True
        )
        self._thread.start()

    def put(self, segment: Segment, records: list[dict[str, Any]]) -> None:
        """Queue records already written to ``segment`` (never blocks long)."""
        with self._cond:
            self._items.append((segment, records))
            self._pending += len(records)
            if self._pending >= 5000:
                self._cond.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop. Records that cannot be written
        stay in the journal, for the next start to replay."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                if not self._stopping:
                    self._cond.wait(self.flush_seconds if failures == 0 else 1.0)
                items, self._items = self._items, []
                stopping = self._stopping
            if items:
                if self._write(items):
                    failures = 0
                else:
                    failures += 1
                    with self._cond:
                        self._items[:0] = items
                    if stopping and failures >= 3:
                        return  # left in the journal for replay
                    continue
            if stopping and not self._items:
                return

    def _write(self, items: list[tuple[Segment, list[dict[str, Any]]]]) -> bool:
        records = [r for _, batch in items for r in batch]
        try:
            if self._conn is None:
                self._conn = _connect(self.log, self.durable)
            self.log.ingest(records, self._conn)
        except Exception:
            _log.exception("prediction log write failed; records stay journaled")
            if self.on_error is not None:
                self.on_error()
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None
            return False
        for seg, batch in items:
            self.journal.committed(seg, len(batch))
        with self._cond:
            self._pending -= len(records)
        if self.on_written is not None:
            self.on_written(len(records))
        return True
