"""Client methods of outcomes: ``client.outcomes``.

Loading outcomes has no options, so no spec: the data (a frame or a table
file) is the argument, as in ``OutcomeService.load``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from mlsteward.context import Context
from mlsteward.monitoring.outcomes import LoadResult, OutcomeService

__all__ = ["Outcomes"]


class Outcomes:
    """``client.outcomes``: true outcomes joined to logged predictions.

    Example:
        >>> client.outcomes.load("outcomes.csv").loaded  # doctest: +SKIP
        412
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = OutcomeService(ctx)

    def load(self, data: pd.DataFrame | str | Path) -> LoadResult:
        """Load outcomes by request id, all or nothing: ``request_id``,
        ``label`` (0 good, 1 bad) and optionally ``observed_at``.

        Raises:
            InvalidInput: A missing column, a bad label or an unknown request
                id, named; nothing is loaded.
            Conflict: A request id already has a different label.

        Example:
            >>> client.outcomes.load(pd.DataFrame({"request_id": ["r-1"],
            ...                                    "label": [1]}))  # doctest: +SKIP
            LoadResult(loaded=1, unchanged=0)
        """
        return self._svc.load(data)

    def labelled_window(
        self,
        *,
        deployment: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """A deployment's predictions of a window with their outcomes
        (``label`` is NaN where none has arrived).

        Example:
            >>> client.outcomes.labelled_window(deployment="credit-risk")
            ... # doctest: +SKIP
        """
        return self._svc.labelled_window(
            deployment=deployment, since=since, until=until
        )
