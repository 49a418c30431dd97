"""The control plane's short memory of checked tokens.

Looking a token up costs a database read and a hop to a worker thread on
every request; a client that makes many calls in a row presents the same
token each time. :class:`PrincipalCache` keeps the principal a token stood
for, keyed by the token's SHA-256 (the secret itself is not kept), for
``MLSTEWARD_API_AUTH_CACHE_SECONDS``. An entry is dropped when any identity
change (a revoke, a disabled user, a role change) has been made in this
process since it was learnt, so a change made through this server counts at
once. Only successful checks are kept: a refused token is looked up again.

The cache only spares the lookup before the route runs. A change is still
re-checked against the token and user rows inside its own transaction
(``identity.access.recheck``), so a revoked token cannot finish one.
"""

from __future__ import annotations

import hashlib
import time

from mlsteward.identity.access import Principal
from mlsteward.identity.service import identity_generation

__all__ = ["PrincipalCache"]


class PrincipalCache:
    """Principals by token digest, each for ``seconds`` at most.

    Example:
        >>> cache = PrincipalCache(2.0)
        >>> cache.get("msw_x_y") is None
        True
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[bytes, tuple[Principal, float, int]] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str | None) -> Principal | None:
        """The principal ``token`` stood for, if learnt recently enough."""
        if not token or self.seconds <= 0:
            return None
        entry = self._entries.get(self._key(token))
        if entry is None:
            return None
        principal, until, generation = entry
        if time.monotonic() >= until or generation != identity_generation():
            self._entries.pop(self._key(token), None)
            return None
        return principal

    def generation(self) -> int:
        """The identity generation to pass to :meth:`put`, read *before* the
        lookup, so a change committed during it invalidates the answer."""
        return identity_generation()

    def put(self, token: str, principal: Principal, generation: int) -> None:
        """Remember a successful check made at ``generation``."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        until = time.monotonic() + self.seconds
        self._entries[self._key(token)] = (principal, until, generation)
