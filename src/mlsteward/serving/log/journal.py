"""The local prediction journal: answered requests survive a killed process.

Before an answer goes out, its prediction records are copied into a segment
file mapped into memory (``mmap``, shared): one JSON line per request (see
:func:`expand`), no system call per request. The copied bytes are the file's
page cache: the operating system keeps them, and writes them to disk, even
when the process is killed with SIGKILL, so an answered request is never lost
with the process. Each segment's blocks are reserved when it is created
(``posix_fallocate``), so a full disk fails the request that starts a
segment instead of faulting a write into the mapping. Bytes past the last
line are zeros; a reader stops at the first zero byte (a line being copied,
or never finished by a killed process, whose answer never went out). Surviving a
machine crash needs the bytes on the disk: with ``fsync`` on, answers also
wait for a group commit (one ``fdatasync`` covers every record written while
the previous one ran).

A child process (:mod:`mlsteward.serving.log.shipper`) reads the segments back
(the page cache makes that cheap) and copies their records into the
prediction log table in batches, so a backlog waits on disk, not in the
server's memory; a segment is deleted once it is sealed and every byte of it
is committed.
Each segment is locked (``flock``) by the process writing it, so on start a
server replays only segments whose writer is gone, and replay is idempotent
(records already in the table are skipped).
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "Journal",
    "Segment",
    "entry_records",
    "expand",
    "parse_entries",
    "parse_lines",
    "read_segment",
    "request_line",
    "request_records",
    "stale_segments",
]

SUFFIX = ".jsonl"


@dataclass
class Segment:
    """One journal file, open and locked by this process."""

    path: Path
    fd: int
    #: The file mapped for writing (None once sealed) and its reserved size.
    mm: mmap.mmap | None = None
    capacity: int = 0
    #: Bytes written (always whole lines) and bytes committed to the table.
    size: int = 0
    shipped: int = 0
    sealed: bool = False
    closed: bool = False


def _open_locked(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _reserve(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of allocated, zero-filled blocks."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
    # A file system without fallocate: write the zeros (a few ms a segment).
    block = bytes(1 << 20)
    for start in range(0, size, len(block)):
        os.pwrite(fd, block[: min(len(block), size - start)], start)


class Journal:
    """Append-only segments of JSON-lines prediction records.

    Args:
        directory: Where segments live (local file system: ``flock``).
        fsync: Make :meth:`append` callers wait for an ``fdatasync``.
        segment_bytes: Size of a segment (a request's line larger than
            that gets a segment of its own size).
    """

    def __init__(
        self, directory: Path, *, fsync: bool = False, segment_bytes: int = 4 << 20
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
        #: Bytes written and not yet committed to the table (all segments).
        self.unshipped_bytes = 0
        #: Records written, as counted by the callers of :meth:`append`.
        self.records = 0
        #: The last attempt to start a segment failed (a full disk): lines
        #: still go to the current segment while they fit.
        self.stuck = False

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
                self._seal(seg)
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

        Raises:
            OSError: a new segment was needed and could not be made (a full
                disk); nothing was written, and the journal stays usable.
        """
        size = len(lines)
        with self._lock:
            seg = self._current
            assert seg is not None, "journal is not open"
            if seg.size + size > seg.capacity:
                self._rotate(size)
                seg = self._current
                assert seg is not None
            assert seg.mm is not None
            seg.mm[seg.size : seg.size + size] = lines  # a copy, no system call
            seg.size += size
            self.records += count
            self.unshipped_bytes += size
            self._written += 1
            seq = self._written
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

    def rotate(self) -> None:
        """Start a new segment now (the current one is sealed once it is
        made).

        Raises:
            OSError: it could not be made; the current segment stays.
        """
        with self._lock:
            self._rotate()

    @property
    def prefix(self) -> str:
        """File name prefix of this process's segments."""
        return self._prefix

    def offsets(self) -> dict[str, int]:
        """Bytes committed to the table, per open segment's file name."""
        with self._lock:
            return {s.path.name: s.shipped for s in self._segments if not s.closed}

    def shipped_to(self, name: str, end: int) -> None:
        """Record that segment ``name`` is committed up to byte ``end``;
        delete it if it is sealed and committed to its end."""
        with self._lock:
            for seg in self._segments:
                if seg.path.name == name and end > seg.shipped:
                    self.unshipped_bytes -= end - seg.shipped
                    seg.shipped = end
                    self._maybe_release(seg)
                    return

    # -- internals ---------------------------------------------------------
    def _rotate(self, at_least: int = 0) -> None:
        """Start a new segment, then seal the current one.

        In that order: if the new segment cannot be made (a full disk), the
        current one stays open and mapped, requests that fit its free space
        still go there, and the next request that needs a new segment tries
        again, so writing resumes as soon as space returns.
        """
        self._counter += 1
        path = self.directory / f"{self._prefix}-{self._counter:06d}{SUFFIX}"
        fd = _open_locked(path)
        capacity = max(self.segment_bytes, at_least)
        try:
            _reserve(fd, capacity)  # ENOSPC here, not SIGBUS later
            mm = mmap.mmap(fd, capacity, mmap.MAP_SHARED, mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            self.stuck = True
            raise
        self.stuck = False
        if self._current is not None:
            self._seal(self._current)
        seg = Segment(path, fd, mm, capacity)
        self._segments.append(seg)
        self._current = seg

    def _seal(self, seg: Segment) -> None:
        """No more lines go to ``seg``: unmap it and cut off its unused
        tail; delete it if it is committed to its end."""
        seg.sealed = True
        if seg.mm is not None:
            seg.mm.close()
            seg.mm = None
            if not seg.closed:
                os.ftruncate(seg.fd, seg.size)
        self._maybe_release(seg)

    def _maybe_release(self, seg: Segment) -> None:
        if seg.sealed and not seg.closed and seg.shipped >= seg.size:
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
    with open(path, "rb") as fh:
        return parse_lines(fh.read())


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    """Records of journal lines; a torn last line (never answered) and
    undecodable lines are skipped."""
    out: list[dict[str, Any]] = []
    for entry in parse_entries(data):
        out.extend(expand(entry))
    return out


def parse_entries(data: bytes) -> list[dict[str, Any]]:
    """Journal lines as written (request lines not expanded); a torn last
    line and undecodable lines are skipped."""
    out: list[dict[str, Any]] = []
    loads = orjson.loads
    end = data.find(b"\0")
    if end >= 0:  # the unwritten tail of a mapped segment, or a torn line
        data = data[:end]
    for line in data.split(b"\n")[:-1]:  # the last piece is empty or torn
        try:
            out.append(loads(line))
        except orjson.JSONDecodeError:
            continue
    return out


def entry_records(entry: dict[str, Any]) -> int:
    """How many records a journal line holds."""
    return len(entry["id"]) if entry.get("t") == "b" else 1


def request_line(
    *,
    ids: list[str],
    ts: float,
    deployment: str,
    model: str,
    versions: int | list[int],
    routes: str | list[str],
    inputs: dict[str, list[Any]],
    extra: list[dict[str, Any]] | None,
    record: bytes | None = None,
    scores: list[float],
    decisions: list[str],
    latency_ms: float,
    flags: list[dict[str, Any] | None] | None,
    reasons: list[Any] | None = None,
) -> bytes:
    """One request's records as one journal line, column by column.

    ``versions`` and ``routes`` are one value when every record shares it;
    ``flags`` is None when no record was flagged. ``record``, for a request
    of one record that is logged exactly as sent (no pii, nothing mapped),
    is its JSON object as received (no newline in it): it is written as
    ``"in1"`` without being encoded again, and ``inputs`` is not written.
    :func:`expand` turns the line back into one record per answered row.
    """
    entry: dict[str, Any] = {
        "t": "b",
        "id": ids,
        "ts": ts,
        "d": deployment,
        "m": model,
        "v": versions,
        "r": routes,
        "in": inputs if record is None else None,
        "s": scores,
        "dec": decisions,
        "ms": latency_ms,
    }
    if record is not None:  # one record, logged exactly as it was sent
        del entry["in"]
        entry["in1"] = orjson.Fragment(record)
    if extra is not None:
        entry["x"] = extra
    if flags is not None:
        entry["f"] = flags
    if reasons is not None:
        entry["rs"] = reasons
    try:
        return orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError as exc:  # an integer beyond 64 bits in a logged field
        from mlsteward.errors import InvalidInput

        raise InvalidInput(
            f"the request cannot be logged: {exc} (logged fields take integers "
            "within 64 bits)",
            field="records",
        ) from exc


def _inputs(entry: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
    """The logged inputs of a request line, one dict per record."""
    if "in1" in entry:
        rows = [entry["in1"]]
    elif not entry["in"]:
        rows = [{} for _ in range(n)]
    else:
        names = list(entry["in"])
        rows = [
            dict(zip(names, row, strict=True))
            for row in zip(*entry["in"].values(), strict=True)
        ]
    extra = entry.get("x")
    if extra is not None:
        for row, more in zip(rows, extra, strict=True):
            row.update(more)
    return rows


def request_records(
    entry: Mapping[str, Any],
) -> list[tuple[str, int, str, dict[str, Any], dict[str, Any], Any]]:
    """Per answered row of a request line (``"t": "b"``, from
    :func:`request_line`): request id, version, route, logged inputs, the
    answer (score, decision, reasons if asked) and flags."""
    ids = entry["id"]
    n = len(ids)
    v, r = entry["v"], entry["r"]
    versions = v if isinstance(v, list) else [v] * n
    routes = r if isinstance(r, list) else [r] * n
    rows = _inputs(entry, n)
    scores, decisions = entry["s"], entry["dec"]
    reasons = entry.get("rs")
    flags = entry.get("f") or [None] * n
    out = []
    for i in range(n):
        answer: dict[str, Any] = {"score": scores[i], "decision": decisions[i]}
        if reasons is not None:
            answer["reasons"] = reasons[i]
        out.append((ids[i], int(versions[i]), routes[i], rows[i], answer, flags[i]))
    return out


def expand(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per answered row of a journal line.

    A request line (``"t": "b"``, from :func:`request_line`) becomes
    prediction records ``{"t": "p", "id", "ts", "d", "m", "v", "r", "in",
    "out", "ms", "f"}``; a record line (a prediction ``"p"`` or a shadow
    output ``"s"``) is returned as it is.
    """
    if entry.get("t") != "b":
        return [entry]
    ts, d, m, ms = entry["ts"], entry["d"], entry["m"], entry["ms"]
    return [
        {
            "t": "p",
            "id": rid,
            "ts": ts,
            "d": d,
            "m": m,
            "v": version,
            "r": route,
            "in": inputs,
            "out": answer,
            "ms": ms,
            "f": flag,
        }
        for rid, version, route, inputs, answer, flag in request_records(entry)
    ]


def now() -> float:
    """Seconds since the epoch, as written in journal records."""
    return time.time()
