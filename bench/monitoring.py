"""Drift on large windows: mlsteward (exact, sketch, streamed) vs Evidently 0.7.

The same drift job runs through every tool in one run, each in its own
subprocess (so peak memory is its own): a reference and a current window of
100k and 1M rows, 20 numeric and 5 categorical columns, with known shifts
injected in six named columns, plus a no-shift control. Recorded per tool:
wall time of the drift computation, one-off reference preparation, peak RSS
of the process and memory beyond the loaded data, and whether the columns it
flagged are exactly the shifted ones (and none on the control).

Evidently is never installed into the project's environment: it lives in
``bench/out/venv-evidently`` (``bench/out/`` is gitignored). Create it with::

    python3.11 -m venv bench/out/venv-evidently
    bench/out/venv-evidently/bin/pip install "evidently==0.7.23" "pandas<3" pyarrow

(evidently 0.7.23 imports a pandas 2 internal, hence ``pandas<3``.) Then::

    .venv/bin/python bench/monitoring.py                 # 100k and 1M rows
    .venv/bin/python bench/monitoring.py --sizes 100000  # quicker

Results go to ``bench/out/monitoring.json`` and a Markdown table on stdout.
This module imports only the standard library at the top so the worker
mode runs under either interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = OUT / "monitoring-data"
EVIDENTLY_PY = OUT / "venv-evidently" / "bin" / "python"
PROJECT_PY = HERE.parent / ".venv" / "bin" / "python"
DATA_VERSION = 2

N_NUMERIC = 20
N_CATEGORICAL = 5
#: The injected shifts, by column. Everything else keeps its distribution.
SHIFTS = {
    "num_00": "normal mean +0.75 sd",
    "num_05": "lognormal log-mean +0.4 (0.67 sd)",
    "num_10": "poisson mean 30 -> 34 (0.73 sd)",
    "num_15": "share of zeros 30% -> 55%",
    "cat_1": "20 points of share moved from the first to the last category",
    "cat_3": "a new category at 15%",
}
MLSTEWARD_TOOLS = ("mlsteward-exact", "mlsteward-sketch", "mlsteward-stream")
TOOLS = (*MLSTEWARD_TOOLS, "evidently")
#: mlsteward runs take the minimum of REPEATS (the machine is shared, and the
#: minimum is the least disturbed run); Evidently runs once (it takes minutes).
REPEATS = 5


# -- data ------------------------------------------------------------------------
def make_frame(n: int, seed: int, shift: bool) -> Any:
    """20 numeric (normal, lognormal amounts, integer counts, zero-inflated
    balances; two with 5% missing) and 5 categorical columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        name = f"num_{i:02d}"
        on = shift and name in SHIFTS
        kind = i % 4
        if kind == 0:
            x = rng.normal(50.0 + (7.5 if on else 0.0), 10.0, n)
        elif kind == 1:
            x = rng.lognormal(8.0 + (0.4 if on else 0.0), 0.6, n)
        elif kind == 2:
            x = rng.poisson(34 if on else 30, n).astype(np.float64)
        else:
            zero = rng.random(n) < (0.55 if on else 0.30)
            x = np.where(zero, 0.0, rng.gamma(2.0, 500.0, n))
        if i in (6, 13):
            x[rng.random(n) < 0.05] = np.nan
        cols[name] = x
    for j in range(N_CATEGORICAL):
        name = f"cat_{j}"
        levels = np.array([f"{name}_{k}" for k in range(4 + j)])
        p = np.linspace(2.0, 1.0, levels.size)
        p /= p.sum()
        if shift and name == "cat_1":
            p[0] -= 0.2
            p[-1] += 0.2
        values = levels[rng.choice(levels.size, n, p=p)].astype(object)
        if shift and name == "cat_3":
            values[rng.random(n) < 0.15] = f"{name}_new"
        cols[name] = values
    return pd.DataFrame(cols)


def ensure_data(n: int) -> dict[str, Path]:
    d = DATA / f"v{DATA_VERSION}-{n}"
    paths = {k: d / f"{k}.parquet" for k in ("reference", "shift", "control")}
    if all(p.exists() for p in paths.values()):
        return paths
    d.mkdir(parents=True, exist_ok=True)
    make_frame(n, 1, False).to_parquet(paths["reference"], row_group_size=100_000)
    make_frame(n, 2, True).to_parquet(paths["shift"], row_group_size=100_000)
    make_frame(n, 3, False).to_parquet(paths["control"], row_group_size=100_000)
    return paths


