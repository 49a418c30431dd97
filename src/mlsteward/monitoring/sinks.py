"""Where alerts go: sink types and retraining triggers, each a plug-in table.

A sink type is a factory ``factory(spec, ctx)`` returning an object whose
``send(alert)`` delivers the alert and raises on failure (the alert then
stays pending and is retried). Built-in types are in the literal table
:data:`SINKS`; other packages add types through the entry-point group
``mlsteward.alert_sinks``. :func:`mlsteward.plugin_checks.check_sink` runs
the contract on a new type.

The ``retrain`` sink hands the alert to every retraining trigger
``fn(alert, ctx)``: the built-in ``policy`` (retraining by the model's
policy, :func:`mlsteward.retraining.triggers.on_alert`), and those of the
entry-point group ``mlsteward.retraining_triggers``. The retraining code sits
above monitoring, so the built-in is named here and imported on first use.

Example:
    >>> from mlsteward.monitoring.sinks import SINK_TABLE
    >>> SINK_TABLE.available()[:3]
    ['log', 'retrain', 'webhook']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.models import Alert
from mlsteward.plugins import PluginTable

__all__ = [
    "SINKS",
    "SINK_TABLE",
    "TRIGGERS",
    "TRIGGER_TABLE",
    "LogSink",
    "RetrainSink",
    "RetrainingTrigger",
    "Sink",
    "SinkFactory",
    "WebhookSink",
    "check_sink_spec",
    "check_webhook_url",
    "register_retraining_trigger",
    "retraining_triggers",
    "sink_types",
    "unregister_retraining_trigger",
]

logger = logging.getLogger("mlsteward.alerts")
# A library logs only where the application configured logging; without this,
# Python's last-resort handler would print every alert to stderr.
logger.addHandler(logging.NullHandler())


class Sink(Protocol):
    """Something an alert is delivered to; ``send`` raises on failure."""

    def send(self, alert: Alert) -> None: ...


SinkFactory = Callable[[Mapping[str, Any], Context], Sink]
RetrainingTrigger = Callable[[Alert, Context], None]


class LogSink:
    """Writes the alert to the ``mlsteward.alerts`` logger."""

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.spec = spec

    def send(self, alert: Alert) -> None:
        level = logging.ERROR if alert.severity == "critical" else logging.WARNING
        logger.log(level, "%s", alert.message)


def check_webhook_url(url: str, *, field: str = "url") -> str:
    """The webhook URL a sink may post to, or :class:`InvalidInput`.

    Example:
        >>> check_webhook_url("https://hooks.example.com/T0/secret")
        'https://hooks.example.com/T0/secret'
    """
    from mlsteward.monitoring.spec import mask_url

    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"{field} must be an http(s) URL, got {mask_url(str(url))!r}", field=field
        )
    return str(url)


class WebhookSink:
    """POSTs the alert as JSON to an incoming-webhook URL, with a timeout."""

    @staticmethod
    def check_spec(spec: Mapping[str, Any]) -> None:
        """The sink's own check of its spec (see :func:`check_sink_spec`)."""
        if spec.get("url") is not None:
            check_webhook_url(spec["url"])

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.url = spec.get("url") or ctx.settings.alert_webhook_url
        self.format = spec.get("format", "slack")
        self.timeout = ctx.settings.alert_webhook_timeout

    def payload(self, alert: Alert) -> dict[str, Any]:
        if self.format == "discord":
            return {"content": alert.message}
        if self.format == "json":
            return {"text": alert.message, "alert": alert.to_dict()}
        return {"text": alert.message}

    def send(self, alert: Alert) -> None:
        import httpx

        if not self.url:
            raise RuntimeError(
                "no webhook URL: set MLSTEWARD_ALERT_WEBHOOK_URL or give the sink a url"
            )
        response = httpx.post(self.url, json=self.payload(alert), timeout=self.timeout)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")


