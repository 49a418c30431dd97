"""Server time of every dashboard page on a large store.

Builds a store (SQLite by default, or ``--db-url``) with

- a year of daily monitor results: the newest ``--real-days`` windows are
  real monitor runs over the logged predictions and their outcomes (with
  their alerts); the older windows are copies of a real run's result rows
  (same checks, columns and details, values jittered), written straight
  into the results table, since running the monitor a year of days would
  take far longer than the few minutes this build is allowed;
- ``--predictions`` prediction records (default one million) spread over
  the year, inputs drawn from German credit, scored by the champion;
- two model versions evaluated on one holdout, a deployment, runs, audit
  events, an approval request.

Then it signs in through the sign-in form and times each page in process
(Starlette's test client: the time is the server's, with no network), a
first request, then the median and worst of ``--repeat`` more, in wall time
and in CPU time of the process (which a busy machine inflates less).

    .venv/bin/python bench/dashboard.py                        # 1M records
    .venv/bin/python bench/dashboard.py --predictions 200000   # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.config import Settings
from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_TARGET as TARGET,
)
from mlsteward.datasets.bundled import (
    german_credit_roles,
    load_german_credit,
)
from mlsteward.identity.service import IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser
from mlsteward.monitoring.tables import monitor_results
from mlsteward.retraining.trainers import logistic_scorecard
from mlsteward.sdk import Client
from mlsteward.serving.log.service import PredictionLog, PredictionRecord

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = MODEL = "bench"
BATCH = 20_000


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _people(settings: Settings) -> tuple[Client, dict[str, str]]:
    client = Client(settings)
    ids = IdentityService(client.ctx)
    ids.create_user(CreateUser(name="root", role="admin"), bootstrap=True)
    root = ids.create_token(CreateToken(user="root")).secret
    admin = IdentityService(client.ctx.as_principal(ids.authenticate(root)))
    admin.create_user(CreateUser(name="dev", role="developer"))
    dev = admin.create_token(CreateToken(user="dev")).secret
    return Client(settings, token=dev), {"root": root, "dev": dev}


def _models(dev: Client, frame: pd.DataFrame, features: list[str]) -> Any:
    roles = german_credit_roles()
    train = dev.register_dataset("bench-train", frame.iloc[:700], roles=roles)
    holdout = dev.register_dataset("bench-holdout", frame.iloc[700:], roles=roles)
    run = dev.start_run("bench-training", params={"C": 1.0}, inputs=[train.ref])
    for step in range(20):
        dev.log_metrics(run.id, {"loss": 0.7 / (1 + step)}, step=step)
    champion_model = logistic_scorecard(
        frame.iloc[:700], features=features, target=TARGET
    )
    champion = dev.register_model(MODEL, champion_model, frame[features], run_id=run.id)
    dev.end_run(run.id)
    challenger_model = logistic_scorecard(
        frame.iloc[100:700], features=features, target=TARGET
    )
    challenger = dev.register_model(
        MODEL, challenger_model, frame[features], parent_version=champion.version
    )
    for mv in (champion, challenger):
        dev.evaluate(mv.ref, holdout.ref, target=TARGET)
    dev.set_alias(MODEL, "champion", champion.version)
    dev.create_deployment(DEPLOYMENT, f"{MODEL}@champion")
    dev.approvals.request(ref=challenger.ref, comment="bench challenger")
    return champion_model


def _predictions(
    dev: Client,
    model: Any,
    frame: pd.DataFrame,
    features: list[str],
    n: int,
    start: dt.datetime,
    days: int,
) -> None:
    rng = np.random.default_rng(7)
    columns = [c for c in frame.columns if c != TARGET]
    pool = frame[columns].to_dict("records")
    scores = model.predict_proba(frame[features])[:, 1]
    log = PredictionLog(dev.ctx)
    seconds = days * 86400
    for first in range(0, n, BATCH):
        size = min(BATCH, n - first)
        picks = rng.integers(0, len(pool), size)
        offsets = np.sort(rng.integers(0, seconds, size))
        log.append(
            PredictionRecord(
                request_id=f"b-{first + i}",
                created_at=start + dt.timedelta(seconds=int(offsets[i])),
                deployment=DEPLOYMENT,
                model_name=MODEL,
                model_version=1,
                inputs=pool[p],
                outputs={
                    "score": float(scores[p]),
                    "decision": "approve" if scores[p] < 0.5 else "decline",
                },
                latency_ms=float(rng.gamma(2.0, 0.4)),
            )
            for i, p in enumerate(picks)
        )
        if (first // BATCH) % 10 == 0:
            _say(f"  {first + size:,} predictions")


def _outcomes(
    dev: Client, frame: pd.DataFrame, start: dt.datetime, end: dt.datetime
) -> None:
    """Outcomes for the records of ``[start, end)``, from their inputs' rows."""
    logged = PredictionLog(dev.ctx).read(deployment=DEPLOYMENT, since=start, until=end)
    by_id = dict(zip(frame["application_id"], frame[TARGET], strict=True))
    labels = logged["input.application_id"].map(by_id)
    dev.load_outcomes(
        pd.DataFrame(
            {
                "request_id": logged["request_id"],
                "label": labels.astype(int),
                "observed_at": [end + dt.timedelta(days=1)] * len(logged),
            }
        )
    )


