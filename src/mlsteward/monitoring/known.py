"""Names a monitor's results can be asked for: an unknown check or column is
a typo, refused with what the monitor does compute."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mlsteward.errors import InvalidInput
from mlsteward.monitoring.models import Monitor
from mlsteward.monitoring.tables import monitor_results as rt

__all__ = ["require_known"]


def require_known(
    session: Any, monitor: Monitor, *, check: str | None, column: str | None
) -> None:
    """No results for a check or column the monitor never computed is a typo:
    say so, with what it does compute (an empty answer is left for a name
    that exists but has nothing in the asked window)."""
    for field, value, col in (
        ("check", check, rt.c.check),
        ("column", column, rt.c.column),
    ):
        if value is None:
            continue
        known = sorted(
            session.execute(
                select(col).where(rt.c.monitor_id == monitor.id).distinct()
            ).scalars()
        )
        if not known:
            return  # the monitor has not run yet: nothing to compare with
        family = value.rstrip(".")
        if field == "check" and any(
            k == family or k.startswith(f"{family}.") for k in known
        ):
            continue
        if field == "column" and value in known:
            continue
        raise InvalidInput(
            f"monitor {monitor.name!r} has no {field} {value!r}; it has: "
            + ", ".join(known),
            field=field,
        )
