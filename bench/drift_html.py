"""Writing a drift report as HTML: mlsteward's page beside Evidently 0.7's.

The data and the Evidently environment are those of ``bench/monitoring.py``
(25 columns, six shifted; see its docstring to create
``bench/out/venv-evidently``). Each tool runs in its own subprocess on the
"shift" window: the drift computation once (timed, for scale), then writing
its HTML report from that result, timed (the minimum of five runs for
mlsteward, of two for Evidently). Recorded: time to write, file size, and
how many ``src=``/``href=`` in the file point at the network.

Run from the repository root::

    .venv/bin/python bench/drift_html.py                   # 100k rows
    .venv/bin/python bench/drift_html.py --sizes 1000000

Results go to ``bench/out/drift_html.json`` and a Markdown table on stdout.
Only the standard library is imported at the top: the worker runs under
either interpreter.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import monitoring as mon  # noqa: E402  (bench/monitoring.py: data, venv, machine)

REPEATS = 5
_REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def worker(tool: str, ref_path: str, cur_path: str, html_path: str) -> dict[str, Any]:
    import pandas as pd

    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    out: dict[str, Any] = {"tool": tool}
    if tool == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset

        t = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(cur, ref)
        out["drift_s"] = time.perf_counter() - t
        times = []
        for _ in range(2):
            t = time.perf_counter()
            snapshot.save_html(html_path)
            times.append(time.perf_counter() - t)
    else:
        from mlsteward.datasets.profile import compute_profile
        from mlsteward.monitoring.drift.compute import compute_drift

        profile = compute_profile(ref)
        t = time.perf_counter()
        result = compute_drift(profile, cur, reference_sample=ref)
        out["drift_s"] = time.perf_counter() - t
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            result.to_html(html_path)
            times.append(time.perf_counter() - t)
    out["html_s"] = min(times)
    out["html_s_all"] = times
    text = Path(html_path).read_text(encoding="utf-8")
    out["html_bytes"] = len(text.encode())
    out["remote_refs"] = len(_REMOTE.findall(text))
    out["peak_rss_mb"] = mon.peak_rss_mb()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--out", type=Path, default=mon.OUT / "drift_html.json")
    ap.add_argument("--worker", nargs=4, metavar=("TOOL", "REF", "CUR", "HTML"))
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if not mon.EVIDENTLY_PY.exists():
        print(f"no Evidently venv at {mon.EVIDENTLY_PY}; see bench/monitoring.py")
        return 2
    import os

    report: dict[str, Any] = {"machine": mon.machine(), "runs": []}
    report["loadavg_start"] = os.getloadavg()[0]
    for n in args.sizes:
        paths = mon.ensure_data(n)
        for tool, python in (
            ("mlsteward", Path(sys.executable)),
            ("evidently", mon.EVIDENTLY_PY),
        ):
            html = mon.OUT / f"drift-{tool}-{n}.html"
            res = _run(python, tool, str(paths["reference"]), str(paths["shift"]), html)
            report["runs"].append({"rows": n, **res})
            print(f"{n:>9} {tool}: {res['html_s']:.3f} s", file=sys.stderr)
    _open_times(report["runs"])
    report["loadavg_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    return 0


def _open_times(runs: list[dict[str, Any]]) -> None:
    """Time from navigation to the ``load`` event in headless chromium with
    the network off (the minimum of three), per page; None without
    Playwright or chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox"]
        )
        try:
            for run in runs:
                url = (mon.OUT / f"drift-{run['tool']}-{run['rows']}.html").as_uri()
                times = []
                for _ in range(3):
                    page = browser.new_context(offline=True).new_page()
                    page.goto(url, wait_until="load")
                    times.append(
                        page.evaluate(
                            "() => { const n = performance.getEntriesByType("
                            "'navigation')[0]; return n.loadEventEnd / 1000; }"
                        )
                    )
                    page.context.close()
                run["open_s"] = min(times)
        finally:
            browser.close()


def _run(python: Path, *args: Any) -> dict[str, Any]:
    # bench/monitoring.py's worker runner, pointed at this file.
    import os
    import subprocess

    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--worker", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"{m['date_utc']}, {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB, "
        f"Python {m['python']}, load average {report['loadavg_start']:.1f} at the "
        f"start and {report['loadavg_end']:.1f} at the end",
        "",
        "| rows | tool | drift (s) | write HTML (s) | file (MB) | open in chromium "
        "(s) | src/href to the network | peak RSS (MB) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['rows']:,} | {r['tool']} | {r['drift_s']:.2f} | {r['html_s']:.3f} "
            f"| {r['html_bytes'] / 1e6:.2f} | {_s(r.get('open_s'))} "
            f"| {r['remote_refs']} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
