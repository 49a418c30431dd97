"""What every service needs: the metadata store, the artifact store, the actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsteward.artifacts import ArtifactStore
from mlsteward.config import Settings, get_settings
from mlsteward.store import Store

__all__ = ["Context"]


@dataclass
class Context:
    """The shared parts services run against.

    Args:
        store: Metadata store.
        artifacts: Artifact store.
        actor: Who is acting, as recorded in the audit trail.
        settings: The settings these were built from.

    Example:
        >>> ctx = Context.from_settings(Settings(home="/tmp/ms"))  # doctest: +SKIP
    """

    store: Store
    artifacts: ArtifactStore
    actor: str
    settings: Settings = field(default_factory=get_settings)
    #: The authenticated caller, where an adapter authenticated one.
    principal: Any = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Context:
        settings = settings or get_settings()
        return cls(
            store=Store.from_settings(settings),
            artifacts=ArtifactStore(
                settings.resolved_artifacts_uri(),
                **settings.artifacts_storage_options(),
            ),
            actor=settings.resolved_actor(),
            settings=settings,
        )

    def as_actor(self, actor: str) -> Context:
        """The same stores, another actor."""
        return Context(self.store, self.artifacts, actor, self.settings)

    def as_principal(self, principal: Any) -> Context:
        """The same stores, acting as an authenticated principal."""
        return Context(
            self.store, self.artifacts, principal.user, self.settings, principal
        )
