"""Model flavors: save, load safely and call each kind of model.

Flavors are found by name in the literal table :data:`FLAVORS`; third-party
packages add more through the ``mlsteward.flavors`` entry-point group (the
entry point's value is ``"module:Class"``). A flavor module, and the heavy
library behind it (scikit-learn, skops, LightGBM), is imported only when the
flavor is first used, so ``import mlsteward.flavors`` stays cheap.

Example:
    >>> from mlsteward.flavors import flavor_for, get_flavor
    >>> flavor = flavor_for(fitted_model)  # doctest: +SKIP
    >>> data = flavor.save(fitted_model)  # doctest: +SKIP
    >>> model = get_flavor(flavor.name).load(data)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from mlsteward.errors import InvalidInput
from mlsteward.flavors.base import Flavor
from mlsteward.plugins import PluginTable

__all__ = [
    "ENTRY_POINT_GROUP",
    "FLAVORS",
    "FLAVOR_TABLE",
    "Flavor",
    "available_flavors",
    "flavor_for",
    "get_flavor",
]

#: Built-in flavors by name. Each name is also the top-level package of the
#: models it handles, which lets :func:`flavor_for` try only the matching one.
FLAVORS: dict[str, str] = {
    "sklearn": "mlsteward.flavors.sklearn:SklearnFlavor",
    "lightgbm": "mlsteward.flavors.lightgbm:LightGBMFlavor",
    "onnx": "mlsteward.flavors.onnx.flavor:OnnxFlavor",
}

#: Entry-point group through which other packages register flavors.
ENTRY_POINT_GROUP = "mlsteward.flavors"

_log = logging.getLogger(__name__)


def _instance(cls: object) -> Flavor:
    if not (isinstance(cls, type) and issubclass(cls, Flavor)):
        raise TypeError("it is not a mlsteward.flavors.Flavor subclass")
    return cls()


#: The flavor seam: built-ins, then plug-ins; one shared instance per name.
FLAVOR_TABLE: PluginTable[Flavor] = PluginTable(
    "flavor", ENTRY_POINT_GROUP, FLAVORS, validate=_instance
)


def available_flavors() -> dict[str, str]:
    """All flavor names and their ``"module:Class"`` targets.

    Returns:
        Built-in flavors first, then plug-ins, in a new dict.

    Example:
        >>> sorted(available_flavors())[:2]
        ['lightgbm', 'onnx']
    """
    return {**FLAVORS, **FLAVOR_TABLE.plugins()}


def _allowed() -> str:
    return ", ".join(repr(name) for name in sorted(available_flavors()))


def get_flavor(name: str) -> Flavor:
    """Return the flavor called ``name``, importing it on first use.

    Args:
        name: A key of :func:`available_flavors`, e.g. ``"sklearn"``.

    Returns:
        The shared flavor instance.

    Raises:
        InvalidInput: No flavor has that name, or a plug-in cannot be loaded.

    Example:
        >>> get_flavor("sklearn").extension  # doctest: +SKIP
        '.skops'
    """
    return FLAVOR_TABLE.get(name)


def flavor_for(model: object) -> Flavor:
    """Pick the flavor that can save ``model``.

    The built-in flavor named after the model's top-level package is tried
    first (a ``lightgbm.LGBMClassifier`` goes to ``"lightgbm"``); other
    built-ins are skipped, so saving a scikit-learn model never imports
    LightGBM. Plug-ins are tried after that, in name order; one that cannot
    be loaded is logged and skipped rather than blocking the others.

    Args:
        model: A fitted model.

    Returns:
        The first flavor whose :meth:`~Flavor.can_save` accepts the model.

    Raises:
        InvalidInput: No flavor can save it; the message lists the flavors.

    Example:
        >>> flavor_for(fitted_pipeline).name  # doctest: +SKIP
        'sklearn'
    """
    cls = type(model)
    package = cls.__module__.partition(".")[0]
    candidates = [package] if package in available_flavors() else []
    candidates += sorted(name for name in FLAVOR_TABLE.plugins() if name != package)
    for name in candidates:
        try:
            flavor = get_flavor(name)
        except InvalidInput as exc:
            if name == package:
                raise
            _log.warning("skipping flavor plug-in %r: %s", name, exc.message)
            continue
        if flavor.can_save(model):
            return flavor
    raise InvalidInput(
        f"No flavor can save a {cls.__module__}.{cls.__qualname__}; available "
        f"flavors: {_allowed()}. A flavor needs a fitted binary classifier "
        "with predict_proba from a library it supports.",
        field="model",
        allowed=sorted(available_flavors()),
    )
