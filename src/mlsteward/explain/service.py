"""Build the :class:`~mlsteward.explain.explainer.Explainer` of a registered
model version against its own training data.

Serving calls :func:`explainer_for` once per loaded version (at load time,
not per request) and keeps the explainer beside the model; ``?explain=true``
then costs one :meth:`Explainer.explain` call on the request's rows.
"""

from __future__ import annotations

from typing import Any

from mlsteward.context import Context
from mlsteward.datasets.service import DatasetService
from mlsteward.explain.explainer import Explainer
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import LoadedModel

__all__ = ["explainer_for", "training_dataset"]


def training_dataset(ctx: Context, mv: ModelVersion) -> str | None:
    """The dataset version the version was trained on (its run's first
    ``training`` input, else its first input), or ``None`` if none is recorded.
    """
    if mv.run_id is None:
        return None
    inputs = RunService(ctx).get(mv.run_id).inputs
    training = [i["dataset"] for i in inputs if i["context"] == "training"]
    found = training or [i["dataset"] for i in inputs]
    return found[0] if found else None


def explainer_for(
    ctx: Context,
    loaded: LoadedModel,
    *,
    top_k: int = 4,
    use_frame: bool = False,
    **options: Any,
) -> Explainer:
    """A fitted explainer of ``loaded`` against its training population.

    Args:
        ctx: Stores to read the version's lineage from.
        loaded: The model as :meth:`ModelRegistry.load` returned it.
        top_k: Default number of reasons per row.
        use_frame: Load the training table itself (checksum-verified) instead
            of using its stored profile. The profile needs no data and is
            exact for linear scorecards and LightGBM; the frame makes the
            occlusion method's numeric representatives exact too.
        **options: Passed to :class:`Explainer` (``method``,
            ``reason_codes``, ``max_background``).

    Raises:
        InvalidInput: The method needs a reference and no training dataset
            is recorded for the version.

    Example:
        >>> loaded = ModelRegistry(ctx).load("credit-risk@champion")  # doctest: +SKIP
        >>> explainer = explainer_for(ctx, loaded)  # doctest: +SKIP
        >>> explainer.explain(rows)[0][0].code  # doctest: +SKIP
        'RC-STATUS_OF_EXISTING_CHECKING_ACCOUNT'
    """
    ref = training_dataset(ctx, loaded.version)
    reference: Any = None
    if ref is not None:
        datasets = DatasetService(ctx)
        reference = datasets.load(ref) if use_frame else datasets.get(ref).profile
    return Explainer(loaded, reference, top_k=top_k, **options).fit()
