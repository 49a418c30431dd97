"""Reading tables from files and writing canonical Parquet."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput

__all__ = ["canonical_parquet", "read_parquet_bytes", "read_table"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, choosing by extension.

    Raises:
        InvalidInput: the file is missing, of another kind, or unreadable.
    """
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"file {str(p)!r} does not exist", field="path")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return pd.read_csv(p)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
    except Exception as exc:
        raise InvalidInput(
            f"could not read {str(p)!r} as {suffix[1:]}: {exc}", field="path"
        ) from exc
    raise InvalidInput(
        f"file {str(p)!r} has extension {suffix!r}; expected .csv or .parquet",
        field="path",
    )


def _check_frame(df: pd.DataFrame) -> None:
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"duplicate column names: {dup}", field="columns")
    if len(df) == 0:
        raise InvalidInput("the table has no rows", field="rows")
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_float_dtype(col.dtype):
            values = col.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(values).any():
                raise InvalidInput(
                    f"column {name!r} contains infinity; expected finite numbers "
                    "or missing values",
                    field=str(name),
                )


def canonical_parquet(df: pd.DataFrame) -> bytes:
    """The canonical Parquet bytes of a frame: its identity is their sha256.

    Columns keep their order, the index is dropped, pandas' own metadata is
    stripped (it names the pandas version) and the writer options are fixed,
    so equal content gives equal bytes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_frame(df)
    frame = df.copy()
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype("string")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="zstd",
        store_schema=False,
        write_statistics=True,
        row_group_size=1_000_000,
    )
    return buf.getvalue()


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas()
