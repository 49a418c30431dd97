"""The local prediction journal: answered requests survive a killed process.

Before an answer goes out, its prediction records are appended to a segment
file with one ``os.write`` (JSON lines). The operating system keeps written
bytes even when the process is killed with SIGKILL, so an answered request is
never lost with the process. Surviving a machine crash needs the bytes on the
disk: with ``fsync`` on, answers also wait for a group commit (one
``fdatasync`` covers every record written while the previous one ran).

A background thread copies records into the prediction log table in batches;
a segment is deleted once it is sealed and all its records are committed.
Each segment is locked (``flock``) by the process writing it, so on start a
server replays only segments whose writer is gone, and replay is idempotent
(records already in the table are skipped).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Journal", "Segment", "read_segment", "stale_segments"]

SUFFIX = ".jsonl"


@dataclass
class Segment:
    """One journal file, open and locked by this process."""

    path: Path
    fd: int
    appended: int = 0
    committed: int = 0
    size: int = 0
    sealed: bool = False
    closed: bool = False


def _open_locked(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


class Journal:
    """Append-only segments of JSON-lines prediction records.

    Args:
        directory: Where segments live (local file system: ``flock``).
        fsync: Make :meth:`append` callers wait for an ``fdatasync``.
        segment_bytes: Seal a segment and start another past this size.
    """

    def __init__(
        self, directory: Path, *, fsync: bool = False, segment_bytes: int = 8 << 20
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._segments: list[Segment] = []
        self._current: Segment | None = None
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._counter = 0
        # Group commit state: bytes are numbered by a write sequence.
        self._written = 0
        self._synced = 0
        self._sync_cond = threading.Condition()
        self._sync_thread: threading.Thread | None = None
        self._waiters: list[tuple[int, Callable[[], None]]] = []
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._rotate()
        if self.fsync:
            self._sync_thread = threading.Thread(
                target=self._sync_loop, name="mlsteward-journal-fsync", daemon=True
            )
            self._sync_thread.start()

    def close(self) -> None:
        """Stop the fsync thread; close segments (their files stay on disk
        unless every record reached the table)."""
        with self._sync_cond:
            self._stopping = True
            self._sync_cond.notify_all()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=5)
        with self._lock:
            for seg in list(self._segments):
                seg.sealed = True
                self._maybe_release(seg)
                if not seg.closed:
                    os.close(seg.fd)
                    seg.closed = True
            self._segments.clear()
            self._current = None

    # -- writing -----------------------------------------------------------
    def append(self, lines: bytes, count: int) -> tuple[Segment, int]:
        """Write ``count`` records (JSON lines, newline-terminated) at once.

        Returns:
            The segment written to, and the write's sequence number (pass it
            to :meth:`when_synced` in fsync mode).
        """
        with self._lock:
            seg = self._current
            assert seg is not None, "journal is not open"
            view = memoryview(lines)
            while view:
                n = os.write(seg.fd, view)
                view = view[n:]
            seg.appended += count
            seg.size += len(lines)
            self._written += 1
            seq = self._written
            if seg.size >= self.segment_bytes:
                self._rotate()
        if self.fsync:
            with self._sync_cond:
                self._sync_cond.notify()
        return seg, seq

    def when_synced(self, seq: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the fsync thread) once write ``seq`` is on
        disk; at once if it already is or fsync is off."""
        if not self.fsync:
            callback()
            return
        with self._sync_cond:
            if self._synced >= seq:
                done = True
            else:
                self._waiters.append((seq, callback))
                done = False
        if done:
            callback()

    def committed(self, seg: Segment, count: int) -> None:
        """Record that ``count`` of ``seg``'s records reached the table."""
        with self._lock:
            seg.committed += count
            self._maybe_release(seg)

    # -- internals ---------------------------------------------------------
    def _rotate(self) -> None:
        if self._current is not None:
            self._current.sealed = True
            self._maybe_release(self._current)
        self._counter += 1
        path = self.directory / f"{self._prefix}-{self._counter:06d}{SUFFIX}"
        seg = Segment(path, _open_locked(path))
        self._segments.append(seg)
        self._current = seg

    def _maybe_release(self, seg: Segment) -> None:
        if seg.sealed and not seg.closed and seg.committed >= seg.appended:
            seg.path.unlink(missing_ok=True)
            os.close(seg.fd)
            seg.closed = True
            if seg in self._segments:
                self._segments.remove(seg)

    def _sync_loop(self) -> None:
        while True:
            with self._sync_cond:
                while self._synced >= self._written and not self._stopping:
                    self._sync_cond.wait()
                if self._stopping and self._synced >= self._written:
                    return
            # Sync duplicates outside the lock: appends (on the event loop)
            # must not wait for the disk, and a segment closed meanwhile must
            # not leave a reused descriptor to sync.
            with self._lock:
                target = self._written
                fds = [os.dup(s.fd) for s in self._segments if not s.closed]
            for fd in fds:
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            with self._sync_cond:
                self._synced = target
                ready = [cb for seq, cb in self._waiters if seq <= target]
                self._waiters = [(s, cb) for s, cb in self._waiters if s > target]
            for cb in ready:
                cb()


def stale_segments(directory: Path) -> Iterator[tuple[Path, int]]:
    """Segments no live process holds, each locked for the caller.

    Yields ``(path, fd)``; the caller reads the file, commits its records,
    then unlinks it and closes ``fd``.
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its writer is alive
            continue
        yield path, fd


def read_segment(path: Path) -> list[dict[str, Any]]:
    """Records of a segment; a torn last line (never answered) is skipped."""
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break  # a write cut short: its answer never went out
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return out


def now() -> float:
    """Seconds since the epoch, as written in journal records."""
    return time.time()
