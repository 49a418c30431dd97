"""Reading CSV and Parquet files in chunks, and writing outputs incrementally.

Nothing here holds a whole file in memory: Parquet is read batch by batch
(:meth:`pyarrow.parquet.ParquetFile.iter_batches`) and CSV with pandas'
``chunksize``; outputs are appended chunk by chunk to a temporary file that
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

from mlsteward.errors import InvalidInput

__all__ = [
    "FORMATS",
    "ChunkReader",
    "OutputWriter",
    "table_format",
]

#: File extensions batch scoring reads and writes, and their formats.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: Path, field: str) -> str:
    """``"csv"`` or ``"parquet"`` by the file's extension, or InvalidInput."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{field} {str(path)!r} has extension {path.suffix!r}; expected one of "
            f"{sorted(FORMATS)}",
            field=field,
        )
    return fmt


class ChunkReader:
    """The chosen columns of a CSV or Parquet file, chunk by chunk.

    Opening it checks what can be checked without reading the rows: the file
    exists, its format, that it can be opened, and that every needed column
    is in it.

    Args:
        path: The file.
        columns: Columns to read, in order; all must be present.
        chunk_size: Rows per chunk (Parquet batches may be shorter at row
            group ends).
        text_columns: Columns of a CSV file read as text rather than
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
        self.format = table_format(path, "input")
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
        try:
            if self.format == "parquet":
                self._parquet = pq.ParquetFile(self.path)
                return list(self._parquet.schema_arrow.names)
            header = pd.read_csv(self.path, nrows=0)
            return [str(c) for c in header.columns]
        except pd.errors.EmptyDataError as exc:
            raise InvalidInput(
                f"input {str(self.path)!r} is empty; expected a header row",
                field="input",
            ) from exc
        except Exception as exc:
            raise InvalidInput(
                f"could not read {str(self.path)!r} as {self.format}: "
                f"{type(exc).__name__}: {exc}",
                field="input",
            ) from exc

    def total_rows(self) -> int | None:
        """Rows in the file: exact for Parquet; for CSV the count of line
        breaks after the header (quoted line breaks count too, so it is an
        estimate)."""
        if self._parquet is not None:
            return int(self._parquet.metadata.num_rows)
        lines = 0
        last = b"\n"
        with open(self.path, "rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - 1, 0)

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
        with pd.read_csv(
            self.path,
            usecols=self.columns,
            dtype={c: str for c in self.text_columns},
            chunksize=self.chunk_size,
        ) as reader:
            for frame in reader:
                yield frame[self.columns]


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
        self.format = table_format(path, "output")
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
