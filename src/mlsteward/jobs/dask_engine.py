"""Scoring chunks on a Dask distributed cluster.

The model itself never travels: each task carries a :class:`ModelSpec` (the
version's flavor, artifact sha256, signature and the artifact store's URI),
and each worker process fetches the artifact, verifies its sha256 and loads
it through its flavor's safe loader, once, then keeps it for later chunks.
Only plain data (the chunk's rows, the scores) is serialised.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput

__all__ = ["ModelSpec", "cached_models", "score_chunk", "score_on_cluster"]

_MODELS: OrderedDict[tuple[str, str], Any] = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MAX_MODELS = 4


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to load a model version itself.

    Attributes:
        ref: ``name/version``, for messages.
        flavor: Flavor name.
        sha256: Artifact id; the bytes are verified against it on load.
        signature: The version's signature as a dict.
        artifacts_uri: fsspec URI of the artifact store the worker reads.
        storage_options: fsspec options of that store (credentials, if the
            client was given any rather than reading them from the
            environment).
    """

    ref: str
    flavor: str
    sha256: str
    signature: dict[str, Any]
    artifacts_uri: str
    storage_options: dict[str, Any] = field(default_factory=dict)


def _load(spec: ModelSpec) -> Any:
    key = (spec.artifacts_uri, spec.sha256)
    with _MODELS_LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        from mlsteward.artifacts import ArtifactStore
        from mlsteward.flavors import get_flavor

        data = ArtifactStore(spec.artifacts_uri, **spec.storage_options).get(
            spec.sha256
        )  # verifies sha256
        model = get_flavor(spec.flavor).load(data)
        _MODELS[key] = model
        while len(_MODELS) > _MAX_MODELS:
            _MODELS.popitem(last=False)
        return model


def cached_models() -> list[str]:
    """sha256 of the models this process has loaded (for checks and tests)."""
    with _MODELS_LOCK:
        return [sha for _, sha in _MODELS]


def score_chunk(spec: ModelSpec, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Score one chunk on a worker: ``(scores, milliseconds spent predicting)``."""
    from mlsteward.flavors import get_flavor
    from mlsteward.registry.models import Signature
    from mlsteward.registry.signature import conform

    model = _load(spec)
    start = time.perf_counter()
    X = conform(Signature.from_dict(spec.signature), frame)
    scores = get_flavor(spec.flavor).predict_proba(model, X)
    return np.asarray(scores, dtype="float64"), (time.perf_counter() - start) * 1000


def _connect(scheduler: str | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise InvalidInput(
            "the dask engine needs dask.distributed; install it with "
            "`pip install 'mlsteward[dask]'` or use --engine local",
            field="engine",
        ) from exc
    if scheduler:
        try:
            return Client(scheduler, timeout=30), None
        except OSError as exc:
            raise InvalidInput(
                f"cannot reach the Dask scheduler at {scheduler!r}: {exc}",
                field="scheduler",
            ) from exc
    cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
    return Client(cluster), cluster


def score_on_cluster(
    chunks: Iterable[tuple[int, pd.DataFrame]],
    spec: ModelSpec,
    *,
    scheduler: str | None = None,
) -> Iterator[tuple[int, pd.DataFrame, np.ndarray, float]]:
    """Score chunks on a cluster, yielding them back in input order.

    At most two chunks per worker are in flight, so memory stays bounded
    however large the input.

    Args:
        chunks: ``(first row, frame)`` pairs, as :class:`ChunkReader` yields.
        spec: The model to load on each worker.
        scheduler: Address of a running scheduler (``tcp://host:8786``);
            default a ``LocalCluster`` of worker processes on this machine,
            closed at the end.

    Yields:
        ``(first row, frame, scores, milliseconds)`` per chunk.
    """
    client, cluster = _connect(scheduler)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or 1
        window = 2 * workers
        pending: deque[tuple[int, pd.DataFrame, Any]] = deque()

        def oldest() -> tuple[int, pd.DataFrame, np.ndarray, float]:
            first, chunk, fut = pending.popleft()
            try:
                scores, ms = fut.result()
            except InvalidInput as exc:
                raise InvalidInput(
                    f"rows {first + 1}-{first + len(chunk)}: {exc.message}",
                    field=exc.field,
                    **exc.details,
                ) from exc
            return first, chunk, scores, ms

        try:
            for start, frame in chunks:
                future = client.submit(score_chunk, spec, frame, pure=False)
                pending.append((start, frame, future))
                while len(pending) >= window:
                    yield oldest()
            while pending:
                yield oldest()
        finally:
            for _, _, fut in pending:
                fut.cancel()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
