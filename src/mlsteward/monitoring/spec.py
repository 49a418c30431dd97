"""What a monitor checks, typed: one model per check kind, and their levels.

:class:`Checks` is the ``checks`` field of
:class:`~mlsteward.monitoring.specs.CreateMonitor`. It accepts a list of
check names (``["drift", "quality"]``, or ``"drift,quality"``), or an object
of options per check (``{"fairness": {"min_group_size": 50}}``; ``true`` or
``null`` takes a check with its defaults, ``false`` leaves it out); no value
means every check with its defaults. A threshold option given as an object
is laid over its default (``{"auc_drop": {"alert": 0.1}}`` keeps the default
warning level).

Each check kind is a model below (:class:`DriftCheck`, :class:`QualityCheck`,
:class:`PerformanceCheck`, :class:`EstimatedCheck`, :class:`FairnessCheck`)
listing every option, its bounds and its default, so the OpenAPI document
describes them too. What a monitor stores is :meth:`Checks.stored`: every
option of every chosen check, as plain JSON; the runner reads it back through
the same models (:meth:`Checks.load`), so a monitor stored before these models
existed loads unchanged.

Pure: no database, no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    GetJsonSchemaHandler,
    Strict,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlsteward.errors import InvalidInput
from mlsteward.monitoring import checks as judged
from mlsteward.spec import Spec, invalid

__all__ = [
    "CHECK_NAMES",
    "PERIODS",
    "QUALITY_FIGURES",
    "Checks",
    "DriftCheck",
    "EstimatedCheck",
    "FairnessCheck",
    "PerformanceCheck",
    "QualityCheck",
    "Threshold",
    "ThresholdBelow",
    "fix_columns",
    "mask_url",
]

PERIODS = ("month", "week", "day")
CHECK_NAMES = ("drift", "quality", "performance", "estimated", "fairness")
QUALITY_FIGURES = (
    "missing_rate",
    "out_of_range",
    "unseen_categories",
    "schema",
    "volume",
)

#: A finite number; ``true`` is not 1 here.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Share = Annotated[float, Strict(), Field(ge=0, le=1)]
Count = Annotated[int, Strict(), Field(ge=1)]


# -- levels -----------------------------------------------------------------
class Threshold(Spec):
    """Warning and alert levels of a figure where larger values are worse.

    "Past" means strictly past (see :mod:`mlsteward.monitoring.checks`).

    Example:
        >>> Threshold(warn=0.1, alert=0.25).judge().status(0.3)
        'alert'
    """

    direction: ClassVar[Literal["above", "below"]] = "above"

    warn: Number | None = Field(
        default=None, description="Level past which the status is warn (null: none)."
    )
    alert: Number | None = Field(
        default=None, description="Level past which the status is alert (null: none)."
    )

    @model_validator(mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        if isinstance(value, Threshold):
            return value
        if not isinstance(value, Mapping):
            invalid(
                f"must be an object like {{'warn': 0.1, 'alert': 0.25}}, got {value!r}",
                "",
            )
        # The check fixes the direction; monitors stored by earlier releases
        # may carry it, so it is read and dropped rather than refused.
        return {k: v for k, v in value.items() if k != "direction"}

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        warn, alert = self.warn, self.alert
        if warn is not None and alert is not None:
            inverted = warn > alert if self.direction == "above" else warn < alert
            if inverted:
                invalid(
                    f"the warning level {warn} must not be {self.direction} the "
                    f"alert level {alert} (smaller values are worse here)"
                    if self.direction == "below"
                    else f"the warning level {warn} must not be above the alert "
                    f"level {alert}",
                    "",
                )
        return self

    def judge(self) -> judged.Threshold:
        """The levels as the checks read them."""
        return judged.Threshold(self.warn, self.alert, self.direction)


class ThresholdBelow(Threshold):
    """Warning and alert levels of a figure where smaller values are worse
    (the approval-rate ratio of the four-fifths rule): ``warn >= alert``.

    Example:
        >>> ThresholdBelow(warn=0.9, alert=0.8).judge().status(0.85)
        'warn'
    """

    direction: ClassVar[Literal["above", "below"]] = "below"


def _levels(warn: float | None, alert: float | None) -> Any:
    return Field(default_factory=lambda: Threshold(warn=warn, alert=alert))


# -- the checks -------------------------------------------------------------
class _Check(Spec):
    """Options of one check; an object given for a threshold (or a map of
    thresholds) is laid over the default one."""

    name: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        if value is None or value is True:
            return {}
        if isinstance(value, _Check):
            return value
        if not isinstance(value, Mapping):
            invalid(
                f"checks.{cls.name} must be an object of options, got {value!r}",
                f"checks.{cls.name}",
            )
        out = dict(value)
        for key, given in value.items():
            info = cls.model_fields.get(key)
            if info is None or not isinstance(given, Mapping):
                continue
            default = info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump()
            if isinstance(default, dict):
                out[key] = {**default, **given}
        return out


Band = float | tuple[float, float]


def _band(value: Any, field: str) -> None:
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if number(value):
        pair = (float(value), float(value))
    elif (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(number(v) for v in value)
    ):
        pair = (float(value[0]), float(value[1]))
    else:
        invalid(
            f"{field} must be a number or a [watch, drift] pair, got {value!r}", field
        )
    if not 0 <= pair[0] <= pair[1] < float("inf"):
        invalid(f"{field} must satisfy 0 <= watch <= drift, got {list(pair)}", field)


class DriftCheck(_Check):
    """Drift of each monitored column (and of the score) from the reference."""

    name: ClassVar[str] = "drift"

    columns: list[str] | None = Field(
        default=None,
        description="Columns compared; null: the model's inputs in the reference.",
    )
    methods: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Drift method(s) per column (psi, ks, chi2, jensen_shannon, "
        "wasserstein); columns not named get defaults from the reference.",
    )
    score: bool = Field(default=True, description="Also the drift of the score.")
    score_methods: list[str] = Field(
        default_factory=lambda: ["psi", "ks"], description="Methods for the score."
    )
    thresholds: dict[str, Band | dict[str, Band]] = Field(
        default_factory=dict,
        description="{method or column: watch level or [watch, drift]}, or "
        "{column: {method: ...}}; unset: each method's defaults.",
    )
    alpha: float = Field(
        default=0.05, gt=0, lt=1, strict=True, description="Family-wise test level."
    )

    @field_validator("methods", mode="before")
    @classmethod
    def _methods(cls, value: Any) -> Any:
        from mlsteward.monitoring.drift.compute import METHODS

        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for column, given in value.items():
            listed = [given] if isinstance(given, str) else given
            field = f"checks.drift.methods.{column}"
            if not isinstance(listed, list) or not listed:
                invalid(f"{field} must name at least one drift method", field)
            bad = [m for m in listed if m not in METHODS]
            if bad:
                invalid(
                    f"{field}: {bad} are not drift methods; choose from "
                    f"{list(METHODS)}",
                    field,
                    list(METHODS),
                )
            out[column] = listed
        return out

    @field_validator("score_methods")
    @classmethod
    def _score_methods(cls, value: list[str]) -> list[str]:
        from mlsteward.monitoring.drift.compute import KIND_METHODS

        allowed = list(KIND_METHODS["numeric"])
        bad = [m for m in value if m not in allowed]
        if bad or not value:
            invalid(
                f"checks.drift.score_methods {bad or value} are not drift methods "
                f"of a score; choose from {allowed}",
                "checks.drift.score_methods",
                allowed,
            )
        return value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            invalid(
                "checks.drift.thresholds must map a method or a column to a "
                "number or a [watch, drift] pair",
                "checks.drift.thresholds",
            )
        for key, given in value.items():
            field = f"checks.drift.thresholds.{key}"
            if isinstance(given, Mapping):
                for method, band in given.items():
                    _band(band, f"{field}.{method}")
            else:
                _band(given, field)
        return value


def _quality_levels() -> dict[str, Threshold]:
    return {
        "missing_rate": Threshold(warn=0.05, alert=0.10),
        "out_of_range": Threshold(warn=0.01, alert=0.05),
        "unseen_categories": Threshold(warn=0.01, alert=0.05),
        "schema": Threshold(warn=None, alert=0.0),
        "volume": Threshold(warn=0.3, alert=0.5),
    }


class QualityCheck(_Check):
    """Missing values, out-of-range values, unseen categories, schema, volume."""

    name: ClassVar[str] = "quality"

    columns: list[str] | None = Field(
        default=None,
        description="Columns checked; null: the model's inputs in the reference.",
    )
    thresholds: dict[str, Threshold] = Field(
        default_factory=_quality_levels,
        description="Levels per figure: " + ", ".join(QUALITY_FIGURES) + ".",
    )

    @field_validator("thresholds", mode="before")
    @classmethod
    def _figures(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in value:
                if key not in QUALITY_FIGURES:
                    invalid(
                        f"checks.quality.thresholds has no figure {key!r}; figures "
                        f"are {sorted(QUALITY_FIGURES)}",
                        f"checks.quality.thresholds.{key}",
                        sorted(QUALITY_FIGURES),
                    )
        return value


class PerformanceCheck(_Check):
    """Realised performance once outcomes have arrived: AUC and calibration."""

    name: ClassVar[str] = "performance"

    min_labelled_share: Share = Field(
        default=0.9, description="Share of outcomes needed before judging."
    )
    baseline_auc: Share | None = Field(
        default=None, description="null: the scoring version's run metric, ..."
    )
    baseline_metric: str = Field(
        default="cv_auc", description="Run metric read as the baseline AUC."
    )
    auc_drop: Threshold = _levels(0.03, 0.05)
    calibration: Threshold | None = Field(
        default=None, description="Levels of the mean absolute calibration gap."
    )


class EstimatedCheck(_Check):
    """Performance estimated from the scores alone (CBPE), before outcomes."""

    name: ClassVar[str] = "estimated"

    calibration: Literal["none", "platt", "isotonic_cv"] = Field(
        default="none",
        description="Calibration of the scores first: platt or isotonic_cv "
        "(cross-fitted isotonic), fitted on calibration_dataset.",
    )
    calibration_dataset: str | None = Field(
        default=None,
        description="Labelled data the model did not train on, to calibrate on.",
    )
    auc_drop: Threshold = _levels(0.03, 0.05)
    min_rows: Count = Field(default=50, description="Fewest scores estimated on.")

    @field_validator("calibration", mode="before")
    @classmethod
    def _old_isotonic(cls, value: Any) -> Any:  # stored before isotonic_cv
        return "isotonic_cv" if value == "isotonic" else value

    @model_validator(mode="after")
    def _held_out(self) -> EstimatedCheck:  # measured: docs/monitoring.md
        if self.calibration != "none" and not self.calibration_dataset:
            invalid(
                f"calibration {self.calibration!r} needs labelled data the model "
                "did not train on (on its training rows it makes the estimate "
                "worse than raw scores)",
                "checks.estimated.calibration_dataset",
            )
        return self


class FairnessCheck(_Check):
    """Approval-rate ratio and TPR difference across protected groups."""

    name: ClassVar[str] = "fairness"

    protected: list[str] | None = Field(
        default=None, description="Columns; null: the reference's protected columns."
    )
    bands: dict[str, list[Number]] = Field(
        default_factory=dict,
        description="{numeric column: increasing cut points}; unset: the bands "
        "declared with the reference dataset, else its quintiles.",
    )
    min_group_size: Count = Field(default=30, description="Smallest group judged.")
    approval_ratio: ThresholdBelow = Field(
        default_factory=lambda: ThresholdBelow(warn=0.9, alert=0.8),
        description="Levels of the four-fifths ratio (smaller is worse).",
    )
    tpr_difference: Threshold = _levels(0.1, 0.2)
    threshold: Share = Field(default=0.5, description="Score cut of an approval.")

    @field_validator("bands")
    @classmethod
    def _increasing(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for column, cuts in value.items():
            if list(cuts) != sorted(set(cuts)):
                invalid(
                    f"checks.fairness.bands.{column} must be increasing numbers, "
                    f"got {cuts}",
                    f"checks.fairness.bands.{column}",
                )
        return value


def _absent(value: Any) -> bool:
    return value is None


class Checks(Spec):
    """The checks a monitor runs; a check left out is ``null``.

    Example:
        >>> sorted(Checks.model_validate(["drift", "quality"]).stored())
        ['drift', 'quality']
        >>> Checks.model_validate(None).names()
        ['drift', 'quality', 'performance', 'estimated', 'fairness']
    """

    # A check left out is not dumped: a dumped spec parses back to the same.
    drift: DriftCheck | None = Field(default=None, exclude_if=_absent)
    quality: QualityCheck | None = Field(default=None, exclude_if=_absent)
    performance: PerformanceCheck | None = Field(default=None, exclude_if=_absent)
    estimated: EstimatedCheck | None = Field(default=None, exclude_if=_absent)
    fairness: FairnessCheck | None = Field(default=None, exclude_if=_absent)

    @model_validator(mode="before")
    @classmethod
    def _choose(cls, value: Any) -> Any:
        if isinstance(value, Checks):
            return value
        if value is None:
            chosen: dict[str, Any] = {name: {} for name in CHECK_NAMES}
        elif isinstance(value, str):
            chosen = {n.strip(): {} for n in value.split(",") if n.strip()}
        elif isinstance(value, Mapping):
            chosen = {str(k): v for k, v in value.items() if v is not False}
        elif isinstance(value, Sequence):
            chosen = {str(n): {} for n in value}
        else:
            invalid("checks must be a list of names or an object", "checks")
        for name in chosen:
            if name not in CHECK_NAMES:
                invalid(
                    f"check {name!r} is not known; choose from {list(CHECK_NAMES)}",
                    "checks",
                    list(CHECK_NAMES),
                )
        if not chosen:
            invalid("a monitor needs at least one check", "checks")
        # null picks a check with its defaults (a check left out is absent).
        return {k: {} if v is None else v for k, v in chosen.items()}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The shorthands are part of the contract: say so in the OpenAPI schema.
        if handler.mode == "serialization":
            return handler(schema)
        names = {"type": "array", "items": {"enum": list(CHECK_NAMES)}}
        return {"anyOf": [names, {"type": "string"}, handler(schema)]}

    def names(self) -> list[str]:
        """The chosen checks, in the order they run."""
        return [n for n in CHECK_NAMES if getattr(self, n) is not None]

    def stored(self) -> dict[str, dict[str, Any]]:
        """Every option of every chosen check, as the monitor row holds it."""
        return self.model_dump(mode="json")

    @classmethod
    def load(cls, stored: Mapping[str, Any]) -> Checks:
        """A monitor's stored checks, read back (earlier releases' too).

        Raises:
            InvalidInput: The stored checks are not valid (named).
        """
        return cls.parse(stored)


# -- columns fixed at creation ----------------------------------------------
def _fix_inputs(
    cfg: dict[str, dict[str, Any]],
    cols: Mapping[str, Any],
    inputs: list[str],
    where: str,
) -> None:
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


def _fix_methods(drift: dict[str, Any], profile: Mapping[str, Any]) -> None:
    from mlsteward.monitoring.drift.compute import KIND_METHODS, default_methods

    cols = profile["columns"]
    methods = default_methods(profile, drift["columns"])
    for col, given in dict(drift["methods"]).items():
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
    drift["methods"] = methods


def fix_columns(
    cfg: dict[str, dict[str, Any]],
    *,
    profile: Mapping[str, Any],
    features: Sequence[str],
    protected: Sequence[str],
    where: str,
    bands: Mapping[str, list[float] | None] | None = None,
) -> None:
    """Resolve columns, drift methods and fairness groups once, from the
    reference profile, so every run compares like with like (in place).

    Args:
        cfg: Checks as stored (:meth:`Checks.stored`).
        profile: The reference dataset version's profile.
        features: The model's inputs.
        protected: The reference's protected columns.
        where: How error messages name the reference.
        bands: The reference's bands of its numeric protected columns
            (:meth:`~mlsteward.datasets.models.DatasetVersion.bands_of`).

    Raises:
        InvalidInput: A named column is not profiled, or a drift method does
            not suit its column's kind.
    """
    cols = profile["columns"]
    _fix_inputs(cfg, cols, [f for f in features if f in cols], where)
    if "drift" in cfg:
        _fix_methods(cfg["drift"], profile)
    if "fairness" in cfg:
        from mlsteward.monitoring.fairness import fix_groups

        fix_groups(cfg["fairness"], cols, protected, bands or {})


def mask_url(url: str) -> str:
    """An URL with its path and query hidden (webhook URLs hold secrets).

    Example:
        >>> mask_url("https://hooks.example.com/services/T0/B0/secret")
        'https://hooks.example.com/…'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "…"
