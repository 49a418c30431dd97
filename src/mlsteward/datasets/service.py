"""Dataset use cases: register, look up, list and load dataset versions."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.datasets.io import canonical_parquet, read_parquet_bytes, read_table
from mlsteward.datasets.models import ColumnRole, ColumnSpec, DatasetVersion
from mlsteward.datasets.profile import compute_profile
from mlsteward.datasets.specs import RegisterDataset
from mlsteward.datasets.tables import dataset_versions as t
from mlsteward.errors import InvalidInput, NotFound
from mlsteward.identity.access import internal, use_case
from mlsteward.names import parse_ref
from mlsteward.store import audit, utcnow

__all__ = ["DatasetService", "column_kind"]

# Roles whose values are profiled. ids and pii are never profiled: a profile
# of a pii column would leak the values it holds.
_PROFILED_ROLES = (ColumnRole.FEATURE, ColumnRole.TARGET, ColumnRole.PROTECTED)


def column_kind(series: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "timestamp"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    return "categorical"


def _row_to_version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row.name,
        version=row.version,
        sha256=row.sha256,
        n_rows=row.n_rows,
        n_columns=row.n_columns,
        columns=[ColumnSpec(**c) for c in row.columns],
        profile=row.profile,
        created_at=row.created_at,
        created_by=row.created_by,
        description=row.description or "",
        tags=row.tags or {},
    )


class DatasetService:
    """Register and read dataset versions.

    Example:
        >>> svc = DatasetService(ctx)  # doctest: +SKIP
        >>> spec = RegisterDataset(name="german-credit", roles={"bad": "target"})
        >>> v = svc.register(spec, df)  # doctest: +SKIP
        >>> v.ref  # doctest: +SKIP
        'german-credit/1'
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- use cases --------------------------------------------------------
    @use_case("datasets.register", "developer")
    def register(
        self, spec: RegisterDataset, data: pd.DataFrame | str | Path
    ) -> DatasetVersion:
        """Register a table as a version of dataset ``spec.name``.

        Columns not named in ``spec.roles`` are features. Registering content
        that this name already holds returns the existing version unchanged.

        Args:
            spec: Name, column roles, description and tags
                (:class:`~mlsteward.datasets.specs.RegisterDataset`).
            data: The table: a DataFrame, or a file (CSV, JSON lines,
                Parquet, compressed or not).

        Raises:
            InvalidInput: A role names a column the table does not have.

        Example:
            >>> svc.register(RegisterDataset(name="gc", roles={"bad": "target"}),
            ...              df)  # doctest: +SKIP
        """
        name, description, tags = spec.name, spec.description, spec.tags
        df = data if isinstance(data, pd.DataFrame) else read_table(data)
        columns = self._specs(df, spec.roles, spec.bands)
        payload = canonical_parquet(df)
        from mlsteward.artifacts import sha256_hex

        digest = sha256_hex(payload)
        with self.ctx.store.read() as session:
            existing = session.execute(
                select(t).where(t.c.name == name, t.c.sha256 == digest)
            ).first()
        if existing is not None:
            return _row_to_version(existing)
        profiled = [
            c
            for c in columns
            if c.role in _PROFILED_ROLES and c.kind in ("numeric", "categorical")
        ]
        profile = compute_profile(
            df[[c.name for c in profiled]], {c.name: c.kind for c in profiled}
        )
        # Artifact first: an unreferenced blob is harmless, a row without its
        # blob is not.
        self.ctx.artifacts.put(payload)
        with self.ctx.store.unit_of_work() as session:
            again = session.execute(
                select(t).where(t.c.name == name, t.c.sha256 == digest)
            ).first()
            if again is not None:  # a concurrent writer got there first
                return _row_to_version(again)
            version = (
                session.execute(
                    select(func.max(t.c.version)).where(t.c.name == name)
                ).scalar()
                or 0
            ) + 1
            values = {
                "name": name,
                "version": version,
                "sha256": digest,
                "n_rows": len(df),
                "n_columns": df.shape[1],
                "columns": [c.to_dict() for c in columns],
                "profile": profile,
                "created_at": utcnow(),
                "created_by": self.ctx.actor,
                "description": description,
                "tags": dict(tags),
            }
            session.execute(t.insert().values(**values))
            audit.record(
                session,
                actor=self.ctx.actor,
                action="dataset.registered",
                object_type="dataset_version",
                object_id=f"{name}/{version}",
                details={"sha256": digest, "n_rows": len(df)},
            )
            row = session.execute(
                select(t).where(t.c.name == name, t.c.version == version)
            ).one()
            return _row_to_version(row)

    @use_case("datasets.get", "viewer")
    def get(self, ref: str) -> DatasetVersion:
        """``name`` (latest version) or ``name/N``."""
        with self.ctx.store.read() as session:
            return self._get(session, ref)

    def _get(self, session: Session, ref: str) -> DatasetVersion:
        r = parse_ref(ref, "dataset")
        if r.alias is not None:
            raise InvalidInput(
                f"dataset {ref!r}: datasets have no aliases; use 'name' or 'name/N'",
                field="dataset",
            )
        found = self.find(r.name, r.version, session=session)
        if found is None:
            known = (
                session.execute(
                    select(t.c.name).distinct().order_by(t.c.name).limit(20)
                )
                .scalars()
                .all()
            )
            raise NotFound(
                f"dataset {ref!r} not found; known datasets: {list(known) or 'none'}",
                field="dataset",
            )
        return found

    @internal("resolves a dataset reference for other services")
    def find(
        self, name: str, version: int | None = None, *, session: Session | None = None
    ) -> DatasetVersion | None:
        """Version ``version`` of dataset ``name`` (the latest without one), or
        ``None`` if there is no such version.

        Args:
            name: The dataset's name.
            version: Its version number; default the latest.
            session: The caller's session, to read inside its transaction.

        Example:
            >>> DatasetService(ctx).find("german-credit", 2).ref  # doctest: +SKIP
            'german-credit/2'
        """
        q = select(t).where(t.c.name == name)
        if version is not None:
            q = q.where(t.c.version == version)
        with self.ctx.store.within(session) as s:
            row = s.execute(q.order_by(t.c.version.desc()).limit(1)).first()
        return None if row is None else _row_to_version(row)

    @internal("a policy names its reference data")
    def names(self, *, session: Session | None = None) -> builtins.list[str]:
        """Every dataset name, sorted (inside the caller's transaction when a
        session is given)."""
        with self.ctx.store.within(session) as s:
            q = select(t.c.name).distinct().order_by(t.c.name)
            return [str(n) for n in s.execute(q).scalars()]

    @use_case("datasets.list", "viewer")
    def list(self, name: str | None = None) -> list[DatasetVersion]:
        with self.ctx.store.read() as session:
            q = select(t).order_by(t.c.name, t.c.version)
            if name is not None:
                q = q.where(t.c.name == name)
            return [_row_to_version(r) for r in session.execute(q)]

    @use_case("datasets.load", "viewer")
    def fetch(self, ref: str) -> tuple[DatasetVersion, bytes]:
        """A version and its canonical Parquet bytes, verified against its
        sha256: what :meth:`load` reads, and what the server sends a remote
        client's ``client.datasets.load``.

        Example:
            >>> version, data = svc.fetch("german-credit/1")  # doctest: +SKIP
        """
        version = self.get(ref)
        return version, self.ctx.artifacts.get(version.sha256)

    @internal("reads what fetch, the datasets.load use case, hands over")
    def load(self, ref: str) -> pd.DataFrame:
        """The table of a version, after verifying its checksum."""
        return read_parquet_bytes(self.fetch(ref)[1])

    # -- helpers ----------------------------------------------------------
    @staticmethod
    def _specs(
        df: pd.DataFrame,
        roles: Mapping[str, ColumnRole],
        bands: Mapping[str, builtins.list[float]] | None = None,
    ) -> builtins.list[ColumnSpec]:
        # The spec checked the roles themselves; only the table knows its columns.
        columns = [str(c) for c in df.columns]
        for col in roles:
            if col not in columns:
                raise InvalidInput(
                    f"roles names column {col!r}, which the table does not have; "
                    f"columns are {columns}",
                    field=f"roles.{col}",
                )
        specs = []
        for col in df.columns:
            kind = column_kind(df[col])
            default = (
                ColumnRole.TIMESTAMP if kind == "timestamp" else ColumnRole.FEATURE
            )
            role = roles.get(str(col), default)
            specs.append(
                ColumnSpec(
                    name=str(col),
                    dtype=str(df[col].dtype),
                    role=role,
                    kind=kind,
                    bands=(bands or {}).get(str(col)),
                )
            )
        _check_bands(specs, bands or {})
        return specs


def _check_bands(
    specs: builtins.list[ColumnSpec], bands: Mapping[str, list[float]]
) -> None:
    """Bands group numeric protected columns only."""
    banded = [c.name for c in specs if c.role == "protected" and c.kind == "numeric"]
    for col in bands:
        if col not in banded:
            raise InvalidInput(
                f"bands names column {col!r}, which is not a numeric protected "
                f"column of the table; numeric protected columns are {banded}",
                field=f"bands.{col}",
                allowed=banded,
            )
