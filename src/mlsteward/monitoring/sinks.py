"""Where alerts go: sink types and retraining triggers, each a plug-in table.

A sink type is a factory ``factory(spec, ctx)`` returning an object whose
``send(alert)`` delivers the alert and raises on failure (the alert then
stays pending and is retried). Built-in types are in the literal table
:data:`SINKS`; other packages add types through the entry-point group
``mlsteward.alert_sinks``. :func:`mlsteward.plugin_checks.check_sink` runs
the contract on a new type.

Webhooks are server-side requests to an address a user chose, so they are
kept off the server's own network: :func:`check_webhook_url` refuses, when a
sink is configured, a URL whose host is loopback, link-local, private or
otherwise not global, unless the allow-list ``MLSTEWARD_WEBHOOK_ALLOW``
names it; :func:`post_webhook` checks again at delivery, after resolving the
host name, and connects to the address it checked (a name that resolves
elsewhere the second time cannot slip through). Deliveries run in workers
(the ``alert_deliver`` job), never inside a request.

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

import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from mlsteward.config import get_settings
from mlsteward.context import Context
from mlsteward.errors import InvalidInput
from mlsteward.monitoring.models import Alert, Incident
from mlsteward.monitoring.spec import mask_url
from mlsteward.plugins import PluginTable
from mlsteward.store.audit import read_head

__all__ = [
    "SINKS",
    "SINK_TABLE",
    "TRIGGERS",
    "TRIGGER_TABLE",
    "IncidentSink",
    "LogSink",
    "RetrainSink",
    "RetrainingTrigger",
    "Sink",
    "SinkFactory",
    "UnsafeWebhook",
    "WebhookSink",
    "check_sink_spec",
    "check_webhook_url",
    "post_webhook",
    "register_retraining_trigger",
    "retraining_triggers",
    "sink_types",
    "unregister_retraining_trigger",
]

logger = logging.getLogger("mlsteward.alerts")
# A library logs only where the application configured logging; without this,
# Python's last-resort handler would print every alert to stderr.
logger.addHandler(logging.NullHandler())


# -- webhook targets ----------------------------------------------------------
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeWebhook(InvalidInput):
    """A webhook's host is on an internal network the allow-list does not name."""

    code = "unsafe_webhook"


def _allow_list(text: str | None) -> tuple[set[str], list[Network]]:
    """Host names and networks of ``MLSTEWARD_WEBHOOK_ALLOW`` (comma-separated)."""
    if text is None:
        text = get_settings().webhook_allow
    hosts: set[str] = set()
    nets: list[Network] = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return hosts, nets


def _address(text: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def _internal(ip: Address, nets: list[Network]) -> bool:
    """Not a public address (loopback, link-local, private, shared, reserved,
    multicast, unspecified), and not in an allowed network."""
    if any(ip.version == n.version and ip in n for n in nets):
        return False
    return not ip.is_global or ip.is_multicast


def check_webhook_url(url: object, field: str, *, allow: str | None = None) -> str:
    """Return ``url`` if a webhook may post to it, else raise InvalidInput.

    An http(s) URL with a host and no user name or password in it (the sink's
    id shows the host); a literal address or ``localhost`` must be public or
    allowed. Host names are resolved only at delivery (:func:`post_webhook`),
    where every address is checked again.

    Args:
        url: The URL given.
        field: What the error names (``alerting.sinks[0].url``).
        allow: The allow-list (``MLSTEWARD_WEBHOOK_ALLOW``); ``None`` reads it
            from the environment, as a monitor spec is validated before any
            context exists.

    Example:
        >>> check_webhook_url("https://hooks.slack.com/services/T/B/x", "url")
        'https://hooks.slack.com/services/T/B/x'
    """
    text = str(url)
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts, host = urlsplit(""), ""
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(
            f"{field} must be an http(s) URL, got {mask_url(text)!r}", field=field
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"{field} carries a user name or password; put the webhook's secret "
            "in its path (the host is shown where the sink is listed)",
            field=field,
        )
    hosts, nets = _allow_list(allow)
    if host in hosts:
        return text
    ip = _address(host)
    if (ip is not None and _internal(ip, nets)) or (
        ip is None and (host == "localhost" or host.endswith(".localhost"))
    ):
        raise UnsafeWebhook(
            f"{field} points at {host!r}, an internal address (loopback, "
            "link-local or private); webhooks may reach such hosts only when "
            "MLSTEWARD_WEBHOOK_ALLOW names them (host names or CIDRs)",
            field=field,
        )
    return text


def _resolve(host: str, port: int, hosts: set[str], nets: list[Network]) -> str:
    """One address of ``host`` that a webhook may reach; every address the
    name resolves to must be allowed (a name with one internal address is
    refused whole)."""
    ip = _address(host)
    if ip is not None:
        found = [ip]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise RuntimeError(
                f"webhook host {host!r} does not resolve ({exc})"
            ) from None
        found = [a for a in (_address(str(i[4][0])) for i in infos) if a is not None]
    if not found:
        raise RuntimeError(f"webhook host {host!r} has no address")
    if host not in hosts:
        bad = [str(a) for a in found if _internal(a, nets)]
        if bad:
            raise UnsafeWebhook(
                f"webhook host {host!r} resolves to internal address(es) {bad}; "
                "not posted (MLSTEWARD_WEBHOOK_ALLOW may name the host or network)",
                field="url",
            )
    return str(found[0])


def post_webhook(url: str, payload: Any, *, timeout: float, allow: str | None) -> int:
    """POST ``payload`` as JSON to ``url`` after checking where it goes.

    The host is resolved, every address checked against the allow-list, and
    the connection made to the checked address (with the host name kept for
    the ``Host`` header and TLS), so a name cannot resolve to an internal
    address between the check and the request. No redirects are followed,
    no proxy from the environment is used, and each phase (connect, write,
    read) has ``timeout`` seconds. Errors never contain the URL (it holds
    the webhook's secret).

    Returns:
        The HTTP status of the answer.

    Raises:
        UnsafeWebhook: The host is internal and not allowed.
        RuntimeError: The host does not resolve, or the request failed.
    """
    import httpx

    check_webhook_url(url, "url", allow=allow)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hosts, nets = _allow_list(allow)
    ip = _resolve(host, port, hosts, nets)
    netloc = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    try:
        with httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False
        ) as http:
            response = http.post(
                pinned,
                json=payload,
                headers={"Host": parts.netloc},
                extensions={"sni_hostname": host},
            )
    except httpx.HTTPError as exc:
        # httpx's messages may quote the request's URL: never pass it on.
        text = str(exc).replace(pinned, mask_url(url)).replace(url, mask_url(url))
        raise RuntimeError(f"{type(exc).__name__}: {text}") from None
    return response.status_code


