"""Windows of a monitor run: calendar periods and time ranges (UTC).

Labels: a calendar month is ``"2025-07"``, an ISO week ``"2025-W28"``, a day
``"2025-07-14"``; any other range ``"2025-07-01T00:00..2025-07-08T00:00"``.
A window holds the predictions with ``start <= created_at < end``.

Pure: no database, no web framework.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from mlsteward.errors import InvalidInput
from mlsteward.monitoring.models import Window

__all__ = [
    "as_utc",
    "next_period",
    "period_label",
    "period_start",
    "plan_windows",
    "range_label",
    "split_periods",
]


def as_utc(value: Any, field: str) -> dt.datetime:
    """A time-zone-aware UTC datetime from a datetime or an ISO-8601 string.

    Naive values are refused: a time without a zone is ambiguous.

    Example:
        >>> as_utc("2025-07-01T00:00:00Z", "start").isoformat()
        '2025-07-01T00:00:00+00:00'
    """
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(
                f"{field} {value!r} is not an ISO-8601 time", field=field
            ) from exc
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{field} must be a time, got {value!r}", field=field)
    if value.tzinfo is None:
        raise InvalidInput(
            f"{field} {value.isoformat()} has no time zone; give UTC, e.g. "
            "'2025-07-01T00:00:00Z'",
            field=field,
        )
    return value.astimezone(dt.UTC)


def period_start(t: dt.datetime, period: str) -> dt.datetime:
    """Start of the calendar period holding ``t``.

    Example:
        >>> period_start(dt.datetime(2025, 7, 16, 9, tzinfo=dt.UTC), "month").day
        1
    """
    day = t.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return day.replace(day=1)
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def next_period(start: dt.datetime, period: str) -> dt.datetime:
    """Start of the period after the one starting at ``start``."""
    if period == "month":
        return (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    return start + dt.timedelta(days=1)


def period_label(start: dt.datetime, period: str) -> str:
    """Label of the period starting at ``start``.

    Example:
        >>> period_label(dt.datetime(2025, 7, 14, tzinfo=dt.UTC), "week")
        '2025-W29'
    """
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m-%d")


def range_label(start: dt.datetime, end: dt.datetime) -> str:
    """A calendar month's label when ``[start, end)`` is one, else the range.

    Example:
        >>> a = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
        >>> range_label(a, dt.datetime(2025, 8, 1, tzinfo=dt.UTC))
        '2025-07'
    """
    for period in ("month", "week", "day"):
        if period_start(start, period) == start and next_period(start, period) == end:
            return period_label(start, period)
    return f"{start:%Y-%m-%dT%H:%M}..{end:%Y-%m-%dT%H:%M}"


def split_periods(start: dt.datetime, end: dt.datetime, period: str) -> list[Window]:
    """The calendar periods overlapping ``[start, end)``, clipped to it."""
    out = []
    p = period_start(start, period)
    while p < end:
        q = next_period(p, period)
        out.append(
            Window(start=max(p, start), end=min(q, end), label=period_label(p, period))
        )
        p = q
    return out


def plan_windows(
    spec: Mapping[str, Any],
    at: dt.datetime,
    explicit: tuple[Any, Any] | None = None,
) -> list[Window]:
    """Windows of one run for a ``range`` or ``period`` window spec.

    Args:
        spec: The monitor's window (see :mod:`mlsteward.monitoring.spec`).
        at: The run's time.
        explicit: ``(start, end)`` to compute instead of the spec's default
            windows; split into calendar periods for a period monitor.

    Raises:
        InvalidInput: ``start`` is not before ``end``, or times lack a zone.

    Example:
        >>> at = dt.datetime(2025, 8, 10, tzinfo=dt.UTC)
        >>> [w.label for w in plan_windows({"type": "period", "period": "month",
        ...                                 "lookback": 1}, at)]
        ['2025-07', '2025-08']
    """
    if explicit is not None:
        start, end = (
            as_utc(explicit[0], "window.start"),
            as_utc(explicit[1], "window.end"),
        )
        if not start < end:
            raise InvalidInput(
                f"window start {start.isoformat()} must be before its end "
                f"{end.isoformat()}",
                field="window",
            )
        if spec.get("type") == "period":
            return split_periods(start, end, spec["period"])
        return [Window(start=start, end=end, label=range_label(start, end))]
    if spec.get("type") == "range":
        start = at - dt.timedelta(seconds=int(spec["seconds"]))
        return [Window(start=start, end=at, label=range_label(start, at))]
    period = spec["period"]
    first = period_start(at, period)
    for _ in range(int(spec.get("lookback", 0))):
        first = period_start(first - dt.timedelta(microseconds=1), period)
    if first == at:  # a run at a period's first instant: the period just ended
        first = period_start(at - dt.timedelta(microseconds=1), period)
    out = []
    p = first
    while p < at:
        q = next_period(p, period)
        out.append(Window(start=p, end=q, label=period_label(p, period)))
        p = q
    return out
