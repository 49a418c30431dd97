"""Reading table files in chunks, and writing outputs incrementally.

Nothing here holds a whole file in memory: inputs are read chunk by chunk
through :func:`mlsteward.datasets.io.iter_table` (so batch scoring accepts
exactly the files a dataset does: CSV, TSV, JSON lines, compressed, Parquet);
outputs (CSV or Parquet) are appended chunk by chunk to a temporary file that
is renamed into place only when everything succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlsteward.datasets.io import iter_table, table_columns, table_format
from mlsteward.errors import InvalidInput

__all__ = [
    "OUTPUT_FORMATS",
    "ChunkReader",
    "OutputWriter",
    "output_format",
]

#: File extensions batch scoring writes, and their formats.
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def output_format(path: Path, field: str = "output") -> str:
    """``"csv"`` or ``"parquet"`` by the output file's extension, or InvalidInput."""
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{field} {str(path)!r} has extension {path.suffix!r}; expected one of "
            f"{sorted(OUTPUT_FORMATS)}",
            field=field,
            allowed=sorted(OUTPUT_FORMATS),
        )
    return fmt


class ChunkReader:
    """The chosen columns of a table file, chunk by chunk.

    Opening it checks what can be checked without reading the rows: the file
    exists, its format, that it can be opened, and that every needed column
    is in it.

    Args:
        path: The file.
        columns: Columns to read, in order; all must be present.
        chunk_size: Rows per chunk (Parquet batches may be shorter at row
            group ends).
        text_columns: Columns of a text file read as text rather than
            guessed per chunk (categories, ids), so "007" stays "007" and
            every chunk has the same types.
        expected: Names for the error message: what the caller expects.

    Example:
        >>> reader = ChunkReader(Path("big.csv"), ["age"], 10_000)  # doctest: +SKIP
        >>> for start, frame in reader: ...  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        chunk_size: int,
        *,
        text_columns: Sequence[str] = (),
        expected: str = "",
    ) -> None:
        self.path = path
        self.columns = list(dict.fromkeys(columns))
        self.chunk_size = chunk_size
        self.text_columns = [c for c in text_columns if c in self.columns]
        if not path.exists():
            raise InvalidInput(f"input {str(path)!r} does not exist", field="input")
        if not path.is_file():
            raise InvalidInput(f"input {str(path)!r} is not a file", field="input")
        self.format = table_format(path, "input").kind
        self._parquet: pq.ParquetFile | None = None
        present = self._open()
        missing = [c for c in self.columns if c not in present]
        if missing:
            raise InvalidInput(
                f"input {str(path)!r} lacks column(s) {missing}"
                + (f"; {expected}" if expected else "")
                + f"; its columns: {present[:50]}",
                field=missing[0],
                missing=missing,
            )

    def _open(self) -> list[str]:
        if self.format == "parquet":
            try:
                self._parquet = pq.ParquetFile(self.path)
            except Exception as exc:
                raise InvalidInput(
                    f"could not read {str(self.path)!r} as parquet: "
                    f"{type(exc).__name__}: {exc}",
                    field="input",
                ) from exc
            return list(self._parquet.schema_arrow.names)
        return table_columns(self.path, "input")

    def total_rows(self) -> int | None:
        """Rows in the file: exact for Parquet; for plain CSV the count of
        line breaks after the header (quoted line breaks count too, so it is
        an estimate), for plain JSON lines the count of lines; ``None`` for a
        compressed file (counting would read it twice)."""
        if self._parquet is not None:
            return int(self._parquet.metadata.num_rows)
        fmt = table_format(self.path, "input")
        if fmt.compression is not None:
            return None
        lines = 0
        last = b"\n"
        with open(self.path, "rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - (1 if fmt.kind == "csv" else 0), 0)

    def __iter__(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(first row number, frame)`` per chunk; rows count from 0."""
        start = 0
        chunks = self._chunks()
        while True:
            try:
                frame = next(chunks)
            except StopIteration:
                return
            except Exception as exc:
                raise InvalidInput(
                    f"could not read {str(self.path)!r} after row {start}: "
                    f"{type(exc).__name__}: {exc}",
                    field="input",
                ) from exc
            if len(frame):
                yield start, frame.reset_index(drop=True)
                start += len(frame)

    def _chunks(self) -> Iterator[pd.DataFrame]:
        if self._parquet is not None:
            for batch in self._parquet.iter_batches(
                batch_size=self.chunk_size, columns=self.columns
            ):
                yield batch.to_pandas()
            return
        yield from iter_table(
            self.path,
            self.chunk_size,
            field="input",
            columns=self.columns,
            text_columns=self.text_columns,
            text_dtype=str,  # object columns, as the flavors expect
        )


class OutputWriter:
    """Appends frames to a temporary CSV or Parquet file; ``commit()`` renames
    it to its final name, ``abort()`` removes it.

    Args:
        path: Final path.
        temp: Where to write until ``commit()``; same folder as ``path`` so
            the rename is atomic.
        schema: Arrow schema of every frame written.
        metadata: Key-value metadata stored in a Parquet file's footer.
    """

    def __init__(
        self,
        path: Path,
        temp: Path,
        schema: pa.Schema,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.temp = temp
        self.format = output_format(path, "output")
        self.schema = schema.with_metadata(metadata or {})
        self._parquet: pq.ParquetWriter | None = None
        self._csv: Any = None
        if self.format == "parquet":
            self._parquet = pq.ParquetWriter(temp, self.schema, compression="zstd")
        else:
            self._csv = open(temp, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._csv.write(",".join(schema.names) + "\n")

    def write(self, frame: pd.DataFrame) -> None:
        if self._parquet is not None:
            table = pa.Table.from_pandas(
                frame, schema=self.schema, preserve_index=False
            )
            self._parquet.write_table(table)
        else:
            frame.to_csv(self._csv, header=False, index=False)

    def write_scores(self, ids: list[str], scores: Any, decisions: Any) -> None:
        """One chunk of a batch scoring's output: request id, score, decision."""
        names = self.schema.names
        self.write(pd.DataFrame({names[0]: ids, names[1]: scores, names[2]: decisions}))

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None

    def commit(self) -> None:
        """Close the file and move it to its final name."""
        self._close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        """Close and remove the temporary file."""
        try:
            self._close()
        finally:
            self.temp.unlink(missing_ok=True)
