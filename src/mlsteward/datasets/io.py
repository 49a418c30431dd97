"""Reading tables from files, and writing canonical Parquet.

This is the one place that decides which files are tables and how they are
read; registering a dataset, batch scoring, ``mlsteward drift`` and loading
outcomes all go through it, so a file one accepts the others accept too.

Accepted (by suffix, case-insensitive):

* CSV: ``.csv``, ``.txt`` (comma) and ``.tsv`` (tab);
* JSON lines: ``.jsonl``, ``.ndjson`` (one object per line);
* each of those compressed: ``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``
  (``x.csv.gz``, ``x.jsonl.zst``);
* Parquet: ``.parquet``, ``.pq``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput

__all__ = [
    "TABLE_SUFFIXES",
    "TableFormat",
    "canonical_parquet",
    "iter_table",
    "open_table",
    "read_parquet_bytes",
    "read_table",
    "table_columns",
    "table_format",
]

#: Uncompressed suffixes: (kind, separator).
_PLAIN: dict[str, tuple[str, str]] = {
    ".csv": ("csv", ","),
    ".txt": ("csv", ","),
    ".tsv": ("csv", "\t"),
    ".jsonl": ("jsonl", ""),
    ".ndjson": ("jsonl", ""),
    ".parquet": ("parquet", ""),
    ".pq": ("parquet", ""),
}
#: Compression suffixes of the text kinds. zstd is read through pyarrow,
#: which ships it; pandas would need the optional ``zstandard`` package.
_COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}
#: Every suffix a table may have, in the order errors list them.
TABLE_SUFFIXES: tuple[str, ...] = (
    *_PLAIN,
    *(
        base + comp
        for base, (kind, _) in _PLAIN.items()
        if kind != "parquet"
        for comp in _COMPRESSED
    ),
)


_EXPECTED = (
    ", ".join(b for b, (k, _) in _PLAIN.items() if k != "parquet")
    + f" (each also compressed: {', '.join(_COMPRESSED)}), .parquet or .pq"
)


@dataclass(frozen=True)
class TableFormat:
    """How a table file is read, decided by :func:`table_format`.

    Attributes:
        kind: ``"csv"``, ``"jsonl"`` or ``"parquet"``.
        suffix: The matched suffix (``".csv.gz"``).
        sep: The CSV separator.
        compression: ``"gzip"``, ``"bz2"``, ``"zip"``, ``"xz"``, ``"zstd"``
            or ``None``.
    """

    kind: str
    suffix: str
    sep: str = ","
    compression: str | None = None


def table_format(path: str | Path, field: str = "path") -> TableFormat:
    """The format of a table file by its suffix, or a clear refusal.

    Raises:
        InvalidInput: Not a table suffix; the message names the path and
            lists :data:`TABLE_SUFFIXES`, and ``field`` is the caller's.

    Example:
        >>> table_format("x.CSV.gz")
        TableFormat(kind='csv', suffix='.csv.gz', sep=',', compression='gzip')
    """
    name = Path(path).name.lower()
    for suffix in sorted(TABLE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            base = next(b for b in _PLAIN if suffix.startswith(b))
            kind, sep = _PLAIN[base]
            comp = _COMPRESSED.get(suffix[len(base) :])
            return TableFormat(kind, suffix, sep or ",", comp)
    shown = "".join(Path(name).suffixes[-2:]) or "(none)"
    raise InvalidInput(
        f"{str(path)!r} has extension {shown!r}; expected one of {_EXPECTED}",
        field=field,
        allowed=list(TABLE_SUFFIXES),
    )


def _existing(path: str | Path, field: str) -> tuple[Path, TableFormat]:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{field} {str(p)!r} does not exist", field=field)
    return p, table_format(p, field)


@contextmanager
def open_table(raw: IO[bytes], fmt: TableFormat) -> Iterator[tuple[Any, str | None]]:
    """``(source, compression)`` for pandas from an open binary file.

    The caller keeps ``raw`` (its ``tell()`` measures progress in bytes of
    the file); zstd is decompressed here, the rest by pandas.
    """
    if fmt.compression != "zstd":
        yield raw, fmt.compression
        return
    import pyarrow as pa

    with pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd") as stream:
        yield stream, None


def _read_text(
    source: Any,
    fmt: TableFormat,
    *,
    compression: str | None,
    chunk_rows: int | None,
    nrows: int | None = None,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    text_dtype: Any = "string",
) -> Any:
    kwargs: dict[str, Any] = {
        "compression": compression,
        "chunksize": chunk_rows,
        "nrows": nrows,
    }
    dtype = {c: text_dtype for c in text_columns}
    if fmt.kind == "jsonl":
        return pd.read_json(source, lines=True, dtype=dtype or True, **kwargs)
    wanted = set(columns) if columns is not None else None
    return pd.read_csv(
        source,
        sep=fmt.sep,
        dtype=dtype or None,
        # Only the wanted columns are parsed: wide files stay cheap.
        usecols=(lambda c: c in wanted) if wanted is not None else None,
        **kwargs,
    )


def _reading_error(
    p: Path, fmt: TableFormat, field: str, exc: Exception
) -> InvalidInput:
    if isinstance(exc, pd.errors.EmptyDataError):
        return InvalidInput(
            f"{field} {str(p)!r} is empty; expected a header row", field=field
        )
    return InvalidInput(
        f"could not read {field} {str(p)!r} as {fmt.suffix}: "
        f"{type(exc).__name__}: {exc}",
        field=field,
    )


def table_columns(path: str | Path, field: str = "path") -> list[str]:
    """The column names of a table file, reading as little as the format allows.

    Example:
        >>> table_columns("scores.csv.gz")  # doctest: +SKIP
        ['age', 'purpose']
    """
    p, fmt = _existing(path, field)
    try:
        if fmt.kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(p).schema_arrow.names)
        with p.open("rb") as raw, open_table(raw, fmt) as (source, comp):
            head = _read_text(source, fmt, compression=comp, chunk_rows=None, nrows=1)
        return [str(c) for c in head.columns]
    except InvalidInput:
        raise
    except Exception as exc:
        raise _reading_error(p, fmt, field, exc) from exc


def iter_table(
    path: str | Path,
    chunk_rows: int,
    *,
    field: str = "path",
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    text_dtype: Any = "string",
    raw: IO[bytes] | None = None,
) -> Iterator[pd.DataFrame]:
    """A table file chunk by chunk, never whole in memory.

    Args:
        path: The file.
        chunk_rows: Rows per chunk (Parquet chunks may be shorter at row group
            ends).
        field: The caller's name for the file, in errors.
        columns: Keep only these (those present, in this order); all if None.
        text_columns: Read as text, so ``"007"`` stays ``"007"`` and every
            chunk has the same types.
        text_dtype: The pandas dtype of text columns.
        raw: An already open binary handle of a text file, for callers that
            report progress by its position.

    Example:
        >>> sum(len(f) for f in iter_table("big.csv.gz", 10_000))  # doctest: +SKIP
        1000000
    """
    p, fmt = _existing(path, field)

    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        if columns is None:
            return frame
        return frame[[c for c in columns if c in frame.columns]]

    try:
        if fmt.kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(p)
            names = set(pf.schema_arrow.names)
            cols = [c for c in columns if c in names] if columns is not None else None
            # One row group at a time: iter_batches over the whole file reads
            # ahead and holds several row groups decoded at once.
            for i in range(pf.metadata.num_row_groups):
                for batch in pf.iter_batches(
                    batch_size=chunk_rows,
                    row_groups=[i],
                    columns=cols,
                    use_threads=False,
                ):
                    yield batch.to_pandas()
            return
        handle = raw if raw is not None else p.open("rb")
        with (
            handle,
            open_table(handle, fmt) as (source, comp),
            _read_text(
                source,
                fmt,
                compression=comp,
                chunk_rows=chunk_rows,
                text_columns=text_columns,
            ) as reader,
        ):
            for frame in reader:
                yield pick(frame)
    except InvalidInput:
        raise
    except Exception as exc:
        raise _reading_error(p, fmt, field, exc) from exc


def read_table(
    path: str | Path,
    field: str = "path",
    *,
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a whole table file (see the module docstring for the formats).

    Args:
        path: The file.
        field: The caller's name for the file, in errors.
        text_columns: Columns read as text (ids), where the format guesses.

    Raises:
        InvalidInput: the file is missing, of another kind, or unreadable.

    Example:
        >>> read_table("applications.csv.gz").shape  # doctest: +SKIP
        (1000, 21)
    """
    p, fmt = _existing(path, field)
    try:
        if fmt.kind == "parquet":
            return pd.read_parquet(p)
        with p.open("rb") as raw, open_table(raw, fmt) as (source, comp):
            frame = _read_text(
                source,
                fmt,
                compression=comp,
                chunk_rows=None,
                text_columns=text_columns,
            )
        return frame  # type: ignore[no-any-return]
    except Exception as exc:
        raise _reading_error(p, fmt, field, exc) from exc


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
