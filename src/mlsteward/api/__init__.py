"""The REST control plane: ``create_app(settings)``, one router per capability.

``create_app`` is imported on use, so the inference server (``api.inference``)
does not load FastAPI and the control plane's dependencies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mlsteward.api.app import create_app

        return create_app
    raise AttributeError(f"module 'mlsteward.api' has no attribute {name!r}")
