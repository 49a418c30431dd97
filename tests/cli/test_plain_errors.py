"""User errors and missing extras read as sentences, never as tracebacks, and
user text prints as written (square brackets included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.test_cli import home, run  # noqa: F401  (fixture)

# Runs the CLI with the named packages made unimportable, as on a machine
# where the extra was never installed.
_WITHOUT = (
    "import sys\n"
    "for m in sys.argv[1].split(','): sys.modules[m] = None\n"
    "sys.argv = ['mlsteward', *sys.argv[2:]]\n"
    "from mlsteward.cli import main\n"
    "main()\n"
)


def without(
    where: Path, missing: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, missing, *args],
        env={**base, "MLSTEWARD_HOME": str(where), "MLSTEWARD_ACTOR": "cli", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    return " ".join(proc.stderr.split())


def test_a_postgres_url_without_psycopg_says_what_to_install(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone@127.0.0.1:5432/nowhere"
    out = without(tmp_path, "psycopg", "models", "list", MLSTEWARD_DB_URL=url)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "pip install 'mlsteward[postgres]'" in _said(out)


def test_drift_on_dask_without_dask_says_what_to_install(
    home: Path,  # noqa: F811
    credit,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    path = tmp_path / "apps.csv"
    credit.head(50).to_csv(path, index=False)
    out = without(
        home, "dask,distributed", "drift", str(path), str(path), "--engine", "dask"
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "pip install 'mlsteward[dask]'" in _said(out)


def test_an_unreachable_database_is_a_sentence(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"  # nothing listens on 1
    out = without(tmp_path, "nothing_at_all", "models", "list", MLSTEWARD_DB_URL=url)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "cannot use the database (MLSTEWARD_DB_URL)" in _said(out)


def test_brackets_in_user_text_survive(home: Path) -> None:  # noqa: F811
    text = "Why is age not an input? [urgent] [bold]not bold[/]"
    run(home, "comments", "add", "credit-risk/1", "-m", text)
    listed = run(home, "comments", "list", "credit-risk/1").stdout
    assert text in listed


def test_a_bad_value_is_named_with_its_row_and_column(
    home: Path,  # noqa: F811
    credit,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    data = credit.head(10).copy()
    data["duration_in_month"] = data["duration_in_month"].astype(object)
    data.loc[5, "duration_in_month"] = "six"
    src = tmp_path / "apps.csv"
    data.to_csv(src, index=False)
    out = run(
        home, "score", "credit-risk/1", str(src), str(tmp_path / "o.csv"), ok=False
    )
    assert out.returncode == 2, out.stderr
    assert "row 6, column 'duration_in_month'" in _said(out)
    assert "found 'six'" in _said(out)


@pytest.mark.parametrize(
    ("label", "shown"), [(2.0, "row 2 has 2.0"), ("x", "row 2 has 'x'")]
)
def test_a_bad_label_is_shown_as_written(label: object, shown: str) -> None:
    import pandas as pd

    from mlsteward.errors import InvalidInput
    from mlsteward.monitoring.outcomes import _labels

    with pytest.raises(InvalidInput) as info:
        _labels(pd.Series([1, label, 0], dtype=object if label == "x" else "float64"))
    assert shown in info.value.message and "np." not in info.value.message
