"""Identity domain types: users and their tokens (never the secrets)."""

from __future__ import annotations

from pydantic import computed_field

from mlsteward.results import Result, Timestamp
from mlsteward.store.types import utcnow

__all__ = ["Token", "User"]


class User(Result):
    name: str
    role: str
    disabled: bool
    created_at: Timestamp
    created_by: str


class Token(Result):
    """A token's record; its secret is shown once, in ``CreatedToken``."""

    id: str
    user: str
    scope: str
    description: str
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        now = utcnow()
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > now
        )
