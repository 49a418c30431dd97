"""Incidents as people read them: alerts ordered worst first, a summary line
and a digest message. Pure: no database, no network.

An incident is the alerts of one monitor run on one window. Its items are
ordered critical before warning, then by how far each figure is past its
alert level (:func:`excess`: 2.0 is twice the level). An item whose check
and column were also past a threshold in the window before is a *repeat*:
the digest folds repeats into one line with their count of windows in a row
instead of listing them again.

Example:
    >>> describe({"check": "drift.psi", "column": "x", "value": 0.3})
    'drift.psi on x = 0.3'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from mlsteward.monitoring.models import Incident, IncidentItem

__all__ = ["build_incident", "describe", "excess", "narrowed", "ordinal", "phrase"]

_RANK = {"warning": 1, "critical": 2}
_DRIFT = "drift on "
#: Items listed one per line in a digest; the rest are counted.
DIGEST_LINES = 10


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _judged(details: Mapping[str, Any], levels: Mapping[str, Any]) -> str:
    """How a figure was judged, in words: what it was compared with, by how
    much it moved, and where the levels are."""
    warn, alert = levels.get("warn"), levels.get("alert")
    if details.get("change") is not None and details.get("baseline") is not None:
        return (
            f" per day, {details['change']:+.0%} against the median of "
            f"{details.get('baseline_windows', 'earlier')} earlier window(s), "
            f"{_fmt(details['baseline'])} per day (warn at a change of "
            f"{warn:.0%}, alert at {alert:.0%})"
        )
    if details.get("drop") is not None:
        base = details.get("baseline_auc")
        against = f" the baseline {_fmt(base)}" if base is not None else " its baseline"
        return (
            f", {_fmt(details['drop'])} below{against} (warn at a drop of "
            f"{warn}, alert at {alert})"
        )
    return f" (warn at {warn}, alert at {alert})"


def describe(row: Mapping[str, Any]) -> str:
    """What a result row says past its threshold: the check, its column, the
    figure and the levels it is judged by (``drift.psi on x = 0.3 (...)``)."""
    details = row.get("details") or {}
    column = row["column"]
    where = "" if column == "*" else f" on {column}"
    value = _fmt(row.get("value"))
    extra = ""
    th = details.get("threshold")
    if row["check"] == "drift" and details:
        value = f"{details.get('verdict')}, drifted: {details.get('drifted')}"
    elif "watch_threshold" in details:  # a drift row: bands apply to the effect
        extra = (
            f" (effect {_fmt(details.get('effect'))}; watch "
            f"{details['watch_threshold']}, drift {details.get('threshold')}; "
            f"p adj. {_fmt(details.get('p_adjusted'))})"
        )
    elif isinstance(th, Mapping):
        levels = next(iter(th.values())) if "warn" not in th else th
        if isinstance(levels, Mapping):
            extra = _judged(details, levels)
    return f"{row['check']}{where} = {value}{extra}"


def _ratio(figure: Any, level: Any, direction: str) -> float | None:
    if not isinstance(figure, (int, float)) or not isinstance(level, (int, float)):
        return None
    if direction == "below":
        figure, level = level, figure
    if level <= 0:
        return None
    return float(figure) / float(level)


def excess(value: float | None, details: Mapping[str, Any] | None) -> float:
    """How far a figure is past its alert level: ``figure / level`` (the
    inverse where smaller is worse); 1.0 where no level is known.

    Example:
        >>> excess(0.5, {"effect": 0.5, "watch_threshold": 0.1, "threshold": 0.25})
        2.0
        >>> excess(0.6, {"threshold": {"warn": 0.9, "alert": 0.8, "direction": "below"}})
        1.333333
    """  # noqa: E501
    details = details or {}
    th = details.get("threshold")
    found: float | None = None
    if "watch_threshold" in details:
        found = _ratio(details.get("effect"), th, "above")
    elif isinstance(th, Mapping):
        levels = th if "warn" in th else next(iter(th.values()), None)
        if isinstance(levels, Mapping):
            figure = details.get("drop", details.get("change", value))
            level = levels.get("alert", levels.get("warn"))
            found = _ratio(figure, level, str(levels.get("direction", "above")))
    return 1.0 if found is None else round(found, 6)


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``22nd``.

    Example:
        >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)]
        ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd']
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def phrase(
    check: str, column: str, value: float | None, details: Mapping[str, Any] | None
) -> str:
    """The few words of an item in a summary line.

    Example:
        >>> phrase("drift", "*", 2.0, {"drifted": ["purpose", "credit_amount"]})
        'drift on purpose, credit_amount'
        >>> phrase("performance.auc", "*", 0.52,
        ...        {"threshold": {"auc_drop": {"warn": 0.03, "alert": 0.05}}})
        'performance.auc 0.52 (alert 0.05 auc_drop)'
    """
    details = details or {}
    if check == "drift" and details.get("drifted"):
        return "drift on " + ", ".join(str(c) for c in details["drifted"])
    if check.startswith("drift.") and column != "*":
        return f"drift on {column}"  # merged across drift tests in the summary
    if column != "*":
        return f"{check} on {column}"
    th = details.get("threshold")
    level = ""
    if isinstance(th, Mapping) and th:
        name, levels = ("", th) if "warn" in th else next(iter(th.items()))
        if isinstance(levels, Mapping) and levels.get("alert") is not None:
            level = f" (alert {levels['alert']}{' ' + name if name else ''})"
    return f"{check} {_fmt(value)}{level}"


def _order(items: Iterable[IncidentItem]) -> list[IncidentItem]:
    return sorted(
        items,
        key=lambda i: (-_RANK.get(i.severity, 0), -i.excess, i.check, i.column),
    )


def _counts(critical: int, warnings: int) -> str:
    parts = []
    if critical:
        parts.append(f"{critical} critical")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) or "no alerts"


def _summary(head: str, items: list[IncidentItem]) -> str:
    critical = sum(i.severity == "critical" for i in items)
    shown: list[str] = []
    drifted: list[str] = []  # one "drift on a, b" in the place of the first
    for words in dict.fromkeys(i.phrase for i in items):
        if words.startswith(_DRIFT):
            if not drifted:
                shown.append(_DRIFT)
            cols = words[len(_DRIFT) :].split(", ")
            drifted += [c for c in cols if c not in drifted]
        else:
            shown.append(words)
    if drifted:
        listed = ", ".join(drifted[:3]) + _more(len(drifted) - 3)
        shown[shown.index(_DRIFT)] = _DRIFT + listed
    tail = ", ".join(shown[:3]) + _more(len(shown) - 3)
    return f"{head}: {_counts(critical, len(items) - critical)} — {tail}"


def _more(n: int) -> str:
    """`` and 4 more`` for what a list leaves out, or nothing."""
    return f" and {n} more" if n > 0 else ""


def _message(summary: str, items: list[IncidentItem]) -> str:
    fresh = [i for i in items if i.streak <= 1]
    repeats = [i for i in items if i.streak > 1]
    lines = [summary]
    lines += [f"[{i.severity}] {i.text}" for i in fresh[:DIGEST_LINES]]
    if len(fresh) > DIGEST_LINES:
        lines.append(f"and {len(fresh) - DIGEST_LINES} more new")
    if repeats:
        folded = ", ".join(
            f"{i.check}{'' if i.column == '*' else ' on ' + i.column} "
            f"({ordinal(i.streak)} window in a row)"
            for i in repeats[:DIGEST_LINES]
        )
        more = len(repeats) - DIGEST_LINES
        lines.append(f"still past a threshold: {folded}" + _more(more))
    return "\n".join(lines)


def build_incident(
    *,
    run_id: str,
    window_label: str,
    monitor: str,
    deployment: str | None,
    seen_at: dt.datetime,
    status: str,
    items: Iterable[IncidentItem],
) -> Incident:
    """One incident from its items (any order).

    Example:
        >>> i = IncidentItem(alert_id="a", check="drift.psi", column="x",
        ...     severity="critical", value=0.5, text="drift.psi on x = 0.5",
        ...     phrase="drift on x", excess=2.0, streak=3)
        >>> inc = build_incident(run_id="r", window_label="2025-12", monitor="m",
        ...     deployment="credit-risk", seen_at=dt.datetime(2026, 1, 1),
        ...     status="sent", items=[i])
        >>> inc.summary
        'credit-risk 2025-12: 1 critical — drift on x'
        >>> inc.message.splitlines()[-1]
        'still past a threshold: drift.psi on x (3rd window in a row)'
    """
    ordered = _order(items)
    summary = _summary(f"{deployment or monitor} {window_label}", ordered)
    critical = sum(i.severity == "critical" for i in ordered)
    return Incident(
        id=f"{run_id}:{window_label}",
        monitor=monitor,
        deployment=deployment,
        run_id=run_id,
        window_label=window_label,
        seen_at=seen_at,
        critical=critical,
        warnings=len(ordered) - critical,
        repeated=sum(i.streak > 1 for i in ordered),
        status=status,
        summary=summary,
        message=_message(summary, ordered),
        items=ordered,
    )


def narrowed(incident: Incident, alert_ids: Iterable[str]) -> Incident:
    """The incident with only these alerts' items (what one sink is sent:
    a sink for critical alerts gets no warnings).

    Example:
        >>> narrowed(inc, ["a"]).items[0].alert_id  # doctest: +SKIP
        'a'
    """
    keep = set(alert_ids)
    items = [i for i in incident.items if i.alert_id in keep]
    if len(items) == len(incident.items):
        return incident
    return build_incident(
        run_id=incident.run_id,
        window_label=incident.window_label,
        monitor=incident.monitor,
        deployment=incident.deployment,
        seen_at=incident.seen_at,
        status=incident.status,
        items=items,
    )
