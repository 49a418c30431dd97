"""A full disk under the journal: refused with 503, never answered unlogged,
and serving resumes by itself once space returns.

The journal lives on a small tmpfs of the test's own, filled up with a
ballast file; a real ``mlsteward serve`` process writes to it.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import require_or_skip
from tests.serving.servers import FEATURE_EXTRA, Server, wait_for

from mlsteward.serving.log.journal import Journal

MiB = 1 << 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted at the end."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        require_or_skip(
            f"cannot mount a tmpfs ({made.stderr.strip()}); the disk-full tests "
            "need root (or CAP_SYS_ADMIN)"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> int:
    """Write zeros to ``path`` until the disk is full; the bytes written."""
    block = bytes(64 << 10)
    written = 0
    with open(path, "wb", buffering=0) as fh:
        try:
            while True:
                written += fh.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return written


def test_a_full_disk_keeps_the_journal_usable_and_it_resumes(small_disk: Path) -> None:
    journal = Journal(small_disk / "j", segment_bytes=2 * MiB)
    journal.open()
    _fill(small_disk / "ballast")
    line = b'{"x": 1}\n'
    big = b"x" * (MiB - 1) + b"\n"
    journal.append(big, 1)
    with pytest.raises(OSError) as failed:
        journal.append(big * 2, 2)  # needs a new segment: none can be made
    assert failed.value.errno == errno.ENOSPC
    assert journal.stuck
    journal.append(line, 1)  # still fits the current segment
    assert journal.stuck
    (small_disk / "ballast").unlink()
    journal.append(big * 2, 2)  # the rotation is tried again, and works
    assert not journal.stuck
    journal.append(line, 1)
    assert journal.records == 5
    journal.close()


@pytest.mark.slow
def test_serving_on_a_full_disk_refuses_with_503_and_recovers(
    small_disk: Path,
    serving_home: Path,
    home_client: Any,
    records: list[dict[str, Any]],
) -> None:
    if not any(d.name == "cr-disk" for d in home_client.list_deployments()):
        home_client.create_deployment(
            "cr-disk", "credit-risk/1", log_columns=FEATURE_EXTRA
        )
    server = Server(
        serving_home,
        ["serve", "cr-disk"],
        MLSTEWARD_SERVING_JOURNAL_DIR=str(small_disk / "journal"),
    ).start()
    url = f"{server.url}/predict/cr-disk"
    answered: list[str] = []
    http = httpx.Client(timeout=10)

    def send(rows: list[dict[str, Any]]) -> httpx.Response:
        r = http.post(url, json=rows)
        assert r.status_code in (200, 503), r.text
        if r.status_code == 200:
            answered.extend(p["request_id"] for p in r.json()["predictions"])
        return r

    try:
        _fill(small_disk / "ballast")
        for _ in range(500):  # the 4 MiB segment fills; no other can be made
            refused = send(records[:100])
            if refused.status_code == 503:
                break
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        problem = refused.json()
        assert problem["type"].endswith("/unavailable")
        assert "journal cannot be written" in problem["detail"]
        for i in range(20):  # small ones: answered while they fit, else 503
            send(records[i : i + 1])
        ready = http.get(f"{server.url}/v2/health/ready")
        assert ready.status_code == 503
        assert ready.json()["degraded"] == ["journal"]

        (small_disk / "ballast").unlink()  # space returns
        wait_for(
            lambda: http.get(f"{server.url}/v2/health/ready").status_code == 200,
            what="readiness once space returned",
        )
        for i in range(20):
            assert send(records[i : i + 1]).status_code == 200
        assert send(records[:100]).status_code == 200
        metrics = http.get(f"{server.url}/metrics").text
        outage_lines = [m for m in metrics.splitlines() if "journal" in m]
        assert 'mlsteward_outages_total{cause="journal"} 1.0' in metrics, outage_lines
        assert 'mlsteward_degraded{cause="journal"} 0.0' in metrics, outage_lines

        def all_logged() -> bool:
            logged = home_client.predictions(deployment="cr-disk")["request_id"]
            return set(answered) <= set(logged)

        wait_for(all_logged, what="every answered record logged")
    finally:
        http.close()
        server.stop()
    out = server.output()
    assert "Traceback" not in out and "AssertionError" not in out
    assert out.count("outage began") == 1 and out.count("outage ended") == 1
    assert not os.path.ismount(small_disk / "journal")