# -- measuring inside a worker --------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(
    tool: str, ref_path: str, cur_path: str, profile_path: str
) -> dict[str, Any]:
    import pandas as pd

    out: dict[str, Any] = {
        "tool": tool,
        "rss_start_mb": rss_mb(),
        "loadavg_start": os.getloadavg()[0],
    }
    t = time.perf_counter()
    if tool == "evidently":
        ref = pd.read_parquet(ref_path)
        cur = pd.read_parquet(cur_path)
    elif tool == "mlsteward-exact":
        ref = pd.read_parquet(ref_path)
        cur = pd.read_parquet(cur_path)
        profile = json.loads(Path(profile_path).read_text())
    elif tool == "mlsteward-sketch":
        cur = pd.read_parquet(cur_path)
        profile = json.loads(Path(profile_path).read_text())
    elif tool == "mlsteward-stream":
        profile = json.loads(Path(profile_path).read_text())
    elif tool == "profile":
        ref = pd.read_parquet(ref_path)
    else:
        raise SystemExit(f"unknown tool {tool}")
    out["load_s"] = time.perf_counter() - t
    out["rss_loaded_mb"] = rss_mb()

    if tool == "evidently":
        out.update(_evidently(ref, cur))
    elif tool == "profile":
        from mlsteward.datasets.profile import compute_profile

        t = time.perf_counter()
        profile = compute_profile(ref)
        out["profile_s"] = time.perf_counter() - t
        text = json.dumps(profile)
        out["profile_json_mb"] = len(text) / 2**20
        Path(profile_path).write_text(text)
    else:
        out.update(
            _mlsteward(
                tool, profile, locals().get("ref"), locals().get("cur"), cur_path
            )
        )
    out["peak_rss_mb"] = peak_rss_mb()
    out["loadavg_end"] = os.getloadavg()[0]
    return out


def _evidently(ref: Any, cur: Any) -> dict[str, Any]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t, c = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    drift_s, cpu_s = time.perf_counter() - t, time.process_time() - c
    flagged: list[str] = []
    methods: dict[str, str] = {}
    dataset_drift = None
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            method, thr, value = cfg["method"], cfg["threshold"], m["value"]
            methods[cfg["column"]] = method
            # p-value tests flag below the threshold, distances at or above it
            hit = value < thr if "p_value" in method else value >= thr
            if hit:
                flagged.append(cfg["column"])
        elif cfg.get("type", "").endswith("DriftedColumnsCount"):
            dataset_drift = m["value"]["share"] >= cfg["drift_share"]
    return {
        "drift_s": drift_s,
        "cpu_s": cpu_s,
        "flagged": sorted(flagged),
        "dataset_drift": dataset_drift,
        "methods": sorted(set(methods.values())),
    }


def _mlsteward(
    tool: str, profile: dict[str, Any], ref: Any, cur: Any, cur_path: str
) -> dict[str, Any]:
    import tracemalloc

    from mlsteward.monitoring.drift.compute import compute_drift, exact_reference

    out: dict[str, Any] = {}
    sample = None
    if tool == "mlsteward-exact":
        t = time.perf_counter()
        sample = exact_reference(ref)
        out["prepare_s"] = time.perf_counter() - t
        out["rss_prepared_mb"] = rss_mb()

    def window() -> Any:
        if tool != "mlsteward-stream":
            return cur
        import pyarrow.parquet as pq

        # One row group at a time, as `mlsteward drift` reads: iter_batches
        # over the whole file reads ahead and holds far more than a batch.
        pf = pq.ParquetFile(cur_path)
        return (
            b.to_pandas()
            for i in range(pf.metadata.num_row_groups)
            for b in pf.iter_batches(
                batch_size=100_000, row_groups=[i], use_threads=False
            )
        )

    times, cpus = [], []
    result = None
    for _ in range(REPEATS):
        t, c = time.perf_counter(), time.process_time()
        result = compute_drift(profile, window(), reference_sample=sample)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    assert result is not None
    out["drift_s"] = min(times)
    out["drift_s_median"] = statistics.median(times)
    out["drift_s_all"] = times
    out["cpu_s"] = min(cpus)
    tracemalloc.start()
    compute_drift(profile, window(), reference_sample=sample)
    out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["flagged"] = sorted(result.drifted)
    out["watched"] = sorted(result.watched)
    out["dataset_drift"] = result.verdict == "drift"
    out["verdict"] = result.verdict
    ks = [r.error_bound for r in result.rows if r.method == "ks" and r.error_bound]
    out["ks_error_bound_max"] = max(ks, default=0.0)
    out["ks"] = {r.column: r.statistic for r in result.rows if r.method == "ks"}
    return out