class Sink(Protocol):
    """Something an alert is delivered to; ``send`` raises on failure."""

    def send(self, alert: Alert) -> None: ...


@runtime_checkable
class IncidentSink(Protocol):
    """A sink that takes a whole incident as one message (an optional ability:
    a sink without ``send_incident`` is sent each alert on its own)."""

    def send(self, alert: Alert) -> None: ...

    def send_incident(self, incident: Incident) -> None: ...


SinkFactory = Callable[[Mapping[str, Any], Context], Sink]
RetrainingTrigger = Callable[[Alert, Context], None]


class LogSink:
    """Writes the alert to the ``mlsteward.alerts`` logger."""

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.spec = spec

    def send(self, alert: Alert) -> None:
        level = logging.ERROR if alert.severity == "critical" else logging.WARNING
        logger.log(level, "%s", alert.message)

    def send_incident(self, incident: Incident) -> None:
        level = logging.ERROR if incident.critical else logging.WARNING
        logger.log(level, "%s", incident.message)


class WebhookSink:
    """POSTs the alert as JSON to an incoming-webhook URL, with a timeout."""

    @staticmethod
    def check_spec(spec: Mapping[str, Any]) -> None:
        """The sink's own check of its spec (see :func:`check_sink_spec`)."""
        if spec.get("url") is not None:
            check_webhook_url(spec["url"], "url")

    def __init__(self, spec: Mapping[str, Any], ctx: Context) -> None:
        self.url = spec.get("url") or ctx.settings.alert_webhook_url
        self.format = spec.get("format", "slack")
        self.timeout = ctx.settings.alert_webhook_timeout
        self.ctx = ctx
        self.allow = ctx.settings.webhook_allow

    def payload(self, alert: Alert) -> dict[str, Any]:
        head = {"audit_head": read_head(self.ctx.store).to_dict()}  # a copy kept away
        if self.format == "discord":
            return {"content": alert.message, **head}
        if self.format == "json":
            return {"text": alert.message, "alert": alert.to_dict(), **head}
        return {"text": alert.message, **head}

    def incident_payload(self, incident: Incident) -> dict[str, Any]:
        """The digest: one chat message for the incident (its summary line,
        new items worst first, repeats folded into one line)."""
        head = {"audit_head": read_head(self.ctx.store).to_dict()}
        if self.format == "discord":
            return {"content": incident.message, **head}
        if self.format == "json":
            return {"text": incident.message, "incident": incident.to_dict(), **head}
        return {"text": incident.message, **head}

    def send(self, alert: Alert) -> None:
        self._post(self.payload(alert))

    def send_incident(self, incident: Incident) -> None:
        self._post(self.incident_payload(incident))

    def _post(self, payload: dict[str, Any]) -> None:
        if not self.url:
            raise RuntimeError(
                "no webhook URL: set MLSTEWARD_ALERT_WEBHOOK_URL or give the sink a url"
            )
        status = post_webhook(self.url, payload, timeout=self.timeout, allow=self.allow)
        if not 200 <= status < 300:
            raise RuntimeError(f"webhook answered HTTP {status}")


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
