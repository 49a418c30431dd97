"""Request specs of the registry: runs, model versions, aliases, lifecycle,
evaluation.

Each spec is what the service takes, what ``client.runs`` / ``client.models``
and the CLI build, and, where there is a route, its body. The objects that
are not JSON (a fitted model, a training frame, a table to evaluate on) stay
separate arguments beside the spec. Errors name the field (``metrics.auc``,
``state``) and, where there is a closed set, the allowed values.

Example:
    >>> Transition(state="approved", reason="beats the champion").state
    <State.APPROVED: 'approved'>
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from mlsteward.names import MAX_VERSION, check_name, parse_ref
from mlsteward.registry.models import RunStatus, State
from mlsteward.spec import Spec, guard, invalid, str_map

__all__ = [
    "MAX_VERSION",
    "EndRun",
    "Evaluate",
    "ImportMlflow",
    "LogMetrics",
    "RegisterModel",
    "SetAlias",
    "StartRun",
    "Transition",
    "check_alias",
    "str_map",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _dataset_ref(ref: Any) -> Any:
    return guard(lambda: parse_ref(ref, "inputs"))


def check_alias(value: object) -> str:
    """An alias is a name that does not look like a version number.

    Example:
        >>> check_alias("champion")
        'champion'
    """
    from mlsteward.errors import InvalidInput

    alias = check_name(value, "alias")
    if alias.isdigit():
        raise InvalidInput(
            f"alias {alias!r} is a number; aliases must not look like versions",
            field="alias",
        )
    return alias


class StartRun(Spec):
    """Start a training run.

    Example:
        >>> StartRun(name="gbm", params={"depth": 3}, inputs=["gc/1"]).inputs
        ['gc/1']
    """

    name: str = Field(min_length=1, max_length=200, description="Name of the run.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Hyper-parameters (stored as JSON)."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Free tags.")
    inputs: list[str] = Field(
        default_factory=list, description="Dataset versions it reads: 'name/N'."
    )
    git_sha: str | None = Field(
        default=None,
        pattern="^[0-9a-f]{40}$",
        description="The commit the training code ran from, as the client saw "
        "it (a remote client sends its own); default: the server's checkout.",
    )
    environment: dict[str, str] | None = Field(
        default=None,
        description="Package versions where the training ran (a remote client "
        "sends its own); default: the server's.",
    )

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            invalid("params must be a mapping of names to values", "params")
        return {str(k): _jsonable(v) for k, v in value.items()}

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return str_map(value, "tags")

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            invalid("inputs must be a list of dataset refs like 'name/1'", "inputs")
        for ref in value:
            if _dataset_ref(ref).alias is not None:
                invalid(
                    f"inputs {ref!r}: datasets have no aliases; use 'name' or 'name/N'",
                    "inputs",
                )
        return list(value)


class LogMetrics(Spec):
    """Log metrics of a running run at a step.

    Example:
        >>> LogMetrics.parse(metrics={"auc": "nan"})
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: metric 'auc' is 'nan'; expected a finite number
    """

    metrics: dict[str, float] = Field(description="Name to finite number.")
    step: int = Field(
        default=0, ge=0, le=2_147_483_647, description="Step (epoch, iteration)."
    )

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> dict[str, float]:
        if not isinstance(value, Mapping):
            invalid("metrics must be a mapping of names to numbers", "metrics")
        clean: dict[str, float] = {}
        for key, raw in value.items():
            field = f"metrics.{key}"
            try:
                number = float(raw)
            except (TypeError, ValueError):
                invalid(f"metric {key!r} must be a number, got {raw!r}", field)
            if not math.isfinite(number):
                invalid(f"metric {key!r} is {raw!r}; expected a finite number", field)
            clean[str(key)] = number
        return clean


class EndRun(Spec):
    """End a running run as finished or failed.

    Example:
        >>> EndRun(status="failed").status
        <RunStatus.FAILED: 'failed'>
    """

    status: RunStatus = Field(
        default=RunStatus.FINISHED, description="finished or failed."
    )

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        ends = [RunStatus.FINISHED.value, RunStatus.FAILED.value]
        if value not in ends:
            invalid(f"status {value!r} is not one of {ends}", "status", ends)
        return value


class RegisterModel(Spec):
    """Register a fitted model as the next version of ``name``.

    The model object and its training data (or signature) are arguments
    beside this spec.

    Example:
        >>> RegisterModel(name="credit-risk", flavor="sklearn").flavor
        'sklearn'
    """

    name: str = Field(description="Registered model name, e.g. credit-risk.")
    flavor: str | None = Field(
        default=None, description="Flavor to save it with (default: from the model)."
    )
    run_id: str | None = Field(default=None, description="Run that trained it.")
    parent_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Version it derives from."
    )
    description: str = Field(default="", description="Free text.")
    tags: dict[str, str] = Field(default_factory=dict, description="Free tags.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return guard(lambda: check_name(value, "name"))

    @field_validator("flavor")
    @classmethod
    def _flavor(cls, value: str | None) -> str | None:
        from mlsteward.flavors import available_flavors

        known = sorted(available_flavors())
        if value is not None and value not in known:
            invalid(f"flavor {value!r} is not one of {known}", "flavor", known)
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return str_map(value, "tags")


class SetAlias(Spec):
    """Point an alias (``champion``) of a model at one of its versions.

    Example:
        >>> SetAlias(alias="champion", version=2).version
        2
    """

    alias: str = Field(description="Alias name, e.g. champion (not a number).")
    version: int = Field(
        ge=1, le=MAX_VERSION, description="Version the alias points at."
    )

    @field_validator("alias", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> str:
        return guard(lambda: check_alias(value))


class Transition(Spec):
    """Move a model version through its lifecycle
    (:data:`~mlsteward.registry.models.LIFECYCLE`).

    Example:
        >>> from mlsteward.errors import InvalidInput
        >>> try:
        ...     Transition.parse(state="live")
        ... except InvalidInput as e:
        ...     e.field, e.details["allowed"][:2]
        ('state', ['registered', 'approved'])
    """

    state: State = Field(description="registered, approved, rejected or archived.")
    reason: str = Field(default="", description="Why, for the audit trail.")

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: Any) -> Any:
        states = [s.value for s in State]
        if value not in states:
            invalid(f"state {value!r} is not one of {states}", "state", states)
        return value


class Evaluate(Spec):
    """Evaluate a model version on a table; the table is an argument beside it.

    Example:
        >>> Evaluate.parse(threshold=1.5)
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: threshold must be between 0 and 1, got 1.5
    """

    target: str | None = Field(
        default=None, description="Label column (default: the dataset's target)."
    )
    threshold: float = Field(
        default=0.5, description="Decision threshold, strictly between 0 and 1."
    )
    label: str | None = Field(
        default=None, description="What it was evaluated on (default: the dataset)."
    )

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> float:
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not 0.0 < float(value) < 1.0
        ):
            invalid(f"threshold must be between 0 and 1, got {value!r}", "threshold")
        return float(value)


class ImportMlflow(Spec):
    """Bring runs and registered model versions from an MLflow tracking server.

    Example:
        >>> ImportMlflow(tracking_uri="http://127.0.0.1:5000",
        ...              models=["credit-risk"]).models
        ['credit-risk']
    """

    tracking_uri: str = Field(
        description="The MLflow tracking server, http(s)://host:port."
    )
    experiments: list[str] = Field(
        default_factory=list,
        description="Experiment names whose runs to import (default: all).",
    )
    models: list[str] = Field(
        default_factory=list,
        description="Registered model names to import (default: all).",
    )

    @field_validator("tracking_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        from mlsteward.registry.mlflow_source import check_tracking_uri

        return guard(lambda: check_tracking_uri(value))

    @field_validator("experiments", "models", mode="before")
    @classmethod
    def _names(cls, value: Any, info: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            invalid(f"{info.field_name} must be a list of names", info.field_name)
        return [str(v) for v in value]
