"""Copy journaled prediction records into the prediction log table, in
batches, off the request path (in the log shipper process); replay what a
dead process left behind."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from mlsteward.serving.log.journal import Journal, read_segment, stale_segments
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.log.shipper import ENV_DB_URL, ENV_POSTGRES, ENV_SQLITE
from mlsteward.store import Store

__all__ = ["LogShipper", "replay"]

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


class LogShipper:
    """Runs the log shipper process (:mod:`mlsteward.serving.log.shipper`) for a
    journal, follows its progress, and restarts it if it dies.

    Args:
        store: The store the prediction log lives in.
        journal: The journal to copy; told how far each segment is
            committed so it can delete finished ones.
        flush_seconds: Longest a record waits before it is copied.
        durable: fsync mode (commits reach the disk before a segment goes).
        on_written: Called with the number of records of each committed batch.
        on_error: Called with the error's text after each failed write
            (without it, each failure is logged).
    """

    def __init__(
        self,
        store: Store,
        journal: Journal,
        *,
        flush_seconds: float = 0.2,
        durable: bool = False,
        on_written: Callable[[int], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self.flush_seconds = flush_seconds
        self.durable = durable
        self.on_written = on_written
        self.on_error = on_error
        self.written = 0
        self.restarts = 0
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Records journaled and not yet committed."""
        return self.journal.records - self.written

    def start(self) -> None:
        with self.store.read():
            pass  # applies pending migrations, like any first use
        self._proc = self._spawn()
        self._thread = threading.Thread(
            target=self._follow, name="mlsteward-log-shipper", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ship what is journaled, then stop the shipper. Records it could not
        write stay in the journal, for the next start to replay."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            try:
                proc.stdin.write(b"stop\n")
                proc.stdin.close()
            except OSError:
                pass  # already gone
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _log.error("the log shipper did not finish in %s s; stopped", timeout)
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        url = make_url(self.store.url)
        for name in (ENV_SQLITE, ENV_POSTGRES, ENV_DB_URL):
            env.pop(name, None)
        backend, driver = url.get_backend_name(), url.get_driver_name()
        if backend == "sqlite" and url.database not in (None, ":memory:"):
            env[ENV_SQLITE] = str(Path(str(url.database)).resolve())
        elif backend == "postgresql" and driver == "psycopg":
            plain = url.set(drivername="postgresql")
            env[ENV_POSTGRES] = plain.render_as_string(hide_password=False)
        else:
            env[ENV_DB_URL] = url.render_as_string(hide_password=False)
        argv = [
            sys.executable,
            "-m",
            "mlsteward.serving.log.shipper",
            "--journal",
            str(self.journal.directory),
            "--prefix",
            self.journal.prefix,
            "--flush",
            str(self.flush_seconds),
            "--offsets",
            orjson.dumps(self.journal.offsets()).decode(),
        ]
        if self.durable:
            argv.append("--durable")
        return subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )

    def _follow(self) -> None:
        """Apply the shipper's progress; restart it if it dies unasked."""
        while True:
            proc = self._proc
            assert proc is not None and proc.stdout is not None
            for line in proc.stdout:
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if "seg" in message:
                    self.journal.shipped_to(message["seg"], int(message["end"]))
                    n = int(message["n"])
                    self.written += n
                    if self.on_written is not None:
                        self.on_written(n)
                elif "error" in message:
                    if self.on_error is not None:
                        self.on_error(str(message["error"]))
                    else:
                        _log.error("prediction log write failed: %s", message["error"])
            code = proc.wait()
            if self._stopping.is_set():
                return
            _log.error("the log shipper exited (%s); restarting it", code)
            if self._stopping.wait(1.0):
                return
            self.restarts += 1
            self._proc = self._spawn()
