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
from mlsteward.monitoring.outcomes import LoadResult
from mlsteward.sdk.governance import GovernanceMixin
from mlsteward.sdk.jobs import JobsMixin
from mlsteward.sdk.monitoring import MonitoringMixin
from mlsteward.sdk.outcomes import Outcomes
from mlsteward.sdk.registry import RegistryMixin
from mlsteward.sdk.retraining import RetrainingMixin
from mlsteward.sdk.serving import ServingMixin
from mlsteward.serving.log.service import PredictionLog
from mlsteward.serving.scoring import ScoringService

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
        self._use(ctx)

    def _use(self, ctx: Context) -> None:
        self.ctx = ctx
        self._log = PredictionLog(self.ctx)
        self._scoring = ScoringService(self.ctx)

    def login(self, token: str) -> Any:
        """Act from now on as the user of ``token`` (checked now); returns the
        principal. The same as ``Client(token=...)``, for a client at hand.

        Raises:
            Unauthenticated: The token is not valid.

        Example:
            >>> client.login(os.environ["MLSTEWARD_TOKEN"]).role  # doctest: +SKIP
            'developer'
        """
        from mlsteward.identity.service import IdentityService

        principal = IdentityService(self.ctx).authenticate(token)
        self._use(self.ctx.as_principal(principal))
        return principal

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

    @property
    def outcomes(self) -> Outcomes:
        """Outcomes: load, labelled_window."""
        return Outcomes(self.ctx)

    def load_outcomes(self, data: pd.DataFrame | str | Path) -> LoadResult:
        """Use ``client.outcomes.load``; this delegates to it."""
        return self.outcomes.load(data)

    def labelled_window(
        self,
        *,
        deployment: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """Use ``client.outcomes.labelled_window``; this delegates to it."""
        return self.outcomes.labelled_window(
            deployment=deployment, since=since, until=until
        )
