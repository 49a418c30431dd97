"""``mlsteward drift REFERENCE CURRENT``: files and dataset refs, JSON, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlsteward.cli import app

runner = CliRunner()


def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    result = runner.invoke(app, ["drift", *args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    n = 20_000
    d = tmp_path_factory.mktemp("drift")
    ref = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.choice(["x", "y", "z"], n),
            "c": rng.exponential(size=n),
        }
    )
    cur = pd.DataFrame(
        {
            "a": rng.normal(0.8, 1, n),
            "b": rng.choice(["x", "y", "z", "w"], n),
            "c": rng.exponential(size=n),
        }
    )
    out = {
        "ref_parquet": d / "ref.parquet",
        "cur_parquet": d / "cur.parquet",
        "ref_csv": d / "ref.csv",
        "cur_csv": d / "cur.csv",
        "same_csv": d / "same.csv",
        "bad_csv": d / "bad.csv",
        "profile_json": d / "profile.json",
    }
    ref.to_parquet(out["ref_parquet"])
    cur.to_parquet(out["cur_parquet"], row_group_size=3000)
    ref.to_csv(out["ref_csv"], index=False)
    cur.to_csv(out["cur_csv"], index=False)
    ref.sample(frac=0.5, random_state=1).to_csv(out["same_csv"], index=False)
    bad = cur.head(100).astype({"a": object})
    bad.loc[50, "a"] = "high"
    bad.to_csv(out["bad_csv"], index=False)
    from mlsteward.datasets.profile import compute_profile

    out["profile_json"].write_text(json.dumps(compute_profile(ref)))
    return out


def test_parquet_json_report(files: dict[str, Path]) -> None:
    r = invoke(str(files["ref_parquet"]), str(files["cur_parquet"]), "--json")
    data = json.loads(r.stdout)
    assert data["verdict"] == "drift" and data["drifted"] == ["a", "b"]
    assert data["mode"] == "exact" and data["n_current"] == 20_000
    assert data["methods"] == {
        "a": ["psi", "ks"],
        "b": ["psi", "chi2"],
        "c": ["psi", "ks"],
    }
    rows = {(x["column"], x["method"]): x for x in data["rows"]}
    b_psi = rows[("b", "psi")]
    assert b_psi["unseen_current"] > 0


def test_csv_streamed_in_chunks_equals_parquet(files: dict[str, Path]) -> None:
    one = json.loads(
        invoke(str(files["ref_parquet"]), str(files["cur_parquet"]), "--json").stdout
    )
    csv = json.loads(
        invoke(
            str(files["ref_csv"]),
            str(files["cur_csv"]),
            "--chunk-rows",
            "777",
            "--json",
        ).stdout
    )
    for a, b in zip(one["rows"], csv["rows"], strict=True):
        assert (a["column"], a["method"], a["status"]) == (
            b["column"],
            b["method"],
            b["status"],
        )
        assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-12)


def test_profile_json_reference_is_sketch_mode(files: dict[str, Path]) -> None:
    data = json.loads(
        invoke(str(files["profile_json"]), str(files["cur_parquet"]), "--json").stdout
    )
    assert data["mode"] == "sketch" and data["drifted"] == ["a", "b"]


def test_method_override_columns_and_table(files: dict[str, Path]) -> None:
    r = invoke(
        str(files["ref_parquet"]),
        str(files["cur_parquet"]),
        "--method",
        "c=wasserstein,ks",
        "--json",
    )
    data = json.loads(r.stdout)
    assert data["methods"]["c"] == ["wasserstein", "ks"]
    assert data["methods"]["a"] == ["psi", "ks"]
    r = invoke(str(files["ref_parquet"]), str(files["cur_parquet"]), "--columns", "c")
    assert "verdict: stable" in r.stdout and "(0 of 1)" in r.stdout
    assert "p (Holm)" in r.stdout


def test_fail_on_drift_and_no_drift(files: dict[str, Path]) -> None:
    invoke(str(files["ref_csv"]), str(files["cur_csv"]), "--fail-on-drift", code=1)
    r = invoke(str(files["ref_csv"]), str(files["same_csv"]), "--fail-on-drift")
    assert "verdict: stable" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.csv",), "not a file"),
        (("--method", "b=ks"), "needs ordered values"),
        (("--method", "a=anova"), "unknown drift method"),
        (("--method", "oops"), "COLUMN=METHOD"),
        (("--columns", "zzz"), "not in the reference profile"),
        (("--engine", "spark"), "--engine"),
        (("--mode", "fast"), "--mode"),
    ],
)
def test_bad_input_exits_2(
    files: dict[str, Path], args: tuple[str, ...], message: str
) -> None:
    cur = str(files["cur_csv"])
    argv = [*args] if args[0].endswith(".csv") else [cur, *args]
    r = invoke(str(files["ref_csv"]), *argv, code=2)
    assert message in r.stderr


def test_unreadable_and_non_numeric_files_exit_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    r = invoke(str(files["ref_csv"]), str(files["bad_csv"]), code=2)
    assert "must be numeric" in r.stderr and "'high'" in r.stderr
    xlsx = tmp_path / "cur.xlsx"
    xlsx.write_bytes(b"not a table")
    r = invoke(str(files["ref_csv"]), str(xlsx), code=2)
    # The one table reader's refusal, the same as every other entry point's.
    said = " ".join(r.stderr.split())
    assert "has extension '.xlsx'; expected one of .csv," in said
    assert ".jsonl" in said and ".parquet" in said
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 garbage")
    r = invoke(str(files["ref_csv"]), str(broken), code=2)
    assert "cannot read current" in r.stderr
    r = invoke("no-such-thing.csv", str(files["cur_csv"]), code=2)
    assert "neither a file nor a dataset ref" in r.stderr


def test_html_report_written_beside_the_json(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "drift report.html"
    r = invoke(
        str(files["ref_csv"]), str(files["cur_csv"]), "--html", str(out), "--json"
    )
    payload = json.loads(r.stdout)  # stdout stays the JSON alone
    said = " ".join(r.stderr.split())
    assert f"wrote the HTML report to {out.resolve()}" in said
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for row in payload["rows"]:
        assert f'data-column="{row["column"]}" data-method="{row["method"]}"' in page
        assert f'data-v="{row["statistic"]!r}"' in page
    assert f'id="verdict">{payload["verdict"]}<' in page


def test_html_into_a_missing_folder_exits_2_before_reading(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nowhere" / "drift.html"
    r = invoke(str(files["ref_csv"]), str(files["cur_csv"]), "--html", str(out), code=2)
    assert "--html" in r.stderr and "nowhere" in r.stderr
    assert not out.parent.exists()


def test_dask_engine_matches_local(files: dict[str, Path]) -> None:
    local = json.loads(
        invoke(str(files["ref_parquet"]), str(files["cur_parquet"]), "--json").stdout
    )
    dist = json.loads(
        invoke(
            str(files["ref_parquet"]),
            str(files["cur_parquet"]),
            "--engine",
            "dask",
            "--json",
        ).stdout
    )
    assert [r["statistic"] for r in dist["rows"]] == [
        r["statistic"] for r in local["rows"]
    ]


def test_dataset_ref_as_reference_in_a_real_process(
    tmp_path: Path, credit: pd.DataFrame
) -> None:
    from mlsteward.config import Settings
    from mlsteward.datasets.bundled import german_credit_roles
    from mlsteward.sdk import Client

    home = tmp_path / "home"
    client = Client(Settings(home=home, actor="setup"))
    client.register_dataset("gc", credit, roles=german_credit_roles())
    client.close()
    cur = credit.sample(frac=1.0, random_state=3).copy()
    cur["duration_in_month"] = cur["duration_in_month"] * 2  # a drifted key feature
    path = tmp_path / "cur.parquet"
    cur.to_parquet(path)
    env = {**os.environ, "MLSTEWARD_HOME": str(home)}
    env.pop("MLSTEWARD_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mlsteward", "drift", "gc/1", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "drift" and data["drifted"] == ["duration_in_month"]
    assert data["mode"] == "sketch"


def test_a_column_missing_from_current_is_not_judged_and_fails_ci(
    files: dict[str, Path], tmp_path: Path
) -> None:
    cur = pd.read_csv(files["cur_csv"]).drop(columns=["c"])
    path = tmp_path / "no_c.csv"
    cur.to_csv(path, index=False)
    out = invoke(str(files["ref_csv"]), str(path), "--fail-on-drift", code=1)
    text = " ".join(out.stdout.split())
    assert "not judged (1): c: not in the current window" in text
    wrong = invoke(str(files["ref_csv"]), str(path), "--columns", "a,zz", code=2)
    assert "it has: a, b, c" in " ".join(wrong.stderr.split())
