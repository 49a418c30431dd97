"""Datasets: content-addressed versions with column roles and profiles.

The bundled German credit data: :func:`load_german_credit`.
"""

from mlsteward.datasets.bundled import load_german_credit
from mlsteward.datasets.models import ColumnRole, ColumnSpec, DatasetVersion

__all__ = ["ColumnRole", "ColumnSpec", "DatasetVersion", "load_german_credit"]
