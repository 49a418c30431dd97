"""The base of every typed result: one model for service, route, SDK and CLI.

A result type is a frozen pydantic model. The same instance a service returns
is the route's ``response_model`` (so ``/openapi.json`` describes it), the
SDK's return value and, dumped with ``model_dump(mode="json")``, the CLI's
``--json`` output. The annotated field types here keep the JSON shape of the
hand-written ``to_dict`` methods they replace: datetimes as ``isoformat()``
(``+00:00``, not pydantic's ``Z``) and non-finite floats as ``null`` (JSON
has no ``NaN``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

__all__ = ["FiniteFloat", "Result", "Timestamp", "finite", "frame_of"]


def finite(value: float | None) -> float | None:
    """``value`` if it is a finite number, else ``None``.

    Example:
        >>> finite(float("nan")) is None
        True
    """
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


#: A datetime that dumps to JSON as ``datetime.isoformat()``.
Timestamp = Annotated[
    dt.datetime, PlainSerializer(_iso, return_type=str, when_used="json")
]

#: A float that dumps to JSON as ``null`` when it is NaN or infinite.
FiniteFloat = Annotated[
    float | None,
    PlainSerializer(finite, return_type=float | None, when_used="json"),
]


class Result(BaseModel):
    """Frozen base of the result types; ``to_dict()`` is the JSON dump.

    Example:
        >>> class Point(Result):
        ...     x: FiniteFloat
        >>> Point(x=float("inf")).to_dict()
        {'x': None}
    """

    # Values inside free-form dicts (metrics, params) may be NaN too.
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dump, as ``model_dump(mode="json")``; kept because
        the CLI and reports print it in many places."""
        return self.model_dump(mode="json")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def frame_of(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    """A DataFrame of ``rows`` (dicts) with ``columns``, built column by
    column. A column of timezone-aware datetimes becomes
    ``datetime64[us, UTC]`` through integer microseconds, some fifty times
    faster than pandas' inference on datetime objects; what the embedded
    services and the remote client both return.

    Example:
        >>> frame_of([{"a": 1}], ["a", "b"]).columns.tolist()
        ['a', 'b']
    """
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        stamps = [v for v in values if isinstance(v, dt.datetime) and v.tzinfo]
        if values and len(stamps) == len(values):
            micros = np.fromiter(
                ((v - _EPOCH) // _MICROSECOND for v in stamps), "int64", len(stamps)
            )
            data[c] = pd.to_datetime(micros, unit="us", utc=True)
        else:
            data[c] = values
    return pd.DataFrame(data, columns=columns)
