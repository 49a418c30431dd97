"""Bearer tokens on the inference server, checked against the database at
most every ``TTL`` seconds per token, and ridden through a database outage.

A token check costs a database read, and the hot path cannot pay one per
request: answers are cached for :data:`TTL` seconds, so a revoked token
stops working within that. When the database cannot be reached, a token
whose last check succeeded less than ``serving_auth_grace_seconds`` ago (15
minutes by default) is still let in (each such check counted in
``mlsteward_stale_token_checks``; the database is asked again once per TTL);
a token the database refused is refused for as long as the outage lasts; a
token never seen gets ``503`` with ``Retry-After``: serving never lets in a
token it could not check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mlsteward.context import Context
from mlsteward.errors import Forbidden
from mlsteward.serving.outages import Outages, database_errors

__all__ = ["TTL", "InferenceAuth"]

#: Seconds a token's answer is reused before the database is asked again.
TTL = 10.0
#: Tokens remembered, each way; beyond, the oldest half is forgotten.
_MAX_TOKENS = 4096


class InferenceAuth:
    """Who may call which deployment, by bearer token.

    Args:
        ctx: The stores and settings (``auth_required``,
            ``serving_auth_grace_seconds``).
        outages: Where a failed check opens a ``database`` episode.
    """

    def __init__(self, ctx: Context, outages: Outages) -> None:
        self.ctx = ctx
        self.outages = outages
        self.required = bool(getattr(ctx.settings, "auth_required", False))
        self.grace = float(getattr(ctx.settings, "serving_auth_grace_seconds", 900))
        # token -> (checked again after, last checked, principal)
        self._good: dict[str, tuple[float, float, Any]] = {}
        # token -> (checked again after, the refusal)
        self._refused: dict[str, tuple[float, Forbidden]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._errors = database_errors()

    async def check(self, header: str | None, deployment: str) -> None:
        """Raise unless the header's token may call ``deployment``.

        Raises:
            Unauthenticated: no token, or one the database refused.
            Forbidden: the token's user may not call ``deployment``.
            Unavailable: the database is out and the token was not checked
                within the grace period.
        """
        if not self.required:
            return
        scheme, _, token = (header or "").partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else ""
        now = time.monotonic()
        hit = self._good.get(presented)
        if hit is not None and hit[0] > now:
            principal = hit[2]
        else:
            # One database check per token at a time: the requests that
            # arrive meanwhile wait for its answer rather than each asking.
            pending = self._pending.get(presented)
            if pending is None:
                pending = asyncio.ensure_future(self._ask(presented))
                self._pending[presented] = pending
                pending.add_done_callback(lambda _: self._pending.pop(presented, None))
            principal = await asyncio.shield(pending)
        if not principal.can_infer(deployment):
            raise Forbidden(
                f"{principal.user} may not call deployment {deployment!r}",
                field="token",
            )

    async def _ask(self, presented: str) -> Any:
        """The database's answer for the token, or the last known one."""
        from mlsteward.identity.service import IdentityService

        now = time.monotonic()
        refused = self._refused.get(presented)
        if refused is not None and refused[0] > now:
            raise _again(refused[1])
        try:
            principal = await asyncio.to_thread(
                IdentityService(self.ctx).authenticate, presented or None
            )
        except Forbidden as exc:
            self.outages.recovered("database")
            self._good.pop(presented, None)
            _bounded(self._refused)[presented] = (now + TTL, exc)
            raise
        except self._errors as exc:
            self.outages.failed("database", exc)
            return self._last_known(presented, refused, now)
        self.outages.recovered("database")
        self._refused.pop(presented, None)
        self._good.pop(presented, None)  # to the end: the newest is kept longest
        _bounded(self._good)[presented] = (now + TTL, now, principal)
        return principal

    def _last_known(
        self, presented: str, refused: tuple[float, Forbidden] | None, now: float
    ) -> Any:
        if refused is not None:
            raise _again(refused[1])  # a revoked token stays revoked
        hit = self._good.get(presented)
        if hit is not None and now - hit[1] <= self.grace:
            # Ask the database again for this token only after another TTL.
            self._good[presented] = (now + TTL, hit[1], hit[2])
            self.outages.metrics.stale_tokens.inc()
            return hit[2]
        raise self.outages.unavailable(
            "database",
            "cannot check the token: the metadata database is unreachable "
            "and this token was not checked in the last "
            f"{self.grace:.0f} s (MLSTEWARD_SERVING_AUTH_GRACE_SECONDS); "
            "try again shortly",
        )


def _again(exc: Forbidden) -> Forbidden:
    """A new copy of a remembered refusal: raising one object again and
    again would grow its traceback with every request."""
    return type(exc)(exc.message, field=exc.field, **exc.details)


def _bounded(cache: dict[str, Any]) -> dict[str, Any]:
    """``cache``, with its oldest half forgotten if it is full (a flood of
    made-up tokens cannot push every real one out at once)."""
    if len(cache) >= _MAX_TOKENS:
        for key in list(cache)[: _MAX_TOKENS // 2]:
            del cache[key]
    return cache
