"""Where a monitor's alerts go, typed: one model per sink type, and Alerting.

A sink is given as a name (``"log"``, ``"webhook"``, ``"retrain"``), as
``"webhook:https://..."``, or as an object whose ``type`` picks its model:
:class:`LogSinkSpec`, :class:`WebhookSinkSpec`, :class:`RetrainSinkSpec`;
a type a plug-in adds (entry-point group ``mlsteward.alert_sinks``) is a
:class:`PluginSinkSpec`, checked by the plug-in's own ``check_spec`` where it
has one (:func:`mlsteward.monitoring.sinks.check_sink_spec`). URL rules live
in :mod:`mlsteward.monitoring.sinks` and are called from here.

What a monitor stores is :meth:`Alerting.stored`: every sink as an object
with its derived ``id`` (``"webhook:hooks.example.com"``: never the secret
path), and the cool-down in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mlsteward.durations import parse_duration
from mlsteward.spec import Spec, error_of, guard, invalid

__all__ = [
    "Alerting",
    "LogSinkSpec",
    "PluginSinkSpec",
    "RetrainSinkSpec",
    "SinkSpec",
    "WebhookSinkSpec",
]

Severity = Literal["warning", "critical"]


class _Sink(Spec):
    type: str
    min_severity: Severity = Field(
        default="warning", description="Least severe alert sent there."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """How alerts name the sink (derived; never a secret)."""
        return self.type


class LogSinkSpec(_Sink):
    """Alerts to the ``mlsteward.alerts`` logger."""

    type: Literal["log"] = "log"


class RetrainSinkSpec(_Sink):
    """Alerts to the retraining triggers (critical alerts by default)."""

    type: Literal["retrain"] = "retrain"
    min_severity: Severity = Field(
        default="critical", description="Least severe alert sent there."
    )


class WebhookSinkSpec(_Sink):
    """Alerts POSTed to an incoming-webhook URL."""

    type: Literal["webhook"] = "webhook"
    url: str | None = Field(
        default=None,
        description="http(s) URL; null: the server's MLSTEWARD_ALERT_WEBHOOK_URL.",
    )
    format: Literal["slack", "discord", "json"] = Field(
        default="slack", description="Body shape the receiver expects."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        from mlsteward.monitoring.sinks import check_webhook_url

        if value is None:
            return None
        return guard(lambda: check_webhook_url(value, field="url"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        from urllib.parse import urlsplit

        return f"webhook:{urlsplit(self.url).netloc}" if self.url else "webhook"


class PluginSinkSpec(_Sink):
    """A sink type from a plug-in: its own keys, checked by the plug-in."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A sink type a plug-in adds.")

    @model_validator(mode="after")
    def _plugin_check(self) -> PluginSinkSpec:
        from mlsteward.monitoring.sinks import check_sink_spec

        spec = self.model_dump(exclude={"id"})
        guard(lambda: check_sink_spec(spec))
        return self


BUILTIN_SINKS: dict[str, type[_Sink]] = {
    "log": LogSinkSpec,
    "webhook": WebhookSinkSpec,
    "retrain": RetrainSinkSpec,
}


def _sink_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, Mapping) else value.type
    return kind if kind in BUILTIN_SINKS else "plugin"


#: One sink, by its ``type``.
SinkSpec = Annotated[
    Annotated[LogSinkSpec, Tag("log")]
    | Annotated[WebhookSinkSpec, Tag("webhook")]
    | Annotated[RetrainSinkSpec, Tag("retrain")]
    | Annotated[PluginSinkSpec, Tag("plugin")],
    Discriminator(_sink_tag),
]


def _sink(raw: Any, index: int, types: list[str]) -> _Sink:
    """One sink validated by its type's model; errors name ``alerting.sinks.N``."""
    where = f"alerting.sinks.{index}"
    if isinstance(raw, _Sink):
        return raw
    if isinstance(raw, str):
        name, _, address = raw.partition(":")
        raw = {"type": name, **({"url": address} if address else {})}
    if not isinstance(raw, Mapping):
        invalid(f"{where} must be a sink name or an object, got {raw!r}", where)
    kind = raw.get("type")
    if kind not in types:
        invalid(
            f"{where}.type: sink type {kind!r} is not one of {types}",
            f"{where}.type",
            types,
        )
    model = BUILTIN_SINKS.get(kind, PluginSinkSpec)
    try:  # ``id`` is derived: a stored or echoed one is not a choice
        return model.model_validate({k: v for k, v in raw.items() if k != "id"})
    except ValidationError as exc:
        err = error_of(dict(exc.errors()[0]), model)
        field = f"{where}.{err.field}" if err.field else where
        message = err.message
        if err.field and message.startswith(err.field):
            message = f"{where}.{message}"
        invalid(message, field, err.details.get("allowed"))


class Alerting(Spec):
    """Where alerts go and how often: ``{"sinks": [...], "cooldown_seconds": ...}``.

    Also accepted as a list of sinks or one sink name.

    Example:
        >>> a = Alerting.model_validate(["log", "webhook:https://chat.example/s3cret"])
        >>> [s.id for s in a.sinks]
        ['log', 'webhook:chat.example']
    """

    sinks: list[SinkSpec] = Field(
        default_factory=lambda: list[SinkSpec]([LogSinkSpec()]),
        description="Sinks alerts go to.",
    )
    cooldown_seconds: int | str | None = Field(
        default=None,
        description="Seconds or '1d' between repeats of an alert (null: settings).",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        from mlsteward.monitoring.sinks import sink_types

        if value is None:
            value = {}
        if isinstance(value, (str, list, tuple)):
            value = {"sinks": [value] if isinstance(value, str) else list(value)}
        if isinstance(value, Alerting) or not isinstance(value, Mapping):
            if not isinstance(value, Alerting):
                invalid("alerting must be an object", "alerting")
            return value
        raw = value.get("sinks", ["log"])
        if isinstance(raw, (str, Mapping)):
            raw = [raw]
        if not isinstance(raw, (list, tuple)):
            invalid("alerting.sinks must be a list of sinks", "alerting.sinks")
        types = sink_types()
        return {**value, "sinks": [_sink(s, i, types) for i, s in enumerate(raw)]}

    @model_validator(mode="after")
    def _distinct(self) -> Alerting:
        ids = [s.id for s in self.sinks]
        if len(set(ids)) != len(ids):
            invalid(f"alerting.sinks repeats a sink: {ids}", "alerting.sinks")
        given = self.cooldown_seconds
        if given is not None:
            seconds = guard(lambda: parse_duration(given, "alerting.cooldown_seconds"))
            self.__dict__["cooldown_seconds"] = seconds
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The shorthands are part of the contract: say so in the OpenAPI schema.
        names = {"type": "array", "items": {"type": "string"}}
        return {"anyOf": [{"type": "string"}, names, handler(schema)]}

    def stored(self, *, default_cooldown: int) -> dict[str, Any]:
        """The alerting a monitor row holds: sinks with ids, cool-down seconds.

        Example:
            >>> Alerting.model_validate("retrain").stored(default_cooldown=60)
            {'sinks': [{'type': 'retrain', 'min_severity': 'critical', 'id': 'retrain'}], 'cooldown_seconds': 60}
        """  # noqa: E501
        sinks = [s.model_dump(mode="json", exclude_none=True) for s in self.sinks]
        cooldown = self.cooldown_seconds
        return {
            "sinks": sinks,
            "cooldown_seconds": default_cooldown if cooldown is None else cooldown,
        }
