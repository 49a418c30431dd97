"""What a monitor is made of, validated: its window, checks and alerting.

Everything here turns user input (CLI flags, SDK arguments, REST JSON) into
the canonical dicts stored in the ``monitors`` row, or raises
:class:`~mlsteward.errors.InvalidInput` naming the field and the allowed
values. Pure: no database, no web framework.

Window (``window``)
    * ``{"type": "last_n", "n": 1000}`` or ``"last:1000"``: the newest
      ``n`` predictions before the run.
    * ``{"type": "range", "seconds": 604800}`` or ``"range:7d"``: a rolling
      time range ending at the run.
    * ``{"type": "period", "period": "month", "lookback": 1}`` or
      ``"period:month"`` (also ``week``, ``day``): calendar periods (UTC),
      the current one and ``lookback`` before it; an explicit range given to
      a run is split into such periods. Calendar months give vintage views.

Checks (``checks``): a list of names, or ``{name: options}``; see
:data:`CHECK_DEFAULTS` for every option and its default.

Alerting (``alerting``): ``{"sinks": [...], "cooldown_seconds": 86400}``.
A sink is ``"log"``, ``"webhook"`` (the URL in ``MLSTEWARD_ALERT_WEBHOOK_URL``),
``"webhook:https://..."``, ``"retrain"`` or a dict ``{"type": ...,
"url": ..., "format": "slack" | "discord" | "json", "min_severity":
"warning" | "critical"}``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from mlsteward.durations import parse_duration
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.checks import Threshold

__all__ = [
    "CHECK_DEFAULTS",
    "CHECK_NAMES",
    "PERIODS",
    "SEVERITIES",
    "SINK_TYPES",
    "fix_columns",
    "mask_url",
    "merge_checks",
    "parse_alerting",
    "parse_window",
    "threshold_of",
]

PERIODS = ("month", "week", "day")
SEVERITIES = ("warning", "critical")
SINK_TYPES = ("log", "webhook", "retrain")
WEBHOOK_FORMATS = ("slack", "discord", "json")

#: Every check, its options and their defaults. ``drift`` methods per column
#: are filled in at creation from the reference profile and then fixed.
CHECK_DEFAULTS: dict[str, dict[str, Any]] = {
    "drift": {
        "columns": None,  # None: the model's inputs found in the reference
        "methods": {},  # {column: [method, ...]}; unset columns get defaults
        "score": True,  # also the drift of the score
        "score_methods": ["psi", "ks"],
        "thresholds": {},  # {method or column: [watch, drift]}
        "alpha": 0.05,
    },
    "quality": {
        "columns": None,
        "thresholds": {
            "missing_rate": {"warn": 0.05, "alert": 0.10},
            "out_of_range": {"warn": 0.01, "alert": 0.05},
            "unseen_categories": {"warn": 0.01, "alert": 0.05},
            "schema": {"warn": None, "alert": 0.0},
            "volume": {"warn": 0.3, "alert": 0.5},
        },
    },
    "performance": {
        "min_labelled_share": 0.9,
        "baseline_auc": None,  # None: the scoring version's run metric, ...
        "baseline_metric": "cv_auc",
        "auc_drop": {"warn": 0.03, "alert": 0.05},
        "calibration": None,  # threshold on the mean absolute gap
    },
    "estimated": {
        "calibration": "none",  # or "isotonic"
        "calibration_dataset": None,  # labelled data for it; None: the reference
        "auc_drop": {"warn": 0.03, "alert": 0.05},
        "min_rows": 50,
    },
    "fairness": {
        "protected": None,  # None: the reference's protected columns
        "bands": {},  # {numeric column: [cut, ...]}
        "min_group_size": 30,
        "approval_ratio": {"warn": 0.9, "alert": 0.8},
        "tpr_difference": {"warn": 0.1, "alert": 0.2},
        "threshold": 0.5,
    },
}
CHECK_NAMES = tuple(CHECK_DEFAULTS)
_BELOW = {("fairness", "approval_ratio")}


def parse_window(value: Any) -> dict[str, Any]:
    """Canonical window dict (see the module docstring and
    :class:`~mlsteward.monitoring.specs.Window`, which validates it).

    Example:
        >>> parse_window("last:500"), parse_window("period:month")["lookback"]
        ({'type': 'last_n', 'n': 500}, 1)
    """
    from pydantic import ValidationError

    from mlsteward.monitoring.specs import Window
    from mlsteward.spec import invalid_input_of

    try:
        return Window.model_validate(value or "period:month").canonical()
    except ValidationError as exc:
        raise invalid_input_of(exc, Window) from exc


def threshold_of(checks: Mapping[str, Any], check: str, key: str) -> Threshold | None:
    """The :class:`Threshold` stored at ``checks[check][key]`` (or ``None``)."""
    raw = checks[check].get(key)
    if raw is None:
        return None
    if (check, key) in _BELOW:
        return Threshold.parse(raw, field=f"checks.{check}.{key}", direction="below")
    return Threshold.parse(raw, field=f"checks.{check}.{key}")


def merge_checks(value: Any) -> dict[str, dict[str, Any]]:
    """Defaults merged with the user's choice of checks and options.

    ``None`` means every check with its defaults; a list names the checks to
    run; a dict gives options per check (``{"fairness": {"min_group_size":
    50}}``; ``false`` leaves a check out).

    Example:
        >>> sorted(merge_checks(["drift", "quality"]))
        ['drift', 'quality']
    """
    if value is None:
        chosen: dict[str, Any] = {name: {} for name in CHECK_NAMES}
    elif isinstance(value, str):
        chosen = {n.strip(): {} for n in value.split(",") if n.strip()}
    elif isinstance(value, Mapping):
        chosen = {str(k): v for k, v in value.items() if v is not False}
    elif isinstance(value, Sequence):
        chosen = {str(n): {} for n in value}
    else:
        raise InvalidInput(
            "checks must be a list of names or an object", field="checks"
        )
    out: dict[str, dict[str, Any]] = {}
    for name, options in chosen.items():
        if name not in CHECK_DEFAULTS:
            raise InvalidInput(
                f"check {name!r} is not known; choose from {list(CHECK_NAMES)}",
                field="checks",
                allowed=list(CHECK_NAMES),
            )
        if options is True or options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise InvalidInput(
                f"checks.{name} must be an object of options", field=f"checks.{name}"
            )
        merged = copy.deepcopy(CHECK_DEFAULTS[name])
        for key, opt in options.items():
            if key not in merged:
                raise InvalidInput(
                    f"checks.{name} has no option {key!r}; options are "
                    f"{sorted(merged)}",
                    field=f"checks.{name}.{key}",
                    allowed=sorted(merged),
                )
            if (
                isinstance(merged[key], dict)
                and isinstance(opt, Mapping)
                and key not in ("methods", "bands")
            ):
                merged[key] = {**merged[key], **opt}
            else:
                merged[key] = opt
        out[name] = merged
    if not out:
        raise InvalidInput("a monitor needs at least one check", field="checks")
    _validate(out)
    return out


def fix_columns(
    cfg: dict[str, dict[str, Any]],
    *,
    profile: Mapping[str, Any],
    features: Sequence[str],
    protected: Sequence[str],
    where: str,
) -> None:
    """Resolve columns, drift methods and fairness groups once, from the
    reference profile, so every run compares like with like (in place).

    Args:
        cfg: Checks from :func:`merge_checks`.
        profile: The reference dataset version's profile.
        features: The model's inputs.
        protected: The reference's protected columns.
        where: How error messages name the reference.

    Raises:
        InvalidInput: A named column is not profiled, or a drift method does
            not suit its column's kind.
    """
    from mlsteward.monitoring.drift.compute import KIND_METHODS, default_methods
    from mlsteward.monitoring.fairness import AGE_BANDS

    cols = profile["columns"]
    inputs = [f for f in features if f in cols]
    for check in ("drift", "quality"):
        if check not in cfg:
            continue
        chosen = cfg[check]["columns"] or inputs
        unknown = [c for c in chosen if c not in cols]
        if unknown:
            raise InvalidInput(
                f"checks.{check}.columns {unknown} are not profiled in {where}",
                field=f"checks.{check}.columns",
                allowed=list(cols),
            )
        if not chosen:
            raise InvalidInput(
                f"{where} profiles none of the model's inputs", field="reference"
            )
        cfg[check]["columns"] = list(chosen)
    if "drift" in cfg:
        d = cfg["drift"]
        methods = default_methods(profile, d["columns"])
        for col, given in dict(d["methods"]).items():
            if col not in methods:
                raise InvalidInput(
                    f"methods names column {col!r}, which the monitor does not check",
                    field="methods",
                    allowed=list(methods),
                )
            listed = [given] if isinstance(given, str) else list(given)
            allowed = KIND_METHODS[cols[col]["kind"]]
            bad = [m for m in listed if m not in allowed]
            if bad or not listed:
                raise InvalidInput(
                    f"drift method(s) {bad or listed} do not suit the "
                    f"{cols[col]['kind']} column {col!r}; choose from {list(allowed)}",
                    field="methods",
                    allowed=list(allowed),
                )
            methods[col] = listed
        d["methods"] = methods
        bad_score = [m for m in d["score_methods"] if m not in KIND_METHODS["numeric"]]
        if bad_score:
            raise InvalidInput(
                f"checks.drift.score_methods {bad_score} are not drift methods",
                field="checks.drift.score_methods",
            )
    if "fairness" in cfg:
        f = cfg["fairness"]
        chosen_protected = f["protected"]
        if chosen_protected is None:
            chosen_protected = [c for c in protected if c in cols]
        f["protected"] = list(chosen_protected)
        bands = dict(f["bands"])
        for col in f["protected"]:
            entry = cols.get(col)
            if col in bands or entry is None or entry.get("kind") != "numeric":
                continue
            if "age" in col.lower():
                bands[col] = list(AGE_BANDS)
            else:  # quintiles: every second decile cut of the reference
                bands[col] = [float(c) for c in entry.get("cuts", [])[1::2]]
        f["bands"] = bands


def _number(value: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} must be a number, got {value!r}", field=field)
    if not lo <= value <= hi:
        raise InvalidInput(f"{field} must be in [{lo}, {hi}], got {value}", field=field)
    return float(value)


def _validate(checks: dict[str, dict[str, Any]]) -> None:  # noqa: C901 - debt: to become typed check models (monitoring/specs.py)
    for name, options in checks.items():
        for key, raw in options.items():
            looks_like_threshold = isinstance(raw, Mapping) and (
                {"warn", "alert"} & set(raw)
            )
            if looks_like_threshold:
                threshold_of(checks, name, key)
        if name == "quality":
            for key, raw in options["thresholds"].items():
                if key not in CHECK_DEFAULTS["quality"]["thresholds"]:
                    raise InvalidInput(
                        f"checks.quality.thresholds has no figure {key!r}",
                        field="checks.quality.thresholds",
                        allowed=sorted(CHECK_DEFAULTS["quality"]["thresholds"]),
                    )
                Threshold.parse(raw, field=f"checks.quality.thresholds.{key}")
    if "performance" in checks:
        p = checks["performance"]
        _number(p["min_labelled_share"], "checks.performance.min_labelled_share", 0, 1)
        if p["baseline_auc"] is not None:
            _number(p["baseline_auc"], "checks.performance.baseline_auc", 0, 1)
    if "estimated" in checks:
        e = checks["estimated"]
        if e["calibration"] not in ("none", "isotonic"):
            raise InvalidInput(
                "checks.estimated.calibration must be 'none' or 'isotonic'",
                field="checks.estimated.calibration",
                allowed=["none", "isotonic"],
            )
        _number(e["min_rows"], "checks.estimated.min_rows", 1, 1e12)
    if "fairness" in checks:
        f = checks["fairness"]
        _number(f["min_group_size"], "checks.fairness.min_group_size", 1, 1e12)
        _number(f["threshold"], "checks.fairness.threshold", 0, 1)
        if not isinstance(f["bands"], Mapping):
            raise InvalidInput(
                "checks.fairness.bands must map columns to cut points",
                field="checks.fairness.bands",
            )
        for col, cuts in f["bands"].items():
            ok = isinstance(cuts, Sequence) and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) for c in cuts
            )
            if not ok or list(cuts) != sorted(set(cuts)):
                raise InvalidInput(
                    f"checks.fairness.bands.{col} must be increasing numbers",
                    field=f"checks.fairness.bands.{col}",
                )
    if "drift" in checks:
        _number(checks["drift"]["alpha"], "checks.drift.alpha", 0, 1)


def _sink(raw: Any, index: int, types: Sequence[str]) -> dict[str, Any]:
    field = f"alerting.sinks[{index}]"
    if isinstance(raw, str):
        name, _, address = raw.partition(":")
        raw = {"type": name, **({"url": address} if address else {})}
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{field} must be a name or an object", field=field)
    kind = raw.get("type")
    if kind not in types:
        raise InvalidInput(
            f"{field}: sink type {kind!r} is not one of {list(types)}",
            field=field,
            allowed=list(types),
        )
    default_severity = "critical" if kind == "retrain" else "warning"
    sink: dict[str, Any] = {
        **{k: v for k, v in raw.items() if k not in ("id", "url")},
        "type": kind,
        "min_severity": raw.get("min_severity", default_severity),
    }
    if sink["min_severity"] not in SEVERITIES:
        raise InvalidInput(
            f"{field}.min_severity must be one of {list(SEVERITIES)}",
            field=f"{field}.min_severity",
        )
    if kind == "webhook":
        url: Any = raw.get("url")
        if url is not None:
            from mlsteward.monitoring.sinks import check_webhook_url

            sink["url"] = check_webhook_url(url, f"{field}.url")
        fmt = raw.get("format", "slack")
        if fmt not in WEBHOOK_FORMATS:
            raise InvalidInput(
                f"{field}.format must be one of {list(WEBHOOK_FORMATS)}",
                field=f"{field}.format",
                allowed=list(WEBHOOK_FORMATS),
            )
        sink["format"] = fmt
    sink["id"] = (
        f"{kind}:{urlsplit(sink['url']).netloc}" if sink.get("url") else str(kind)
    )
    return sink


def parse_alerting(
    value: Any, *, default_cooldown: int, sink_types: Sequence[str] = SINK_TYPES
) -> dict[str, Any]:
    """Canonical alerting dict: sinks and cool-down.

    Example:
        >>> a = parse_alerting({"sinks": ["log", "retrain"]}, default_cooldown=60)
        >>> [s["id"] for s in a["sinks"]], a["cooldown_seconds"]
        (['log', 'retrain'], 60)
    """
    if value is None:
        value = {}
    if isinstance(value, (list, tuple, str)):
        value = {"sinks": [value] if isinstance(value, str) else list(value)}
    if not isinstance(value, Mapping):
        raise InvalidInput("alerting must be an object", field="alerting")
    extra = set(value) - {"sinks", "cooldown_seconds"}
    if extra:
        raise InvalidInput(
            f"alerting has unknown keys {sorted(extra)}; allowed: sinks, "
            "cooldown_seconds",
            field="alerting",
        )
    raw_sinks = value.get("sinks", ["log"])
    if isinstance(raw_sinks, (str, Mapping)):
        raw_sinks = [raw_sinks]
    sinks = [_sink(s, i, sink_types) for i, s in enumerate(raw_sinks)]
    ids = [s["id"] for s in sinks]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"alerting.sinks repeats a sink: {ids}", field="alerting")
    cooldown = value.get("cooldown_seconds", default_cooldown)
    return {
        "sinks": sinks,
        "cooldown_seconds": parse_duration(cooldown, "alerting.cooldown_seconds")
        if cooldown
        else 0,
    }


def mask_url(url: str) -> str:
    """An URL with its path and query hidden (webhook URLs hold secrets).

    Example:
        >>> mask_url("https://hooks.example.com/services/T0/B0/secret")
        'https://hooks.example.com/…'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "…"
