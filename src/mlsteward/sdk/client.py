"""``mlsteward.Client``: the services of one mlsteward home, in process.

The client holds no state of its own; every call is one use case of a service,
one transaction. A later remote mode speaks the same method names over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlsteward.config import Settings, get_settings
from mlsteward.context import Context
from mlsteward.monitoring.outcomes import LoadResult, OutcomeService
from mlsteward.sdk.governance import GovernanceMixin
from mlsteward.sdk.jobs import JobsMixin
from mlsteward.sdk.monitoring import MonitoringMixin
from mlsteward.sdk.registry import RegistryMixin
from mlsteward.sdk.retraining import RetrainingMixin
from mlsteward.sdk.serving import ServingMixin
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.scoring import ScoringService
from mlsteward.store.audit import AuditEvent, ChainHead, ChainReport

__all__ = ["Client"]


class Client(
    RegistryMixin,
    ServingMixin,
    MonitoringMixin,
    RetrainingMixin,
    GovernanceMixin,
    JobsMixin,
):
    """Everything a data scientist does, against the embedded store by default.

    Args:
        settings: Where to keep metadata and artifacts; read from the
            ``MLSTEWARD_*`` environment when omitted.
        actor: Who acts, for the audit trail (default: the settings' actor).
        token: An API token (default ``MLSTEWARD_TOKEN``): the client then
            acts as the token's user, and a wrong token is refused at once.
        **overrides: Shortcuts for settings fields (``home=...``,
            ``db_url=...``, ``artifacts_uri=...``).

    Example:
        >>> import mlsteward
        >>> client = mlsteward.Client(home="/tmp/ms-doc")  # doctest: +SKIP
        >>> df = mlsteward.datasets.load_german_credit()  # doctest: +SKIP
        >>> client.datasets.register(data=df, name="german-credit")  # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        actor: str | None = None,
        token: str | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings or get_settings(**overrides)
        ctx = Context.from_settings(settings)
        token = token or settings.token
        if token:
            # Act as the token's user, with its role, as the HTTP API would.
            from mlsteward.identity.service import IdentityService

            ctx = ctx.as_principal(IdentityService(ctx).authenticate(token))
        elif actor:
            ctx = ctx.as_actor(actor)
        self.ctx = ctx
        self._log = PredictionLog(self.ctx)
        self._scoring = ScoringService(self.ctx)
        self._outcomes = OutcomeService(self.ctx)

    # -- store ------------------------------------------------------------
    def upgrade(self) -> str | None:
        """Apply pending migrations; return the revision now in force."""
        return self.ctx.store.upgrade()

    def close(self) -> None:
        self.stop_worker()
        self.ctx.store.dispose()

    # -- predictions and outcomes ----------------------------------------
    def score(
        self,
        ref: str,
        frame: pd.DataFrame,
        *,
        deployment: str,
        threshold: float = 0.5,
        request_ids: Sequence[str] | None = None,
        timestamps: Sequence[dt.datetime] | None = None,
        log_columns: Sequence[str] = (),
        pii: Sequence[str] = (),
    ) -> pd.DataFrame:
        return self._scoring.score(
            ref,
            frame,
            deployment=deployment,
            threshold=threshold,
            request_ids=request_ids,
            timestamps=timestamps,
            log_columns=log_columns,
            pii=pii,
        )

    def predictions(
        self,
        *,
        deployment: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        return self._log.read(
            deployment=deployment, since=since, until=until, limit=limit
        )

    def load_outcomes(self, data: pd.DataFrame | str | Path) -> LoadResult:
        return self._outcomes.load(data)

    def labelled_window(
        self,
        *,
        deployment: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> pd.DataFrame:
        return self._outcomes.labelled_window(
            deployment=deployment, since=since, until=until
        )

    # -- audit ------------------------------------------------------------
    def audit_log(
        self,
        *,
        object_id: str | None = None,
        object_type: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """The newest ``limit`` audit events that pass every filter, oldest
        first (``action`` is a prefix; times need a time zone).

        Example:
            >>> client.audit_log(object_id="credit-risk/3")  # doctest: +SKIP
            [AuditEvent(seq=4, ..., action='model_version.registered', ...)]
        """
        from mlsteward.governance.records import AuditService

        return AuditService(self.ctx).log(
            object_id=object_id,
            object_type=object_type,
            actor=actor,
            action=action,
            since=since,
            until=until,
            limit=limit,
        )

    def audit_head(self) -> ChainHead:
        """The newest audit event's number and hash (``str()`` gives
        ``SEQ:HASH``): keep it outside the database.

        Example:
            >>> str(client.audit_head())  # doctest: +SKIP
            '42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
        """
        from mlsteward.governance.records import AuditService

        return AuditService(self.ctx).head()

    def verify_audit(
        self, *, expect_head: ChainHead | str | None = None
    ) -> ChainReport:
        """Recompute the audit chain (and its HMACs, with MLSTEWARD_AUDIT_KEY);
        given ``expect_head`` (``SEQ:HASH``), check it still reaches that event.

        Example:
            >>> report = client.verify_audit(expect_head=kept)  # doctest: +SKIP
            >>> report.ok, report.problems  # doctest: +SKIP
            (True, [])
        """
        from mlsteward.governance.records import AuditService

        return AuditService(self.ctx).verify(expect_head=expect_head)
