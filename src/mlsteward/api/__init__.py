"""The REST control plane: ``create_app(settings)``, one router per capability."""

from mlsteward.api.app import create_app

__all__ = ["create_app"]
