"""Settings, read from the environment (``MLSTEWARD_*``) or passed explicitly.

There is no import-time singleton: :func:`get_settings` builds a fresh
:class:`Settings` each call, so tests and embedded users can point two clients
at two homes in one process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Where mlsteward keeps its metadata and artifacts.

    Attributes:
        home: Folder for the embedded default (``MLSTEWARD_HOME``,
            default ``./.mlsteward``).
        db_url: SQLAlchemy URL of the metadata store (``MLSTEWARD_DB_URL``);
            default a SQLite file ``mlsteward.db`` in ``home``. For PostgreSQL:
            ``postgresql+psycopg://user@host:5432/dbname``.
        artifacts_uri: fsspec URI of the artifact store
            (``MLSTEWARD_ARTIFACTS_URI``); default the folder ``artifacts`` in
            ``home``. ``s3://bucket/prefix`` with the ``s3`` extra.
        auto_upgrade: Apply pending migrations on first use
            (``MLSTEWARD_AUTO_UPGRADE``). On by default for the embedded
            store; a team deployment may turn it off and run
            ``mlsteward db upgrade`` itself.
        actor: Name recorded in the audit trail for local use
            (``MLSTEWARD_ACTOR``); defaults to the operating-system user.

    Example:
        >>> s = Settings(home="/tmp/ms")
        >>> s.resolved_db_url().startswith("sqlite:///")
        True
    """

    model_config = SettingsConfigDict(env_prefix="MLSTEWARD_", extra="ignore")

    home: Path = Field(default=Path(".mlsteward"))
    db_url: str | None = None
    artifacts_uri: str | None = None
    auto_upgrade: bool = True
    actor: str | None = None

    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.resolved_home() / 'mlsteward.db'}"

    def resolved_artifacts_uri(self) -> str:
        if self.artifacts_uri:
            return self.artifacts_uri
        return str(self.resolved_home() / "artifacts")

    def resolved_actor(self) -> str:
        if self.actor:
            return self.actor
        import getpass

        try:
            return getpass.getuser()
        except Exception:  # no user database entry (containers)
            return "local"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
