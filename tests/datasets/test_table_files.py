"""Every way a table file comes in accepts the same files, and refuses the
same way: registering a dataset, batch scoring's input, ``mlsteward drift``
and loading outcomes all read through :mod:`mlsteward.datasets.io`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlsteward.cli import app
from mlsteward.datasets.io import TABLE_SUFFIXES, table_format
from mlsteward.errors import InvalidInput
from mlsteward.jobs.batch_io import ChunkReader
from mlsteward.monitoring.outcomes import OutcomeService

FRAME = pd.DataFrame(
    {
        "request_id": [f"{i:03d}" for i in range(7, 19)],
        "x": [float(i) for i in range(12)],
        "label": [i % 2 for i in range(12)],
    }
)


def write(path: Path) -> Path:
    """``FRAME`` in the format the suffix names, written independently of the
    reader under test (pandas' and pyarrow's own writers)."""
    fmt = table_format(path)
    if fmt.kind == "parquet":
        FRAME.to_parquet(path)
        return path
    if fmt.kind == "csv":
        text = FRAME.to_csv(index=False, sep=fmt.sep)
    else:
        text = FRAME.to_json(orient="records", lines=True)
    if fmt.compression == "zstd":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(text.encode())
    elif fmt.compression is None:
        path.write_text(text)
    elif fmt.kind == "csv":
        FRAME.to_csv(path, index=False, sep=fmt.sep, compression=fmt.compression)
    else:
        FRAME.to_json(path, orient="records", lines=True, compression=fmt.compression)
    return path


def via_dataset(client: Any, path: Path) -> None:
    version = client.register_dataset("t", path)
    assert version.n_rows == len(FRAME)
    loaded = client.load_dataset(f"t/{version.version}")
    assert loaded["x"].tolist() == FRAME["x"].tolist()


def via_batch(client: Any, path: Path) -> None:
    reader = ChunkReader(path, ["request_id", "x"], 5, text_columns=["request_id"])
    frames = [f for _, f in reader]
    assert len(frames) == 3  # 12 rows by 5
    got = pd.concat(frames, ignore_index=True)
    assert got["request_id"].tolist() == FRAME["request_id"].tolist()  # "007"
    assert got["x"].tolist() == FRAME["x"].tolist()


def via_drift(client: Any, path: Path) -> None:
    ref = path.parent / "reference.csv"
    FRAME[["x"]].to_csv(ref, index=False)
    r = CliRunner().invoke(app, ["drift", str(ref), str(path), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert (report["verdict"], report["n_current"]) == ("stable", 12), report


def via_outcomes(client: Any, path: Path) -> None:
    # The log is empty, so a readable file is refused for its ids, read as
    # text ("007"), never for its format.
    with pytest.raises(InvalidInput, match=r"12 request id\(s\).*'007'") as info:
        OutcomeService(client.ctx).load(path)
    assert info.value.field == "request_id"


ENTRY_POINTS: dict[str, Callable[[Any, Path], None]] = {
    "dataset": via_dataset,
    "batch": via_batch,
    "drift": via_drift,
    "outcomes": via_outcomes,
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("suffix", TABLE_SUFFIXES)
def test_every_entry_point_reads_every_table_suffix(
    sqlite_client: Any, tmp_path: Path, suffix: str, entry: str
) -> None:
    ENTRY_POINTS[entry](sqlite_client, write(tmp_path / f"data{suffix}"))


def refusal(client: Any, entry: str) -> str:
    if entry == "drift":
        FRAME[["x"]].to_csv("reference.csv", index=False)
        r = CliRunner().invoke(app, ["drift", "reference.csv", "data.xlsx"])
        assert r.exit_code == 2, r.output
        return " ".join(r.stderr.split()).removeprefix("error: ")
    with pytest.raises(InvalidInput) as info:
        if entry == "dataset":
            client.register_dataset("t", Path("data.xlsx"))
        elif entry == "batch":
            ChunkReader(Path("data.xlsx"), ["x"], 5)
        else:
            OutcomeService(client.ctx).load("data.xlsx")
    assert info.value.details["allowed"] == list(TABLE_SUFFIXES)
    return " ".join(str(info.value).split())


def test_an_unknown_suffix_is_refused_the_same_way_everywhere(
    sqlite_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("data.xlsx").write_bytes(b"PK\x03\x04 not a table we read")
    messages = {entry: refusal(sqlite_client, entry) for entry in ENTRY_POINTS}
    first = messages["dataset"]
    assert first.startswith("'data.xlsx' has extension '.xlsx'; expected one of")
    for suffix in (".csv", ".tsv", ".jsonl", ".gz", ".zst", ".parquet"):
        assert suffix in first
    assert messages == dict.fromkeys(ENTRY_POINTS, first)