# -- the driver -------------------------------------------------------------------
def run_worker(python: Path, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",  # iterative-telemetry (Evidently's dependency)
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--worker", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem, 1),
        "python": platform.python_version(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT / "monitoring.json")
    ap.add_argument("--worker", nargs=4, metavar=("TOOL", "REF", "CUR", "PROFILE"))
    ap.add_argument("--render", type=Path, help="print the tables of a saved run")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return 0

    tools = list(MLSTEWARD_TOOLS)
    if not args.no_evidently:
        if not EVIDENTLY_PY.exists():
            print(f"no Evidently venv at {EVIDENTLY_PY}; see the module docstring")
            return 2
        tools.append("evidently")
    report: dict[str, Any] = {"machine": machine(), "shifts": SHIFTS, "runs": []}
    expected = sorted(SHIFTS)
    for n in args.sizes:
        paths = ensure_data(n)
        profile_path = paths["reference"].with_name("profile.json")
        prof = run_worker(
            PROJECT_PY, "profile", str(paths["reference"]), "-", str(profile_path)
        )
        report["runs"].append({"rows": n, "scenario": "reference", **prof})
        print(f"{n:>9} profile: {prof['profile_s']:.2f} s", file=sys.stderr)
        for scenario in ("shift", "control"):
            want = expected if scenario == "shift" else []
            for tool in tools:
                python = EVIDENTLY_PY if tool == "evidently" else PROJECT_PY
                res = run_worker(
                    python,
                    tool,
                    str(paths["reference"]),
                    str(paths[scenario]),
                    str(profile_path),
                )
                res.update(rows=n, scenario=scenario, correct=res["flagged"] == want)
                report["runs"].append(res)
                print(
                    f"{n:>9} {scenario:<8} {tool:<17} {res['drift_s']:8.3f} s  "
                    f"peak {res['peak_rss_mb']:7.0f} MB  flagged {res['flagged']}",
                    file=sys.stderr,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    runs = [r for r in report["runs"] if r["scenario"] != "reference"]
    ev = {(r["rows"], r["scenario"]): r for r in runs if r["tool"] == "evidently"}
    lines = [
        "| rows | window | tool | wall (s) | x Evidently (wall) | CPU (s) | "
        "x Evidently (CPU) | peak RSS (MB) | beyond loaded data (MB) | "
        "flagged exactly the shifts | load avg |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in runs:
        base = r.get("rss_prepared_mb", r["rss_loaded_mb"])
        beyond = r.get("traced_peak_mb", r["peak_rss_mb"] - base)
        e = ev.get((r["rows"], r["scenario"]))
        mine = e is not None and r["tool"] != "evidently"
        ratio = f"{e['drift_s'] / r['drift_s']:.0f}" if mine else "-"
        cpu = r.get("cpu_s")
        cpu_ratio = (
            f"{e['cpu_s'] / cpu:.0f}" if mine and cpu and e.get("cpu_s") else "-"
        )
        cpu_txt = f"{cpu:.3f}" if cpu else "-"
        ok = "yes" if r["correct"] else f"no: {r['flagged']}"
        lines.append(
            f"| {r['rows']:,} | {r['scenario']} | {r['tool']} | {r['drift_s']:.3f} | "
            f"{ratio} | {cpu_txt} | {cpu_ratio} | {r['peak_rss_mb']:.0f} | "
            f"{beyond:.0f} | {ok} | "
            f"{r.get('loadavg_start', float('nan')):.1f} |"
        )
    lines += [
        "",
        "| rows | window | KS: max sketch bound | max abs(sketch - exact) | "
        "profile (s) | exact prep (s) | profile JSON (MB) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    prof = {r["rows"]: r for r in report["runs"] if r["scenario"] == "reference"}
    for n in sorted({r["rows"] for r in runs}):
        for scenario in ("shift", "control"):
            by = {
                r["tool"]: r
                for r in runs
                if r["rows"] == n and r["scenario"] == scenario
            }
            ex, sk = by["mlsteward-exact"], by["mlsteward-sketch"]
            err = max(abs(sk["ks"][c] - ex["ks"][c]) for c in ex["ks"])
            lines.append(
                f"| {n:,} | {scenario} | {sk['ks_error_bound_max']:.1e} | "
                f"{err:.1e} | {prof[n]['profile_s']:.2f} | {ex['prepare_s']:.2f} | "
                f"{prof[n]['profile_json_mb']:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