class RetrainSink:
    """Hands the alert to the retraining triggers (the retraining seam)."""

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.ctx = ctx

    def send(self, alert: Alert) -> None:
        # Every trigger is loaded first: one that cannot be imported fails the
        # delivery (the alert waits) instead of being skipped unnoticed.
        triggers = [TRIGGER_TABLE.get(name) for name in TRIGGER_TABLE.available()]
        for trigger in triggers:
            trigger(alert, self.ctx)


def _factory(obj: object) -> SinkFactory:
    if not callable(obj):
        raise TypeError("a sink type must be callable as factory(spec, ctx)")
    return obj  # type: ignore[return-value]


def _trigger(obj: object) -> RetrainingTrigger:
    if not callable(obj):
        raise TypeError("a retraining trigger must be callable as fn(alert, ctx)")
    return obj  # type: ignore[return-value]


#: Built-in sink types: ``"module:factory"``.
SINKS: dict[str, str] = {
    "log": "mlsteward.monitoring.sinks:LogSink",
    "webhook": "mlsteward.monitoring.sinks:WebhookSink",
    "retrain": "mlsteward.monitoring.sinks:RetrainSink",
}

#: Built-in retraining triggers: ``"module:function"``.
TRIGGERS: dict[str, str] = {
    "policy": "mlsteward.retraining.triggers:on_alert",
}

#: The sink seam (entry-point group ``mlsteward.alert_sinks``).
SINK_TABLE: PluginTable[SinkFactory] = PluginTable(
    "alert sink", "mlsteward.alert_sinks", SINKS, validate=_factory, field="type"
)

#: The retraining-trigger seam (group ``mlsteward.retraining_triggers``).
TRIGGER_TABLE: PluginTable[RetrainingTrigger] = PluginTable(
    "retraining trigger",
    "mlsteward.retraining_triggers",
    TRIGGERS,
    validate=_trigger,
    field="trigger",
)

_undo: dict[RetrainingTrigger, Callable[[], None]] = {}


def sink_types() -> list[str]:
    """Names of every sink type available.

    Example:
        >>> "webhook" in sink_types()
        True
    """
    return SINK_TABLE.available()


def check_sink_spec(spec: Mapping[str, Any]) -> None:
    """Run a sink type's own check of a sink spec, where the type has one.

    A sink factory may carry ``check_spec(spec)``, which raises
    :class:`InvalidInput` (or ``ValueError``/``TypeError``) for a spec it
    cannot deliver with; monitors call it when they are created, so a bad
    sink is refused then rather than failing at the first alert.

    Raises:
        InvalidInput: Unknown type, a plug-in that cannot be loaded, or the
            type's own check refused the spec.

    Example:
        >>> check_sink_spec({"type": "log"})
    """
    factory = SINK_TABLE.get(spec.get("type"))  # type: ignore[arg-type]
    check = getattr(factory, "check_spec", None)
    if check is None:
        return
    try:
        check(dict(spec))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"sink {spec.get('type')!r}: {exc}") from exc


def retraining_triggers() -> list[RetrainingTrigger]:
    """Every retraining trigger that can be loaded, by name.

    Example:
        >>> len(retraining_triggers()) >= 1  # the built-in ``policy``
        True
    """
    return list(TRIGGER_TABLE.load_all().values())


def register_retraining_trigger(fn: RetrainingTrigger) -> RetrainingTrigger:
    """Call ``fn(alert, ctx)`` too for alerts routed to the ``retrain`` sink,
    in this process (tests, notebooks); usable as a decorator. Raising makes
    the delivery fail and the alert is retried. Packages declare an entry
    point in ``mlsteward.retraining_triggers`` instead.

    Example:
        >>> @register_retraining_trigger  # doctest: +SKIP
        ... def enqueue(alert, ctx): ...
    """
    if fn not in _undo:
        name = f"{fn.__module__}:{getattr(fn, '__qualname__', repr(fn))}"
        _undo[fn] = TRIGGER_TABLE.register(name, fn)
    return fn


def unregister_retraining_trigger(fn: RetrainingTrigger) -> None:
    """Remove a trigger registered with :func:`register_retraining_trigger`."""
    undo = _undo.pop(fn, None)
    if undo is not None:
        undo()
