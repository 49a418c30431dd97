"""``mlsteward`` with the prediction log switched off, to price the log.

For ``bench/serving.py`` only, while mlsteward has no setting that turns the
log off (it promises that every answered prediction is logged, so it should
not have one for users). It replaces the serving runtime's journaling step
with a no-op and then runs the ordinary CLI, so the only difference from
``python -m mlsteward`` is that nothing is journaled or written to the store.

Usage: ``python bench/mlsteward_nolog.py serve NAME --host H --port P``.
"""

from __future__ import annotations

from typing import Any

from mlsteward.serving import runtime


async def _not_logged(self: Any, *args: Any, **kwargs: Any) -> None:
    return None


if not hasattr(runtime.ServingRuntime, "_journal_answers"):
    raise SystemExit(
        "mlsteward.serving.runtime.ServingRuntime._journal_answers is gone; "
        "update bench/mlsteward_nolog.py to the runtime's journaling step"
    )
runtime.ServingRuntime._journal_answers = _not_logged  # type: ignore[method-assign]

if __name__ == "__main__":
    from mlsteward.cli import main

    main()
