"""Shared set-up of the monitor tests: a champion with its training data
registered, and helpers that score a simulated month into the log."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pandas as pd
import pytest

from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_BANDS,
    GERMAN_CREDIT_PROTECTED,
    german_credit_roles,
)

ROLES = german_credit_roles()
FEATURES = [c for c, r in ROLES.items() if r == "feature"]


@pytest.fixture(scope="session")
def history() -> Any:
    """Training period and four drifting months of 200 applications."""
    from mlsteward.datasets import load_german_credit
    from mlsteward.datasets.simulate import make_periods

    return make_periods(load_german_credit(), n_periods=4, rows_per_period=200, seed=7)


@pytest.fixture(scope="session")
def scorecard(history: Any) -> Any:
    from mlsteward.retraining.trainers import logistic_scorecard

    return logistic_scorecard(history.train, features=FEATURES, target="bad")


@dataclass
class World:
    client: Any
    history: Any
    dataset: Any
    version: Any

    def score(
        self, period: Any, *, outcomes: bool = True, prefix: str = "r"
    ) -> list[str]:
        """Score a period into deployment ``credit-risk``; join its outcomes."""
        frame = period.frame.reset_index(drop=True)
        ids = [f"{prefix}-{period.label}-{j:04d}" for j in range(len(frame))]
        times = [
            t.to_pydatetime() for t in pd.to_datetime(frame["applied_at"], utc=True)
        ]
        self.client.score(
            "credit-risk@champion",
            frame,
            deployment="credit-risk",
            request_ids=ids,
            timestamps=times,
            log_columns=list(GERMAN_CREDIT_PROTECTED),
        )
        if outcomes:
            self.client.load_outcomes(
                pd.DataFrame(
                    {
                        "request_id": ids,
                        "label": frame["bad"].to_numpy(),
                        "observed_at": [t + dt.timedelta(days=90) for t in times],
                    }
                )
            )
        return ids


def make_world(client: Any, history: Any, scorecard: Any) -> World:
    dv = client.register_dataset(
        "gc-train",
        history.train,
        roles={**ROLES, "applied_at": "timestamp"},
        bands=GERMAN_CREDIT_BANDS,
    )
    run = client.start_run("champion", inputs=[dv.ref])
    client.log_metrics(run.id, {"cv_auc": 0.77})
    mv = client.register_model(
        "credit-risk", scorecard, history.train[FEATURES], run_id=run.id
    )
    client.end_run(run.id)
    client.set_alias("credit-risk", "champion", mv.version)
    return World(client, history, dv, mv)


@pytest.fixture
def world(client: Any, history: Any, scorecard: Any) -> World:
    """On SQLite and PostgreSQL."""
    return make_world(client, history, scorecard)


@pytest.fixture
def sqlite_world(sqlite_client: Any, history: Any, scorecard: Any) -> World:
    return make_world(sqlite_client, history, scorecard)


class _Hook(BaseHTTPRequestHandler):
    """A webhook receiver: answers 500 while ``failures`` last, then 200;
    keeps every body."""

    failures = 0
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(500)
        else:
            self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    """A real webhook on loopback: its URL and its handler class."""
    handler = type("Hook", (_Hook,), {"failures": 0, "bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/s3cret", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
