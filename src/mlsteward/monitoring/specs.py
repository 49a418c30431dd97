"""Request specs of monitoring: create a monitor, run a monitor.

:class:`CreateMonitor` is what ``MonitorService.create`` takes, the body of
``POST /api/v1/monitors``, what ``client.monitors.create`` and ``mlsteward
monitors create`` build, and the shape of a policy file's ``[[monitors]]``
entries. :class:`RunMonitor` is the same for a run. Validation happens here
once; errors name the field (``window.n``) and the allowed values.

Vocabulary: ``model`` is a model reference in the registry's grammar,
``credit-risk``, ``credit-risk/3`` or ``credit-risk@champion``, in every
spec. A monitor watches the registered model named by it; a version or alias
picks the version whose inputs fix the monitored columns at creation
(default: the champion, else the newest version). A deployment serves the
version it resolves to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlsteward.durations import parse_duration
from mlsteward.monitoring.alerting import Alerting
from mlsteward.monitoring.spec import PERIODS, Checks
from mlsteward.names import check_name, parse_ref
from mlsteward.spec import Spec, guard, invalid

__all__ = ["Alerting", "Checks", "CreateMonitor", "RunMonitor", "Window"]

WINDOW_TYPES = ("last_n", "range", "period")
_WINDOW_KEYS = {
    "last_n": ("n",),
    "range": ("seconds",),
    "period": ("period", "lookback"),
}


class Window(Spec):
    """Which predictions a run reads.

    Accepted as an object or as the shorthand ``"last:1000"``,
    ``"range:7d"``, ``"period:month"`` (also ``week``, ``day``, or just
    ``"month"``).

    Example:
        >>> Window.model_validate("last:500").canonical()
        {'type': 'last_n', 'n': 500}
    """

    type: Literal["last_n", "range", "period"] = Field(
        description="last_n, range or period."
    )
    n: int | None = Field(default=None, description="last_n: newest predictions read.")
    seconds: int | str | None = Field(
        default=None, description="range: seconds or '7d' before the run."
    )
    period: str | None = Field(default=None, description="period: month, week or day.")
    lookback: int | None = Field(
        default=None, description="period: earlier periods computed too (default 1)."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            kind, _, arg = value.partition(":")
            kind = kind.strip().lower()
            if kind in PERIODS and not arg:
                kind, arg = "period", kind
            if kind in ("last", "last_n"):
                value = {"type": "last_n", "n": arg}
            elif kind == "range":
                value = {"type": "range", "seconds": arg}
            elif kind == "period":
                value = {"type": "period", "period": arg or "month"}
            else:
                invalid(
                    f"window {value!r} is not understood; expected 'last:N', "
                    "'range:7d' or 'period:month' (or week, day)",
                    "window",
                )
        if not isinstance(value, dict):
            invalid("window must be a string or an object", "window")
        if value.get("type") not in WINDOW_TYPES:
            invalid(
                f"window.type {value.get('type')!r} is not one of {list(WINDOW_TYPES)}",
                "window.type",
                list(WINDOW_TYPES),
            )
        if value["type"] == "last_n":
            # "zero" and other non-numbers are a bad n, named as such below.
            n = value.get("n")
            try:
                n = int(n)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                invalid(
                    f"window.n must be a positive number of predictions, got {n!r}",
                    "window.n",
                )
            return {**value, "n": n}
        return value

    @model_validator(mode="after")
    def _complete(self) -> Window:
        # A key of another window type is refused first: it shows the mix-up.
        self._only(*_WINDOW_KEYS[self.type])
        if self.type == "last_n":
            if self.n is None or self.n < 1:
                invalid(
                    "window.n must be a positive number of predictions, got "
                    f"{self.n!r}",
                    "window.n",
                )
        elif self.type == "range":
            secs = self.seconds
            self.__dict__["seconds"] = guard(
                lambda: parse_duration(secs, "window.seconds")
            )
        else:
            period = str(self.period or "month").lower()
            if period not in PERIODS:
                invalid(
                    f"window.period {period!r} is not one of {list(PERIODS)}",
                    "window.period",
                    list(PERIODS),
                )
            lookback = 1 if self.lookback is None else self.lookback
            if lookback < 0:
                invalid(
                    "window.lookback must be a whole number of periods >= 0",
                    "window.lookback",
                )
            self.__dict__.update(period=period, lookback=lookback)
        return self

    def _only(self, *keys: str) -> None:
        given = [
            k
            for k in ("n", "seconds", "period", "lookback")
            if k not in keys and getattr(self, k) is not None
        ]
        if given:
            invalid(
                f"window.{given[0]} does not apply to a {self.type} window; "
                f"its keys are {['type', *keys]}",
                f"window.{given[0]}",
                ["type", *keys],
            )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The shorthand is part of the contract: say so in the OpenAPI schema.
        shorthand = {"type": "string", "examples": ["last:1000", "range:7d", "month"]}
        return {"anyOf": [shorthand, handler(schema)]}

    def canonical(self) -> dict[str, Any]:
        """The dict stored in the monitor row."""
        return self.model_dump(exclude_none=True)


class CreateMonitor(Spec):
    """Create a monitor of a deployment's prediction log.

    Example:
        >>> CreateMonitor(name="cr", deployment="credit-risk", window="last:500")
        ... # doctest: +ELLIPSIS
        CreateMonitor(name='cr', deployment='credit-risk', ...)
    """

    name: str = Field(description="Name of the monitor.")
    deployment: str = Field(description="Deployment whose predictions it watches.")
    model: str | None = Field(
        default=None,
        description="Model reference: 'credit-risk' (default: the deployment's), "
        "'credit-risk/3' or 'credit-risk@champion' to fix the columns from.",
    )
    schedule: str | int = Field(default="1d", description="Seconds, '6h', or cron.")
    window: Window = Field(
        default_factory=lambda: Window.model_validate("period:month"),
        description="'last:N', 'range:7d', 'period:month' or an object.",
    )
    reference: str = Field(default="champion", description="'champion' or 'dataset/N'.")
    checks: Checks = Field(
        default_factory=lambda: Checks.model_validate(None),
        description="Check names, or {check: options}; default every check.",
    )
    methods: dict[str, str | list[str]] | None = Field(
        default=None, description="Drift method(s) per column."
    )
    alerting: Alerting = Field(
        default_factory=lambda: Alerting(), description="Sinks and cool-down."
    )
    routes: list[str] = Field(
        default_factory=lambda: ["champion"], description="Routes watched."
    )
    description: str = ""

    @field_validator("name", "deployment")
    @classmethod
    def _name(cls, value: str, info: Any) -> str:
        return guard(lambda: check_name(value, info.field_name))

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        if value is not None:
            guard(lambda: parse_ref(value, "model"))
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | int) -> str | int:
        from mlsteward.durations import parse_schedule

        guard(lambda: parse_schedule(value))
        return value

    @field_validator("window", mode="before")
    @classmethod
    def _default_window(cls, value: Any) -> Any:
        return "period:month" if value is None else value

    @field_validator("alerting", mode="before")
    @classmethod
    def _default_alerting(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: list[str]) -> list[str]:
        if not value:
            invalid("routes must name at least one route", "routes")
        return value

    @model_validator(mode="after")
    def _checks(self) -> CreateMonitor:
        if self.methods and self.checks.drift is None:
            invalid("methods were given but the drift check is not chosen", "methods")
        return self


class RunMonitor(Spec):
    """Run a monitor now, optionally over an explicit window.

    Give both ``start`` and ``end`` or neither; a period monitor splits the
    span into calendar periods (vintages). ``at`` is the run's time (default
    now): the end of rolling windows, and the time alerts are seen at.

    Example:
        >>> RunMonitor.parse(start="2025-01-01T00:00:00Z")
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: give both start and end of the window, or neither
    """

    start: dt.datetime | None = Field(default=None, description="Window start (UTC).")
    end: dt.datetime | None = Field(default=None, description="Window end (UTC).")
    at: dt.datetime | None = Field(default=None, description="The run's time (UTC).")

    @model_validator(mode="after")
    def _both_or_neither(self) -> RunMonitor:
        if (self.start is None) != (self.end is None):
            invalid(
                "give both start and end of the window, or neither",
                "start" if self.start is None else "end",
            )
        return self

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime] | None:
        """``(start, end)`` or ``None`` for the monitor's own window."""
        if self.start is None or self.end is None:
            return None
        return (self.start, self.end)
