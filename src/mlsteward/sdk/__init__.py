"""The Python SDK: :class:`Client`, with the same method names as the services."""

from mlsteward.sdk.client import Client

__all__ = ["Client"]
