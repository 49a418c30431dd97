"""The journal: what a live process holds is left alone; what a dead one left
is replayed once, torn last lines skipped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from mlsteward.serving.log.journal import Journal, read_segment, stale_segments
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.log.writer import replay


def _record(i: int) -> dict[str, Any]:
    return {
        "t": "p",
        "id": f"req-{i}",
        "ts": time.time(),
        "d": "credit-risk",
        "m": "credit-risk",
        "v": 1,
        "r": "champion",
        "in": {"x": i},
        "out": {"score": 0.5, "decision": "deny"},
        "ms": 1.0,
        "f": None,
    }


def _lines(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)


def test_live_segments_are_skipped_dead_ones_replayed_once(
    tmp_path: Path, sqlite_client: Any
) -> None:
    directory = tmp_path / "journal"
    live = Journal(directory)
    live.open()
    live.append(_lines([_record(0)]), 1)
    assert list(stale_segments(directory)) == []  # its writer holds the lock

    # A process that wrote two records and a torn third, then died.
    script = (
        "import fcntl, os, sys; p = sys.argv[1]; fd = os.open(p, os.O_WRONLY | "
        "os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, sys.stdin."
        "buffer.read()); os.kill(os.getpid(), 9)"
    )
    dead = directory / "999-dead-000001.jsonl"
    torn = _lines([_record(1), _record(2)]) + orjson.dumps(_record(3))[:20]
    subprocess.run([sys.executable, "-c", script, str(dead)], input=torn, check=False)
    assert [r["id"] for r in read_segment(dead)] == ["req-1", "req-2"]

    log = PredictionLog(sqlite_client.ctx)
    assert replay(log, directory) == 2
    assert not dead.exists()
    assert replay(log, directory) == 0
    assert sorted(log.read()["request_id"]) == ["req-1", "req-2"]
    # Ingesting the same records again changes nothing.
    log.ingest([_record(1)])
    assert len(log.read()) == 2
    live.close()


def test_without_fallocate_segments_are_zero_filled(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A file system that cannot fallocate (ZFS, some network mounts) still
    gets segments whose blocks exist before anything is mapped."""
    import errno
    import os

    def unsupported(fd: int, offset: int, size: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    journal = Journal(tmp_path / "journal", segment_bytes=3 << 20)
    journal.open()
    line = _lines([_record(1)])
    journal.append(line, 1)
    (segment,) = list((tmp_path / "journal").glob("*.jsonl"))
    assert segment.stat().st_size == 3 << 20
    assert segment.stat().st_blocks * 512 >= 3 << 20  # allocated, not sparse
    assert [r["id"] for r in read_segment(segment)] == ["req-1"]
    journal.close()
    assert segment.read_bytes() == line  # sealed: cut to what was written
