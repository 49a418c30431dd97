"""Nothing lost: every answered request is in the prediction log after the
server is killed with SIGKILL under load and started again."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serving.servers import FEATURE_EXTRA, Server, wait_for


def _load(server: Server, records: list[dict[str, Any]], answered: list[str]) -> None:
    """Send requests until the server dies; keep the ids of answered ones."""
    with httpx.Client(timeout=5) as http:
        i = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            body = records[i % 500] if i % 3 else records[i % 500 : i % 500 + 3]
            i += 1
            try:
                r = http.post(f"{server.url}/predict/cr-kill", json=body)
            except httpx.HTTPError:
                return
            assert r.status_code == 200, r.text
            out = r.json()
            rows = out.get("predictions", [out])
            answered.extend(row["request_id"] for row in rows)


@pytest.mark.slow
def test_sigkill_under_load_loses_no_answered_request(
    serving_home: Path, home_client: Any, records: list[dict[str, Any]]
) -> None:
    if not any(d.name == "cr-kill" for d in home_client.list_deployments()):
        home_client.create_deployment(
            "cr-kill", "credit-risk/1", log_columns=FEATURE_EXTRA
        )
    before = set(home_client.predictions(deployment="cr-kill")["request_id"])
    # A long flush interval: at the kill, answers are mostly only journaled.
    env = {"MLSTEWARD_SERVING_LOG_FLUSH_MS": "5000"}
    args = ["serve", "cr-kill"]
    server = Server(serving_home, args, **env).start()
    answered: list[str] = []
    threads = [
        threading.Thread(target=_load, args=(server, records, answered))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(answered) >= 300, what="300 answered records")
        server.kill()
    finally:
        server.stop()
        for t in threads:
            t.join()
    logged = set(home_client.predictions(deployment="cr-kill")["request_id"]) - before
    assert len(logged) < len(answered)  # the kill really cut the log short

    restarted = Server(serving_home, args).start()  # replays before it is ready
    try:
        logged = set(home_client.predictions(deployment="cr-kill")["request_id"])
        assert restarted.output().count("Traceback") == 0
        missing = set(answered) - logged
        assert not missing, f"{len(missing)} of {len(answered)} answered requests lost"
        journal = serving_home / "serving" / "journal"
        r = httpx.post(f"{restarted.url}/predict/cr-kill", json=records[0])
        assert r.status_code == 200
    finally:
        restarted.stop()
    # A clean stop leaves none of its journal behind: it all reached the table.
    assert restarted.proc is not None
    assert not list(journal.glob(f"{restarted.proc.pid}-*.jsonl"))
