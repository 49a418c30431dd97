"""Prometheus metrics of a serving process, on a registry of its own."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ServingMetrics"]

_LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class ServingMetrics:
    """Counters and histograms by deployment and version.

    Attributes:
        requests: Answered and refused requests by deployment, endpoint
            (``predict`` or ``v2``) and HTTP status code.
        latency: Seconds from the body read to the answer, by deployment
            and the version that answered (a request split between champion
            and canary is observed once per version).
        predictions: Records scored, by deployment, version and route.
        errors: Refused or failed requests by deployment and reason
            (``invalid_input``, ``malformed_request``, ``request_too_large``,
            ``not_found``, ``unauthenticated``, ``forbidden``, ``internal``).
        shadow_predictions / shadow_errors / shadow_dropped: Shadow work.
        batch_rows: Rows per model call (micro-batching at work).
        log_written / log_errors / log_pending: The prediction log writer.
        revision: Deployment revision each deployment is serving.
        outages / degraded / stale_tokens: Outage episodes by cause (see
            :mod:`mlsteward.serving.outages`).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "mlsteward_requests",
            "Inference requests by deployment, endpoint and status code.",
            ["deployment", "endpoint", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "mlsteward_request_latency_seconds",
            "Time from request body read to answer, by deployment and version.",
            ["deployment", "version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "mlsteward_predictions",
            "Records scored and answered.",
            ["deployment", "version", "route"],
            registry=r,
        )
        self.errors = Counter(
            "mlsteward_request_errors",
            "Requests refused or failed, by reason.",
            ["deployment", "reason"],
            registry=r,
        )
        self.shadow_predictions = Counter(
            "mlsteward_shadow_predictions",
            "Records scored by shadow versions (logged, never returned).",
            ["deployment", "version"],
            registry=r,
        )
        self.shadow_errors = Counter(
            "mlsteward_shadow_errors",
            "Shadow scoring failures.",
            ["deployment", "version"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "mlsteward_shadow_dropped",
            "Shadow copies dropped because the shadow backlog was full.",
            ["deployment"],
            registry=r,
        )
        self.batch_rows = Histogram(
            "mlsteward_batch_rows",
            "Rows per model call.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.log_written = Counter(
            "mlsteward_log_records_written",
            "Prediction records committed to the prediction log table.",
            registry=r,
        )
        self.log_errors = Counter(
            "mlsteward_log_write_errors",
            "Failed prediction log writes (records stay journaled).",
            registry=r,
        )
        self.log_pending = Gauge(
            "mlsteward_log_records_pending",
            "Journaled prediction records not yet in the table.",
            registry=r,
        )
        self.revision = Gauge(
            "mlsteward_deployment_revision",
            "Deployment revision being served.",
            ["deployment"],
            registry=r,
        )
        self._outage_metrics(r)
        self._children: dict[tuple[str, ...], Any] = {}

    def _outage_metrics(self, r: CollectorRegistry) -> None:
        self.outages = Counter(
            "mlsteward_outages",
            "Outage episodes begun, by cause (database, journal).",
            ["cause"],
            registry=r,
        )
        self.degraded = Gauge(
            "mlsteward_degraded",
            "1 while an outage of the cause is open, else 0.",
            ["cause"],
            registry=r,
        )
        self.stale_tokens = Counter(
            "mlsteward_stale_token_checks",
            "Token checks answered by the token's last successful check "
            "because the metadata database was out.",
            registry=r,
        )

    def answered(self, deployment: str, version: int, route: str) -> tuple[Any, Any]:
        """The latency histogram and prediction counter of one route (looked
        up once, then cached: the hot path pays no label resolution)."""
        key = ("answered", deployment, str(version), route)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.latency.labels(deployment, str(version)),
                self.predictions.labels(deployment, str(version), route),
            )
        return found  # type: ignore[no-any-return]

    def ok(self, deployment: str, endpoint: str) -> Any:
        """The counter of answered (200) requests of one endpoint, cached."""
        key = ("ok", deployment, endpoint)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = self.requests.labels(
                deployment, endpoint, "200"
            )
        return found