def _copy_year(dev: Client, start: dt.datetime, days: int, real_days: int) -> int:
    """Copies of the first real run's rows into every older daily window."""
    template = dev.monitors.results(MODEL)
    first = template[template["window_label"] == template["window_label"].min()]
    monitor_id = dev.get_monitor(MODEL).id
    rng = np.random.default_rng(11)
    rows = []
    for day in range(days - real_days):
        ws = start + dt.timedelta(days=day)
        run_id = uuid.uuid4().hex
        for r in first.itertuples():
            value = None if pd.isna(r.value) else float(r.value) * rng.uniform(0.7, 1.3)
            rows.append(
                {
                    "monitor_id": monitor_id,
                    "monitor": MODEL,
                    "run_id": run_id,
                    "check": r.check,
                    "column": r.column,
                    "window_start": ws,
                    "window_end": ws + dt.timedelta(days=1),
                    "window_label": ws.strftime("%Y-%m-%d"),
                    "value": value,
                    "status": r.status,
                    "details": r.details or {},
                    "computed_at": ws + dt.timedelta(days=1),
                }
            )
    with dev.ctx.store.unit_of_work() as session:
        for i in range(0, len(rows), 5000):
            session.execute(monitor_results.insert(), rows[i : i + 5000])
    return len(rows)


def build(settings: Settings, n: int, days: int, real_days: int) -> dict[str, Any]:
    started = time.perf_counter()
    dev, tokens = _people(settings)
    frame = load_german_credit()
    roles = german_credit_roles()
    features = [c for c, r in roles.items() if r == "feature"]
    _say("models, runs, deployment")
    model = _models(dev, frame, features)
    end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    _say(f"{n:,} prediction records over {days} days")
    _predictions(dev, model, frame, features, n, start, days)
    dev.create_monitor(
        MODEL,
        deployment=DEPLOYMENT,
        model=MODEL,
        window="period:day",
        alerting={"sinks": ["log"]},
    )
    _say(f"{real_days} real monitor runs")
    for day in range(days - real_days, days):
        ws = start + dt.timedelta(days=day)
        _outcomes(dev, frame, ws, ws + dt.timedelta(days=1))
        dev.run_monitor(
            MODEL, window=(ws, ws + dt.timedelta(days=1)), at=ws + dt.timedelta(days=1)
        )
    _say("copying a real run into the older windows")
    copied = _copy_year(dev, start, days, real_days)
    return {
        "tokens": tokens,
        "copied_rows": copied,
        "result_rows": len(dev.monitors.results(MODEL, latest=False)),
        "predictions_logged": _count_predictions(dev),
        "build_seconds": time.perf_counter() - started,
    }


def _reused(settings: Settings) -> dict[str, Any]:
    """A fresh token for the developer of a store built before."""
    from mlsteward.context import Context
    from mlsteward.identity.access import Principal

    ctx = Context.from_settings(settings).as_principal(Principal("root", "admin"))
    token = IdentityService(ctx).create_token(CreateToken(user="dev")).secret
    dev = Client(settings, token=token)
    return {
        "tokens": {"dev": token},
        "result_rows": len(dev.monitors.results(MODEL, latest=False)),
        "predictions_logged": _count_predictions(dev),
    }


def _count_predictions(dev: Client) -> int:
    from sqlalchemy import func, select

    from mlsteward.serving.tables import predictions

    with dev.ctx.store.read() as session:
        return int(
            session.execute(select(func.count()).select_from(predictions)).scalar()
        )


PAGES = {
    "overview": "/ui/",
    "monitoring": f"/ui/monitoring?deployment={DEPLOYMENT}",
    "model (compare, cached after the first view)": f"/ui/models/{MODEL}",
    "models": "/ui/models",
    "runs": "/ui/runs",
    "approvals": "/ui/approvals",
    "audit (newest 200 events)": "/ui/audit",
    "jobs": "/ui/jobs",
}


def time_pages(
    settings: Settings, token: str, repeat: int
) -> dict[str, dict[str, float]]:
    import re

    from fastapi.testclient import TestClient

    from mlsteward.api.app import create_app

    out: dict[str, dict[str, float]] = {}
    with TestClient(create_app(settings)) as http:
        form = http.get("/ui/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        http.post("/ui/sign-in", data={"csrf": csrf.group(1), "token": token})
        for name, path in PAGES.items():
            t = time.perf_counter()
            first = http.get(path)
            cold = time.perf_counter() - t
            assert first.status_code == 200, (name, first.status_code, first.text[:300])
            times, cpu = [], []
            for _ in range(repeat):
                t, c = time.perf_counter(), time.process_time()
                http.get(path)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            out[name] = {
                "first_ms": 1000 * cold,
                "median_ms": 1000 * statistics.median(times),
                "max_ms": 1000 * max(times),
                "cpu_ms": 1000 * statistics.median(cpu),
                "bytes": len(first.content),
            }
            _say(
                f"{name}: {out[name]['median_ms']:.0f} ms (first {1000 * cold:.0f} ms)"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--real-days", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--db-url", default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="time the pages of a store built before"
    )
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="ms-dash-bench-"))
    fields: dict[str, Any] = {"home": str(home), "auth_required": True}
    if args.db_url:
        fields["db_url"] = args.db_url
    settings = Settings(**fields)
    built = (
        _reused(settings)
        if args.reuse
        else build(settings, args.predictions, args.days, args.real_days)
    )
    pages = time_pages(settings, built["tokens"]["dev"], args.repeat)
    report = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "store": args.db_url or "sqlite",
        "predictions": args.predictions,
        "days": args.days,
        **{k: v for k, v in built.items() if k != "tokens"},
        "pages": pages,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(report, indent=2))
    print(
        "\n| page | median (ms) | CPU, median (ms) | worst (ms) | first view (ms) "
        "| HTML bytes |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, p in pages.items():
        print(
            f"| {name} | {p['median_ms']:.0f} | {p['cpu_ms']:.0f} | "
            f"{p['max_ms']:.0f} | {p['first_ms']:.0f} | {p['bytes']:,} |"
        )
    print(json.dumps({k: v for k, v in report.items() if k != "pages"}, indent=2))


if __name__ == "__main__":
    main()
