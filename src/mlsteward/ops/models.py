"""What a check answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from mlsteward.results import Result

__all__ = ["STATUSES", "Finding", "Status", "worst"]

Status = Literal["ok", "skip", "warn", "fail"]

#: The statuses from best to worst.
STATUSES: tuple[Status, ...] = ("ok", "skip", "warn", "fail")


class Finding(Result):
    """One check's answer.

    Attributes:
        check: Which part of the setup (``database``, ``artifacts``, ...).
        status: ``ok``; ``skip`` (not configured, or not checkable here);
            ``warn`` (works, but something needs attention); ``fail`` (does
            not work).
        message: One line in plain words.
        fix: What to do, when the status is not ``ok``: a command or setting.

    Example:
        >>> Finding(check="dask", status="skip", message="not configured").fix is None
        True
    """

    check: str
    status: Status
    message: str
    fix: str | None = None


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of ``statuses`` (``ok`` for none).

    Example:
        >>> worst(["ok", "warn", "skip"])
        'warn'
    """
    return max(statuses, key=STATUSES.index, default="ok")
