"""The log shipper: journal lines reach the table from a child process,
whole lines only, once each; a dead shipper is restarted; a dead server's
shipper goes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.serving.servers import wait_for

from mlsteward.serving.log.journal import Journal, expand, parse_lines, request_line
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.log.shipper import ENV_SQLITE, Shipper
from mlsteward.serving.log.writer import LogShipper
from mlsteward.serving.runtime import request_ids


def _line(n: int = 1, **over: Any) -> tuple[bytes, list[str]]:
    ids = request_ids(n)
    fields: dict[str, Any] = {
        "ids": ids,
        "ts": time.time(),
        "deployment": "credit-risk",
        "model": "credit-risk",
        "versions": 1,
        "routes": "champion",
        "inputs": {"age": list(range(n)), "housing": ["own"] * n},
        "extra": None,
        "scores": [0.25] * n,
        "decisions": ["approve"] * n,
        "latency_ms": 0.4,
        "flags": None,
    }
    fields.update(over)
    return request_line(**fields), ids


def test_request_lines_expand_to_one_record_per_row() -> None:
    line, ids = _line(
        2,
        versions=[1, 2],
        routes=["champion", "canary"],
        extra=[{"application_id": "[redacted]"}, {}],
        flags=[None, {"unseen": {"housing": "castle"}}],
        reasons=[[{"feature": "age"}], None],
    )
    records = parse_lines(line + line[:10])  # a torn last line is skipped
    assert [r["id"] for r in records] == ids
    first, second = records
    assert first["in"] == {"age": 0, "housing": "own", "application_id": "[redacted]"}
    assert (first["v"], first["r"], second["v"], second["r"]) == (
        1,
        "champion",
        2,
        "canary",
    )
    assert second["f"] == {"unseen": {"housing": "castle"}}
    assert first["out"] == {
        "score": 0.25,
        "decision": "approve",
        "reasons": [{"feature": "age"}],
    }
    # Record lines (older journals, shadow outputs) pass through unchanged.
    shadow = {"t": "s", "id": "x", "ts": 1.0, "d": "d", "m": "m", "v": 2}
    assert expand(shadow) == [shadow]


def test_a_record_sent_as_one_object_is_journaled_as_received() -> None:
    body = b'{"age": 30, "housing": "own", "application_id": "A-1"}'
    line, ids = _line(1, record=body)
    assert b'"in1":' + body in line  # embedded, not encoded again
    (record,) = parse_lines(line)
    assert record["id"] == ids[0]
    assert record["in"] == {"age": 30, "housing": "own", "application_id": "A-1"}


def test_request_ids_are_time_ordered_unique_uuid7_hex() -> None:
    first = request_ids(3)
    later = request_ids(1)
    everything = first + later
    assert len(set(everything)) == 4
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in everything)
    assert all(i[12] == "7" and i[16] in "89ab" for i in everything)  # v7, variant
    assert first[0][:12] <= later[0][:12]  # milliseconds first


def test_a_forked_child_draws_other_request_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids down the pipe, then leave at once
        os.write(write, request_ids(1)[0].encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert len(child) == 32
    assert child[16:] != request_ids(1)[0][16:]  # the random half differs


def test_ship_once_commits_whole_lines_once(tmp_path: Path, client: Any) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    segment = directory / "p1-000001.jsonl"
    one, ids1 = _line(3)
    two, ids2 = _line(1)
    segment.write_bytes(one + two[:15])  # the second still being written
    log = PredictionLog(client.ctx)
    reports: list[dict[str, Any]] = []

    def write(entries: list[dict[str, Any]]) -> None:
        log.ingest([r for e in entries for r in expand(e)])

    shipper = Shipper(directory, "p1", write, reports.append)
    assert shipper.ship_once() == 3
    assert reports == [{"seg": segment.name, "end": len(one), "n": 3}]
    assert shipper.ship_once() == 0  # nothing whole yet
    with open(segment, "ab") as fh:
        fh.write(two[15:])
    assert shipper.ship_once() == 1
    assert shipper.offsets == {segment.name: len(one) + len(two)}
    assert sorted(log.read()["request_id"]) == sorted(ids1 + ids2)
    # Another process's segment (another prefix) is not this shipper's.
    (directory / "p2-000001.jsonl").write_bytes(_line(1)[0])
    assert shipper.ship_once() == 0


def test_a_batch_stays_within_its_budget_across_segments(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    lines = [_line(1)[0] for _ in range(12)]
    width = len(lines[0])
    for k in range(3):  # three sealed segments of four lines each
        (directory / f"p1-{k:06d}.jsonl").write_bytes(
            b"".join(lines[4 * k : 4 * k + 4])
        )
    batches: list[int] = []
    shipper = Shipper(
        directory,
        "p1",
        lambda entries: batches.append(len(entries)),
        lambda message: None,
        batch_bytes=int(width * 2.5),
    )
    while shipper.ship_once():
        pass
    assert sum(batches) == 12
    assert max(batches) <= 2  # never a whole segment because a budget ran low
    # A single line longer than the whole budget still goes, alone.
    big, _ = _line(50)
    (directory / "p1-000009.jsonl").write_bytes(big)
    assert shipper.ship_once() == 50


def test_a_failed_write_is_reported_and_retried(tmp_path: Path, client: Any) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    line, ids = _line(2)
    (directory / "p1-000001.jsonl").write_bytes(line)
    log = PredictionLog(client.ctx)
    reports: list[dict[str, Any]] = []
    broken = True

    def write(entries: list[dict[str, Any]]) -> None:
        if broken:
            raise OSError("disk full")
        log.ingest([r for e in entries for r in expand(e)])

    shipper = Shipper(directory, "p1", write, reports.append)
    assert shipper.ship_once() is None
    assert reports == [{"error": "OSError: disk full"}]
    broken = False
    assert shipper.ship_once() == 2
    assert sorted(log.read()["request_id"]) == sorted(ids)


def _journal(tmp_path: Path, segment_bytes: int = 8 << 20) -> Journal:
    journal = Journal(tmp_path / "journal", segment_bytes=segment_bytes)
    journal.open()
    return journal


def test_the_shipper_process_copies_the_journal_and_stops_clean(
    tmp_path: Path, client: Any
) -> None:
    journal = _journal(tmp_path, segment_bytes=2000)  # rotates every few lines
    written: list[int] = []
    shipper = LogShipper(
        client.ctx.store, journal, flush_seconds=0.05, on_written=written.append
    )
    shipper.start()
    ids: list[str] = []
    try:
        for i in range(20):
            line, new = _line(2) if i % 2 else _line(1, record=b'{"age": %d}' % i)
            journal.append(line, len(new))
            ids += new
        wait_for(lambda: shipper.pending == 0, what="the journal copied")
        assert sum(written) == 30
        # It runs below its server's CPU priority: answers come first.
        assert shipper._proc is not None
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, shipper._proc.pid) == min(mine + 10, 19)
        # Sealed segments committed to their end are deleted at once.
        assert len(list(journal.directory.glob("*.jsonl"))) == 1
    finally:
        shipper.stop()
        journal.close()
    assert not list(journal.directory.glob("*.jsonl"))  # all of it committed
    logged = PredictionLog(client.ctx).read()
    assert sorted(logged["request_id"]) == sorted(ids)
    as_sent = logged[logged["input.housing"].isna()]  # the one-object lines
    assert sorted(as_sent["input.age"]) == list(range(0, 20, 2))


def test_a_killed_shipper_is_restarted_and_loses_nothing(
    tmp_path: Path, client: Any
) -> None:
    journal = _journal(tmp_path)
    shipper = LogShipper(client.ctx.store, journal, flush_seconds=0.05)
    shipper.start()
    try:
        first, ids1 = _line(1)
        journal.append(first, 1)
        wait_for(lambda: shipper.pending == 0, what="the first line copied")
        proc = shipper._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        second, ids2 = _line(1)
        journal.append(second, 1)
        wait_for(lambda: shipper.restarts == 1, what="the shipper restarted")
        wait_for(lambda: shipper.pending == 0, what="the second line copied")
    finally:
        shipper.stop()
        journal.close()
    logged = PredictionLog(client.ctx).read()
    assert sorted(logged["request_id"]) == sorted(ids1 + ids2)


def test_the_shipper_exits_when_its_server_is_gone(tmp_path: Path) -> None:
    (tmp_path / "journal").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlsteward.serving.log.shipper",
            "--journal",
            str(tmp_path / "journal"),
            "--prefix",
            "p1",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, ENV_SQLITE: str(tmp_path / "log.db")},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()  # what a SIGKILLed server's end of the pipe does
    assert proc.wait(timeout=30) == 0
    assert proc.stdout.read() == b""  # it wrote nothing, and left at once
    proc.stdout.close()
