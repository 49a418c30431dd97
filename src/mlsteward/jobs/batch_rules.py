"""The rules an online request follows, applied to batch scoring's chunks.

One rule for missing values and one policy for unseen categories, online
(:mod:`mlsteward.serving.schema`) and in batch alike:

- a missing value where the model accepts one
  (:func:`mlsteward.registry.signature.accepts_missing`) is scored; where
  training data had none it is also flagged (``{"missing": [column]}``);
  anywhere else the batch is refused, naming the row and the column;
- a category the model never saw follows the deployment's unseen policy:
  ``reject`` refuses the batch naming the row, the column and the value;
  ``unknown`` scores it as unknown and flags the row
  (``{"unseen": {column: value}}``). A batch logged under a name that is no
  deployment follows a new deployment's default policy, ``reject``.

Each check is a vectorised pass over a column; rows are visited only where
something was found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput
from mlsteward.registry.signature import (
    MISSING_REFUSED,
    accepts_missing,
    flags_missing,
)
from mlsteward.serving.schema import UNKNOWN_CATEGORY, unseen_refused

__all__ = ["Flags", "RowRules"]

#: Per row of a chunk, what was noticed, or None; None when nothing was.
Flags = list[dict[str, Any] | None] | None


class RowRules:
    """Checks of a batch's chunks against the model and the deployment.

    Args:
        inputs: The model's signature inputs.
        categories: Known categories per categorical column (the model's).
        unseen_policy: ``reject`` or ``unknown``.
        path: The input file, as errors name it.

    Example:
        >>> rules = RowRules([{"name": "age", "kind": "numeric",
        ...     "dtype": "float64", "nullable": False, "accepts_missing": True}],
        ...     {}, "reject", "in.csv")
        >>> rules.check(0, pd.DataFrame({"age": [30.0, None]}))[1]
        [None, {'missing': ['age']}]
    """

    def __init__(
        self,
        inputs: Sequence[Mapping[str, Any]],
        categories: Mapping[str, frozenset[str]],
        unseen_policy: str,
        path: str,
    ) -> None:
        self.inputs = list(inputs)
        self.categories = {k: (v, list(v)) for k, v in categories.items()}
        self.unseen_policy = unseen_policy
        self.path = path
        #: Rows flagged so far, by what was noticed.
        self.counts = {"missing": 0, "unseen": 0}

    def check(self, start: int, frame: pd.DataFrame) -> tuple[pd.DataFrame, Flags]:
        """The chunk as the model scores it (unseen categories mapped under
        the ``unknown`` policy) and its rows' flags.

        Args:
            start: The chunk's first row (0-based) in the file.
            frame: The chunk as read.

        Raises:
            InvalidInput: A value the rules refuse; the message names the
                file, the row (from 1, also as ``file_row``), the column and
                what was expected.
        """
        flags: list[dict[str, Any] | None] = [None] * len(frame)
        for spec in self.inputs:
            self._missing(spec, start, frame, flags)
        scored = self._unseen(start, frame, flags)
        if not any(flags):
            return scored, None
        for kind in self.counts:
            self.counts[kind] += sum(1 for f in flags if f and kind in f)
        return scored, flags

    def _missing(
        self,
        spec: Mapping[str, Any],
        start: int,
        frame: pd.DataFrame,
        flags: list[dict[str, Any] | None],
    ) -> None:
        name = str(spec["name"])
        missing = frame[name].isna().to_numpy()
        if not missing.any():
            return
        rows = np.flatnonzero(missing)
        if not accepts_missing(spec):
            row = start + int(rows[0]) + 1
            what = "a number" if spec["kind"] == "numeric" else "a category"
            raise InvalidInput(
                f"{self.path!r} row {row}: column {name!r} is missing, but "
                f"{MISSING_REFUSED}; expected {what}",
                field=name,
                file_row=row,
            )
        if flags_missing(spec):
            for i in rows:
                flag = flags[i] = flags[i] or {}
                flag.setdefault("missing", []).append(name)

    def _unseen(
        self, start: int, frame: pd.DataFrame, flags: list[dict[str, Any] | None]
    ) -> pd.DataFrame:
        scored = frame
        for name, (known, listed) in self.categories.items():
            if name not in frame.columns:
                continue
            col = frame[name]
            unseen = (col.notna() & ~col.isin(listed)).to_numpy()
            if not unseen.any():
                continue
            rows = np.flatnonzero(unseen)
            if self.unseen_policy != "unknown":
                row = start + int(rows[0]) + 1
                raise unseen_refused(
                    f"{self.path!r} row {row}: column {name!r}",
                    name,
                    col.iloc[int(rows[0])],
                    known,
                    file_row=row,
                )
            if scored is frame:
                scored = frame.copy()
            scored[name] = col.where(~unseen, UNKNOWN_CATEGORY)
            for i in rows:
                flag = flags[i] = flags[i] or {}
                flag.setdefault("unseen", {})[name] = col.iloc[int(i)]
        return scored
