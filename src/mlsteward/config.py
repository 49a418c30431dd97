"""Settings, read from the environment (``MLSTEWARD_*``) or passed explicitly.

There is no import-time singleton: :func:`get_settings` builds a fresh
:class:`Settings` each call, so tests and embedded users can point two clients
at two homes in one process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Where mlsteward keeps its metadata and artifacts.

    Attributes:
        home: Folder for the embedded default (``MLSTEWARD_HOME``,
            default ``./.mlsteward``).
        db_url: SQLAlchemy URL of the metadata store (``MLSTEWARD_DB_URL``);
            default a SQLite file ``mlsteward.db`` in ``home``. For PostgreSQL:
            ``postgresql+psycopg://user@host:5432/dbname``.
        artifacts_uri: fsspec URI of the artifact store
            (``MLSTEWARD_ARTIFACTS_URI``); default the folder ``artifacts`` in
            ``home``. ``s3://bucket/prefix`` with the ``s3`` extra; credentials
            come from the usual AWS sources (``AWS_ACCESS_KEY_ID`` and
            ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).
        artifacts_endpoint_url: Endpoint of an S3-compatible server other than
            AWS (``MLSTEWARD_ARTIFACTS_ENDPOINT_URL``, e.g. MinIO's
            ``http://minio.internal:9000``); used for ``s3://`` URIs only.
            Unset, the AWS SDK's own ``AWS_ENDPOINT_URL`` still applies.
        auto_upgrade: Apply pending migrations on first use
            (``MLSTEWARD_AUTO_UPGRADE``). On by default for the embedded
            store; a team deployment may turn it off and run
            ``mlsteward db upgrade`` itself.
        actor: Name recorded in the audit trail for local use
            (``MLSTEWARD_ACTOR``); defaults to the operating-system user.
        alert_webhook_url: Incoming-webhook URL of a chat tool for monitor
            alerts (``MLSTEWARD_ALERT_WEBHOOK_URL``); used by webhook sinks
            that name no URL of their own, so the secret stays out of the
            database.
        alert_webhook_timeout: Seconds a webhook POST may take.
        alert_cooldown_seconds: Default cool-down of a monitor's alerts: a
            repeat within it is folded into the first.
        alert_max_attempts: Delivery attempts before an alert is marked
            ``failed`` (it stays listed, and can be retried).
        token: API token the SDK and CLI act with (``MLSTEWARD_TOKEN``);
            never printed.
        url: A server to work against (``MLSTEWARD_URL``,
            ``http://host:8000``): the CLI and ``mlsteward.Client()`` then
            speak its REST API with ``token`` and need no database.
        audit_key: Secret that keys an HMAC-SHA256 on every new audit event
            (``MLSTEWARD_AUDIT_KEY``, at least 16 characters). It lives outside
            the database, so a rewrite of the audit history with recomputed
            hashes cannot recompute the HMACs; ``audit verify`` checks them
            when it is set. Never logged, printed or stored.
        auth_required: The HTTP API demands a bearer token on every endpoint
            but health and metrics (``MLSTEWARD_AUTH_REQUIRED``, default on).
            Turn it off only for a single-user machine.
        api_max_body_bytes: Largest request body the control plane
            (``/api/v1``) reads (``MLSTEWARD_API_MAX_BODY_BYTES``, default
            10 MiB); larger bodies get 413, counted as they stream in.
        api_auth_cache_seconds: How long the control plane trusts a token it
            has checked before it looks the token up again
            (``MLSTEWARD_API_AUTH_CACHE_SECONDS``, default 2; 0 looks up every
            request). A change made through this server (revoke, disable,
            role change) takes effect at once; one made elsewhere within this
            many seconds for reads. Every change is re-checked against the
            token and user rows in its own transaction, whatever the cache.
        web_session_minutes: How long a dashboard sign-in lasts
            (``MLSTEWARD_WEB_SESSION_MINUTES``, default 480, at most a week).
        webhook_allow: Hosts and networks alert and notification webhooks may
            reach although they are loopback, link-local, private or otherwise
            internal (``MLSTEWARD_WEBHOOK_ALLOW``, comma-separated host names
            and CIDRs, e.g. ``chat.internal,10.2.0.0/16``); default none, so a
            webhook cannot be pointed at the server's own network.
        mlflow_import_hosts: MLflow tracking servers ``mlsteward server``
            imports from when asked over REST (``POST /api/v1/imports/mlflow``;
            ``MLSTEWARD_MLFLOW_IMPORT_HOSTS``, comma-separated ``host`` or
            ``host:port``); default none, so a caller cannot make the server
            fetch from an address of its choosing. An import run in process
            (the CLI or SDK with the stores) is not limited.
        serving_max_body_bytes: Largest request body the inference server
            reads (``MLSTEWARD_SERVING_MAX_BODY_BYTES``, default 1 MiB); larger
            bodies get 413.
        serving_max_rows: Most records in one request (default 1000).
        serving_max_batch_rows: Most rows the server scores in one
            micro-batch, gathered from concurrent requests (default 256).
        serving_max_wait_ms: How long a micro-batch waits for more requests
            before scoring (default 0: score at once; batches form from the
            requests that arrive while the previous batch is scored).
        serving_log_fsync: Answers wait until their prediction records are
            fsynced to the local journal (group commit), so an answered
            request survives a machine crash, not only a killed process
            (``MLSTEWARD_SERVING_LOG_FSYNC``, default off).
        serving_log_flush_ms: How often the journal is copied into the
            prediction log table (default 200 ms).
        serving_poll_seconds: How often a running server checks the store
            for deployment changes (default 1 s).
        serving_auth_grace_seconds: While the metadata database is out, how
            long after its last successful check a token is still let in to
            the inference server (``MLSTEWARD_SERVING_AUTH_GRACE_SECONDS``,
            default 900 s; 0 turns the grace off). A token seen refused
            stays refused.
        serving_journal_dir: Folder of the prediction journal (default
            ``serving/journal`` in ``home``); must be a local file system.
        jobs_lease_seconds: How long a worker holds a claimed job without a
            heartbeat before another worker may take it over
            (``MLSTEWARD_JOBS_LEASE_SECONDS``, default 60 s; workers renew
            it every third of that).
        jobs_poll_seconds: How often an idle worker looks for due jobs
            (default 1 s).
        jobs_schedule_seconds: How often a worker queues due monitors and
            scheduled retrainings (default 30 s; ``mlsteward worker``).
        jobs_retry_base_seconds: Back-off after a job's first failed attempt;
            it doubles with each further attempt (default 10 s).
        jobs_retry_max_seconds: Longest back-off between attempts (default
            1 hour).

    Example:
        >>> s = Settings(home="/tmp/ms")
        >>> s.resolved_db_url().startswith("sqlite:///")
        True
    """

    # Errors name the field but never echo its value: the token and the audit
    # key are secrets, and a wrong one is still close to the right one.
    model_config = SettingsConfigDict(
        env_prefix="MLSTEWARD_", extra="ignore", hide_input_in_errors=True
    )

    home: Path = Field(default=Path(".mlsteward"))
    db_url: str | None = None
    artifacts_uri: str | None = None
    artifacts_endpoint_url: str | None = None
    auto_upgrade: bool = True
    actor: str | None = None
    alert_webhook_url: str | None = None
    alert_webhook_timeout: float = 5.0
    alert_cooldown_seconds: int = 86400
    alert_max_attempts: int = 10
    auth_required: bool = True
    token: str | None = Field(default=None, repr=False)
    url: str | None = None
    audit_key: SecretStr | None = Field(default=None, repr=False, min_length=16)
    api_max_body_bytes: int = Field(default=10 * 1_048_576, ge=1024)
    api_auth_cache_seconds: float = Field(default=2.0, ge=0.0, le=300.0)
    web_session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    webhook_allow: str = ""
    mlflow_import_hosts: str = ""
    serving_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    serving_max_rows: int = Field(default=1000, ge=1)
    serving_max_batch_rows: int = Field(default=256, ge=1)
    serving_max_wait_ms: float = Field(default=0.0, ge=0.0)
    serving_log_fsync: bool = False
    serving_log_flush_ms: int = Field(default=200, ge=1)
    serving_poll_seconds: float = Field(default=1.0, gt=0.0)
    serving_auth_grace_seconds: float = Field(default=900.0, ge=0.0)
    serving_journal_dir: Path | None = None
    jobs_lease_seconds: float = Field(default=60.0, gt=0.0)
    jobs_poll_seconds: float = Field(default=1.0, gt=0.0)
    jobs_schedule_seconds: float = Field(default=30.0, gt=0.0)
    jobs_retry_base_seconds: float = Field(default=10.0, ge=0.0)
    jobs_retry_max_seconds: float = Field(default=3600.0, ge=0.0)

    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.resolved_home() / 'mlsteward.db'}"

    def resolved_artifacts_uri(self) -> str:
        if self.artifacts_uri:
            return self.artifacts_uri
        return str(self.resolved_home() / "artifacts")

    def artifacts_storage_options(self) -> dict[str, object]:
        """fsspec options of the artifact store: the S3 endpoint, if one is
        set and the store is on S3."""
        scheme = self.resolved_artifacts_uri().split("://", 1)[0].lower()
        if self.artifacts_endpoint_url and scheme in ("s3", "s3a"):
            return {"endpoint_url": self.artifacts_endpoint_url}
        return {}

    def resolved_actor(self) -> str:
        if self.actor:
            return self.actor
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no user database entry (containers)
            return "local"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
