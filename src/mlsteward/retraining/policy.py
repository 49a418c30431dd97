"""Retraining policy as a file: triggers, data, trainer, gates, promotion.

A policy is TOML or YAML, one per registered model, validated with errors
that name the bad key and the allowed values. Example (TOML)::

    model = "credit-risk"

    [triggers]
    monitors = ["credit-risk-monthly"]   # alerts of these monitors start one
    checks = ["drift", "performance"]    # ... from these kinds of check
    min_new_labels = 200                 # and only with this many new labelled rows
    cooldown = "14d"                     # one drift episode, one retraining
    schedule = "90d"                     # also retrain on a schedule (optional):
                                         # a duration or cron ("0 6 * * mon")

    [data]
    reference = "german-credit-train"    # the reference training data (dataset ref)
    window = "365d"                      # labelled prediction log to add
    holdout = "newest_month"             # out-of-time: the newest labelled month

    [trainer]
    name = "logistic_scorecard"          # a trainer by name (built-in or plug-in)
    params = { C = 1.0 }

    [gates]
    auc_max_drop = 0.005                 # challenger AUC >= champion AUC - 0.005
    auc_min_gain = 0.0                   # or demand a win: AUC gain > 0.0 (optional)
    ks_min = 0.3
    four_fifths_min = 0.8                # for each protected column
    score_psi_max = 0.1                  # challenger scores vs its training population
    unjudged = "block"                   # a gate that cannot be judged rejects
                                         # (or "ask_approver"); never "passed"

    [promotion]
    mode = "manual"                      # manual | shadow | canary | auto
    canary_share = 0.1
    threshold = 0.5

    [[monitors]]                         # monitors the policy keeps in place
    name = "credit-risk-monthly"
    window = "period:month"
    alerting = { sinks = ["log", "retrain"] }
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlsteward.durations import parse_duration, parse_schedule
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.specs import CreateMonitor
from mlsteward.spec import allowed_keys, field_of

__all__ = [
    "DEPRECATED_CHECK_KINDS",
    "Policy",
    "as_policy",
    "load_policy",
    "parse_policy",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


CheckKind = Literal["drift", "quality", "performance", "estimated", "fairness"]

#: Old names of check kinds, still read from stored policies and files and
#: normalised on parse: ``estimated_performance`` is ``estimated``, as
#: monitoring calls it.
DEPRECATED_CHECK_KINDS = {"estimated_performance": "estimated"}


def _normalise_kinds(value: Any) -> Any:
    if isinstance(value, list):
        return [
            DEPRECATED_CHECK_KINDS.get(v, v) if isinstance(v, str) else v for v in value
        ]
    return value


def _default_checks() -> list[CheckKind]:
    return ["drift", "performance"]


class Triggers(_Strict):
    monitors: list[str] = Field(default_factory=list)
    checks: list[CheckKind] = Field(default_factory=_default_checks)
    min_new_labels: int = Field(default=0, ge=0)
    cooldown: str = "14d"
    schedule: str | None = None

    @field_validator("checks", mode="before")
    @classmethod
    def _deprecated_kinds(cls, v: Any) -> Any:
        return _normalise_kinds(v)

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, v: str) -> str:
        parse_duration(v, "triggers.cooldown", minimum=0)
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None:
            parse_schedule(v, "triggers.schedule")
        return v


class Data(_Strict):
    reference: str
    window: str = "365d"
    holdout: Literal["newest_month", "newest_week", "newest_quarter"] = "newest_month"
    min_holdout_rows: int = Field(default=50, ge=1)

    @field_validator("window")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v, "data.window")
        return v


class Trainer(_Strict):
    name: str = "logistic_scorecard"
    params: dict[str, Any] = Field(default_factory=dict)


class Gates(_Strict):
    auc_max_drop: float | None = Field(default=0.005, ge=0, le=1)
    auc_min_gain: float | None = Field(default=None, ge=-1, le=1)
    ks_min: float | None = Field(default=None, ge=0, le=1)
    four_fifths_min: float | None = Field(default=0.8, ge=0, le=1)
    score_psi_max: float | None = Field(default=0.1, ge=0)
    #: What a gate that could not be judged does: ``block`` rejects the
    #: challenger naming the gate and why; ``ask_approver`` sends it to an
    #: approver (never promoted automatically). Never counted as passed.
    unjudged: Literal["block", "ask_approver"] = "block"


class Promotion(_Strict):
    mode: Literal["manual", "shadow", "canary", "auto"] = "manual"
    canary_share: float = Field(default=0.1, gt=0, lt=1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    #: Live checks that roll a canary back automatically when they breach.
    canary_rollback_checks: list[str] = Field(
        default_factory=lambda: ["drift", "performance"]
    )

    @field_validator("canary_rollback_checks", mode="before")
    @classmethod
    def _deprecated_kinds(cls, v: Any) -> Any:
        return _normalise_kinds(v)


class Policy(_Strict):
    """A validated retraining policy."""

    model: str
    target: str = "bad"
    triggers: Triggers = Field(default_factory=Triggers)
    data: Data
    trainer: Trainer = Field(default_factory=Trainer)
    gates: Gates = Field(default_factory=Gates)
    promotion: Promotion = Field(default_factory=Promotion)
    #: Monitors the policy keeps in place, each a
    #: :class:`~mlsteward.monitoring.specs.CreateMonitor` (as ``mlsteward
    #: monitors create`` takes); ``deployment`` and ``model`` default to the
    #: policy's model.
    monitors: list[CreateMonitor] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _monitor_defaults(cls, doc: Any) -> Any:
        if not isinstance(doc, dict) or not isinstance(doc.get("monitors"), list):
            return doc
        model = doc.get("model")
        entries = [
            {
                **m,
                "deployment": m.get("deployment") or model,
                "model": m.get("model") or model,
            }
            if isinstance(m, dict)
            else m
            for m in doc["monitors"]
        ]
        return {**doc, "monitors": entries}

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())


def parse_policy(document: dict[str, Any]) -> Policy:
    """Validate a policy document; errors name the key and what is allowed."""
    if not isinstance(document, dict):
        raise InvalidInput("a policy must be a table of keys", field="policy")
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "policy"
        if err["type"] == "invalid_input":  # a spec's validator named the field
            ctx = err.get("ctx") or {}
            field = field_of(loc, ctx)
            allowed_values = {"allowed": ctx["allowed"]} if "allowed" in ctx else {}
            raise InvalidInput(
                f"policy key {field!r}: {err['msg']}", field=field, **allowed_values
            ) from exc
        if err["type"] == "extra_forbidden":
            allowed = allowed_keys(Policy, loc[:-1])
            raise InvalidInput(
                f"unknown policy key {key!r}; allowed here: {allowed}",
                field=key,
                allowed=allowed,
            ) from exc
        if err["type"] == "missing":
            raise InvalidInput(f"policy key {key!r} is required", field=key) from exc
        ctx = err.get("ctx") or {}
        expected = ctx.get("expected")
        msg = f"policy key {key!r}: {err['msg']}"
        if expected:
            msg = f"policy key {key!r} must be one of {expected}"
        raise InvalidInput(msg, field=key) from exc
    from mlsteward.retraining.trainers import check_trainer_name

    try:
        check_trainer_name(policy.trainer.name)
    except InvalidInput as exc:
        raise InvalidInput(
            f"policy key 'trainer.name': {exc.message}",
            field="trainer.name",
            **exc.details,
        ) from exc
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) policy file."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"policy file {str(p)!r} does not exist", field="path")
    text = p.read_text()
    try:
        if p.suffix == ".toml":
            doc: Any = tomllib.loads(text)
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text)
        else:
            raise InvalidInput(
                f"policy file {str(p)!r}: expected .toml, .yaml or .yml",
                field="path",
            )
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(
            f"policy file {str(p)!r} is not valid: {exc}", field="path"
        ) from exc
    except Exception as exc:  # yaml.YAMLError
        raise InvalidInput(
            f"policy file {str(p)!r} is not valid: {exc}", field="path"
        ) from exc
    return parse_policy(doc)


def as_policy(policy: Policy | dict[str, Any] | str | Path) -> Policy:
    """A policy from a :class:`Policy`, a document or a TOML/YAML file.

    Example:
        >>> as_policy({"model": "cr", "data": {"reference": "gc/1"}}).model
        'cr'
    """
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (str, Path)):
        return load_policy(policy)
    return parse_policy(policy)
