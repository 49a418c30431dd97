"""The scikit-learn flavor: skops persistence, mlsteward's own allowlist.

Models are stored in the skops format (a zip of ``schema.json`` plus ``.npy``
arrays), never as a pickle. Loading goes through three gates:

1. Every type the artifact names must be in :data:`TRUSTED_TYPES`. The list is
   mlsteward's own and is never read from the artifact. It is checked against
   both skops' report (``get_untrusted_types``) and mlsteward's own walk of
   ``schema.json``, because skops trusts some things by default that
   mlsteward does not (any numpy ufunc as a ``FunctionTransformer`` function,
   for example). The walk also admits only the skops loaders these models need,
   so bound methods, ``operator`` callables and similar are refused outright.
2. skops rebuilds the model, trusting only the types that passed gate 1.
3. Tree structures are checked before the model is handed out. skops does not
   trust ``sklearn.tree._tree.Tree`` and ``TreePredictor`` by default because
   scikit-learn follows their node indices without bounds checks, so a crafted
   file could crash the process at the first prediction. mlsteward trusts them
   only because it checks every child and feature index first.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble._forest import BaseForest
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
    BaseHistGradientBoosting,
)
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.tree import BaseDecisionTree
from sklearn.tree._tree import Tree
from sklearn.utils.validation import check_is_fitted

from mlsteward.errors import InvalidInput, UnsafeArtifact
from mlsteward.flavors.base import Flavor, positive_class_proba, refuse_pickle

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRUSTED_TYPES", "SklearnFlavor", "find_untrusted_types"]

#: Fully qualified names (as skops reports them) of every type and function
#: an sklearn artifact may contain. Found by dumping the models a credit team
#: uses (fitted on frames with numeric, object and pandas ``str`` columns) and
#: listing what skops writes. Nothing here can run code of the artifact's
#: choosing: classes are rebuilt from data, and the only function is
#: ``check_array``. Add a type only after reviewing that it stays true.
TRUSTED_TYPES: tuple[str, ...] = (
    # Containers and scalars, rebuilt from JSON.
    "builtins.bool",
    "builtins.dict",
    "builtins.float",
    "builtins.int",
    "builtins.list",
    "builtins.slice",
    "builtins.str",
    "builtins.tuple",
    # numpy arrays (read with allow_pickle=False), dtypes and scalar types.
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.bool",
    "numpy.float16",
    "numpy.float32",
    "numpy.float64",
    "numpy.int8",
    "numpy.int16",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint16",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.str_",
    # Random state kept by fitted estimators (bit generator named by value).
    "numpy.random._generator.Generator",
    "numpy.random.PCG64",
    "numpy.random.mtrand.RandomState",
    # Pipelines and preprocessing.
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
    # FunctionTransformer is trusted only as a shell: the functions it may
    # carry are limited to the ones below, which is what
    # HistGradientBoostingClassifier builds internally for native categorical
    # features. Any user function (numpy.log1p, os.system, a lambda) is
    # refused because its own name is not on this list.
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "functools.partial",
    "sklearn.utils.validation.check_array",
    # Classifiers and their fitted internals.
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting."
    "HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    # Calibration.
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.frozen._frozen.FrozenEstimator",
)

_TRUSTED = frozenset(TRUSTED_TYPES)

# skops node loaders these models need. Others (MethodNode, OperatorFuncNode,
# ConstructorFromReduceNode, BytesNode, ...) rebuild objects in ways the
# type list cannot vouch for, so an artifact using them is refused.
_ALLOWED_LOADERS = frozenset(
    {
        "DictNode",
        "DTypeNode",
        "FunctionNode",
        "JsonNode",
        "ListNode",
        "LossNode",
        "NdArrayNode",
        "ObjectNode",
        "PartialNode",
        "RandomGeneratorNode",
        "RandomStateNode",
        "SliceNode",
        "TreeNode",
        "TupleNode",
        "TypeNode",
    }
)

_SCHEMA = "schema.json"


class SklearnFlavor(Flavor):
    """scikit-learn binary classifiers, stored with skops.

    Example:
        >>> flavor = SklearnFlavor()
        >>> data = flavor.save(fitted_pipeline)  # doctest: +SKIP
        >>> flavor.predict_proba(flavor.load(data), frame)  # doctest: +SKIP
        array([0.08, 0.61])
    """

    name = "sklearn"
    extension = ".skops"

    def can_save(self, model: object) -> bool:
        """True for scikit-learn estimators with ``fit`` and ``predict_proba``."""
        if type(model).__module__.partition(".")[0] != "sklearn":
            return False
        return callable(getattr(model, "fit", None)) and hasattr(model, "predict_proba")

    def save(self, model: object) -> bytes:
        """Dump ``model`` with skops, then check mlsteward would load it back.

        Raises:
            InvalidInput: Not a fitted scikit-learn binary classifier, or it
                holds a type outside :data:`TRUSTED_TYPES` (named in the
                message), so that the problem shows at registration rather
                than at load.
        """
        if not self.can_save(model):
            cls = type(model)
            raise InvalidInput(
                f"The sklearn flavor saves scikit-learn classifiers with "
                f"predict_proba; got {cls.__module__}.{cls.__qualname__}.",
                field="model",
            )
        _require_fitted_binary(model)
        try:
            data: bytes = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
        except Exception as exc:
            raise InvalidInput(
                f"skops cannot serialise this {type(model).__name__}: {exc}",
                field="model",
            ) from exc
        offending, _ = _audit(data)
        if offending:
            raise InvalidInput(
                "The model contains types mlsteward will not load back: "
                f"{', '.join(offending)}. Custom functions, methods and classes "
                "(e.g. FunctionTransformer(func=...)) can run arbitrary code, "
                "so they cannot be stored; use built-in scikit-learn steps, or "
                "have a reviewed type added to "
                "mlsteward.flavors.sklearn.TRUSTED_TYPES.",
                field="model",
                untrusted_types=offending,
            )
        return data

    def load(self, data: bytes) -> object:
        """Rebuild a model from skops bytes, refusing anything not trusted.

        Raises:
            UnsafeArtifact: A pickle, not a skops archive, an untrusted type
                (named in the message) or a corrupt tree structure.
            InvalidInput: The artifact is safe but holds no classifier.
        """
        raw = refuse_pickle(data, flavor=self.name)
        offending, reported = _audit(raw)
        if offending:
            raise UnsafeArtifact(
                "The sklearn artifact contains types mlsteward does not trust: "
                f"{', '.join(offending)}. mlsteward refuses to load them, "
                "because they could run code from the artifact or crash the "
                "process. Only mlsteward.flavors.sklearn.TRUSTED_TYPES are "
                "loaded; an artifact cannot extend that list.",
                field="data",
                untrusted_types=offending,
            )
        try:
            model = sio.loads(raw, trusted=sorted(set(reported) & _TRUSTED))
        except Exception as exc:
            raise UnsafeArtifact(
                f"The sklearn artifact could not be rebuilt: {exc}", field="data"
            ) from exc
        _check_structure(model)
        if not self.can_save(model):
            raise InvalidInput(
                "The sklearn artifact holds a "
                f"{type(model).__module__}.{type(model).__qualname__}, not a "
                "scikit-learn classifier with predict_proba.",
                field="data",
            )
        return model

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        """Return ``model.predict_proba(X)[:, 1]``, the probability of
        ``classes_[1]``, as float64.

        Raises:
            InvalidInput: ``X`` is not a DataFrame or does not fit the model.
        """
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(
                f"X must be a pandas DataFrame, got {type(X).__name__}.", field="X"
            )
        if len(X) == 0:
            return np.empty(0, dtype=np.float64)
        predict = getattr(model, "predict_proba", None)
        if predict is None:
            raise InvalidInput(
                f"{type(model).__name__} has no predict_proba.", field="model"
            )
        try:
            proba = np.asarray(predict(X))
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidInput(
                f"The sklearn model could not score X: {exc}", field="X"
            ) from exc
        if proba.ndim != 2 or proba.shape[1] != 2:
            raise InvalidInput(
                f"predict_proba returned shape {proba.shape}; mlsteward expects "
                "a binary classifier, (n_rows, 2).",
                field="model",
            )
        return positive_class_proba(proba[:, 1], len(X), flavor=self.name)


def find_untrusted_types(data: bytes) -> list[str]:
    """List what in a skops artifact mlsteward would refuse to load.

    Args:
        data: skops bytes.

    Returns:
        Sorted names outside :data:`TRUSTED_TYPES`; empty if loadable.
        Entries ending in ``(skops <Loader>)`` use a loader mlsteward refuses.

    Raises:
        InvalidInput: ``data`` is empty or not bytes.
        UnsafeArtifact: ``data`` is a pickle or not a skops archive.

    Example:
        >>> find_untrusted_types(skops.io.dumps(pipeline))  # doctest: +SKIP
        []
    """
    return _audit(refuse_pickle(data, flavor="sklearn"))[0]


def _require_fitted_binary(model: Any) -> None:
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise InvalidInput(
            f"The {type(model).__name__} is not fitted; fit it before saving.",
            field="model",
        ) from exc
    except TypeError:
        pass  # not a standard estimator; classes_ below decides
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2:
        raise InvalidInput(
            f"mlsteward scores binary classifiers; this {type(model).__name__} "
            f"has classes {classes!r}. The positive (bad) class is classes_[1].",
            field="model",
        )


# --- gate 1: what the artifact names ----------------------------------------


def _audit(raw: bytes) -> tuple[list[str], list[str]]:
    """Return (refused names, skops-reported untrusted names)."""
    declared = _declared_types(_read_schema(raw))
    try:
        reported = list(sio.get_untrusted_types(data=raw))
    except Exception as exc:
        raise UnsafeArtifact(
            f"The sklearn artifact has a malformed skops schema: {exc}",
            field="data",
        ) from exc
    return sorted((declared | set(reported)) - _TRUSTED), reported


def _read_schema(raw: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            schema = json.loads(archive.read(_SCHEMA))
    # Anything the zip or JSON readers throw (bad zip, missing member, bad
    # compression, bad JSON, absurd nesting) means the same thing here.
    except Exception as exc:
        raise UnsafeArtifact(
            "The sklearn artifact is not a skops archive (a zip holding "
            f"{_SCHEMA}): {exc}. mlsteward only loads skops artifacts.",
            field="data",
        ) from exc
    if not isinstance(schema, dict):
        raise UnsafeArtifact(f"The sklearn artifact's {_SCHEMA} is not an object.")
    return schema


def _declared_types(schema: dict[str, Any]) -> set[str]:
    """Every type and function ``schema.json`` asks skops to resolve."""
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        keys = ("__loader__", "__module__", "__class__")
        if not any(key in node for key in keys):
            continue
        loader, module, cls = (node.get(key) for key in keys)
        if not all(isinstance(part, str) for part in (loader, module, cls)):
            raise UnsafeArtifact(
                "The sklearn artifact has a malformed skops node: "
                f"{json.dumps(node)[:200]}",
                field="data",
            )
        name = f"{module}.{cls}"
        found.add(name if loader in _ALLOWED_LOADERS else f"{name} (skops {loader})")
        if loader == "RandomGeneratorNode":
            found.add(f"numpy.random.{_bit_generator_name(node)}")
    return found


def _bit_generator_name(node: dict[str, Any]) -> str:
    # skops names the bit generator by a string inside the state and calls it;
    # treat that string as a type like any other.
    try:
        state = node["content"]["bit_generator"]["content"]["bit_generator"]
        name = json.loads(state["content"])
    except (KeyError, TypeError, ValueError):
        name = None
    if not isinstance(name, str):
        raise UnsafeArtifact(
            "The sklearn artifact has a random generator without a bit generator name.",
            field="data",
        )
    return name


# --- gate 3: tree structures ---------------------------------------------


def _check_structure(model: object) -> None:
    """Refuse trees whose node indices point outside their arrays."""
    try:
        for obj in _walk(model):
            # Unfitted templates (a forest's estimator_) have no tree_ and
            # cannot predict, so there is nothing to check.
            if isinstance(obj, BaseDecisionTree) and hasattr(obj, "tree_"):
                _check_tree(obj.tree_, _n_features(obj), type(obj).__name__)
            elif isinstance(obj, BaseForest):
                n_features = _n_features(obj)
                for i, tree in enumerate(obj.estimators_):
                    if hasattr(tree, "tree_"):
                        _check_tree(tree.tree_, n_features, f"estimators_[{i}]")
            elif isinstance(obj, BaseHistGradientBoosting):
                _check_hist_gradient_boosting(obj)
    except UnsafeArtifact:
        raise
    except Exception as exc:
        raise UnsafeArtifact(
            f"The sklearn artifact's model structure could not be verified: {exc}",
            field="data",
        ) from exc


def _walk(root: object) -> Iterable[object]:
    """Yield every scikit-learn object reachable from ``root``."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            stack.extend(obj.ravel().tolist())
        elif type(obj).__module__.startswith("sklearn."):
            yield obj
            stack.extend(getattr(obj, "__dict__", {}).values())


def _bad(where: str, problem: str) -> UnsafeArtifact:
    return UnsafeArtifact(
        f"The sklearn artifact has a corrupt {where}: {problem}. mlsteward "
        "refuses it, because scikit-learn would follow these indices without "
        "bounds checks and could crash the process.",
        field="data",
    )


def _n_features(estimator: Any) -> int:
    n = getattr(estimator, "n_features_in_", None)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise _bad(type(estimator).__name__, f"n_features_in_ is {n!r}")
    return int(n)


def _check_tree(tree: Any, n_features: int, where: str) -> None:
    if not isinstance(tree, Tree):
        raise _bad(where, f"tree_ is a {type(tree).__name__}, not a Tree")
    # node_count sizes the node arrays read below; scikit-learn clamps it to
    # the allocation today, and a genuine tree always fills its allocation.
    if not 1 <= tree.node_count == tree.capacity:
        raise _bad(where, f"node_count {tree.node_count} != {tree.capacity}")
    if tree.n_features != n_features:
        raise _bad(where, f"tree has {tree.n_features} features, not {n_features}")
    left = tree.children_left
    _check_nodes(where, left, tree.children_right, tree.feature, left != -1, n_features)


def _check_nodes(
    where: str,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    internal: np.ndarray,
    n_features: int,
) -> None:
    # Children come after their parent in both tree layouts, which also rules
    # out cycles (an endless loop at prediction time).
    n = len(left)
    node = np.arange(n)[internal]
    lo = left[internal].astype(np.int64)
    hi = right[internal].astype(np.int64)
    feat = feature[internal].astype(np.int64)
    ok = (lo > node) & (lo < n) & (hi > node) & (hi < n)
    ok &= (feat >= 0) & (feat < n_features)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise _bad(
            where,
            f"node {node[i]} has children ({lo[i]}, {hi[i]}) and feature "
            f"{feat[i]}, outside {n} nodes and {n_features} features",
        )


def _check_hist_gradient_boosting(est: Any) -> None:
    n_features = _n_features(est)
    is_cat = np.asarray(est._bin_mapper.is_categorical_)
    if is_cat.shape != (n_features,):
        raise _bad("_bin_mapper", f"is_categorical_ has shape {is_cat.shape}")
    for i, iteration in enumerate(est._predictors):
        for k, predictor in enumerate(iteration):
            where = f"_predictors[{i}][{k}]"
            if not isinstance(predictor, TreePredictor):
                raise _bad(where, f"a {type(predictor).__name__}, not a TreePredictor")
            nodes = predictor.nodes
            if (
                not isinstance(nodes, np.ndarray)
                or nodes.dtype != PREDICTOR_RECORD_DTYPE
                or nodes.ndim != 1
                or len(nodes) == 0
            ):
                raise _bad(where, "nodes is not a non-empty predictor record array")
            n_bitsets = _check_bitsets(where, predictor)
            internal = nodes["is_leaf"] == 0
            _check_nodes(
                where,
                nodes["left"],
                nodes["right"],
                nodes["feature_idx"],
                internal,
                n_features,
            )
            cat = internal & (nodes["is_categorical"] != 0)
            if not (
                (nodes["bitset_idx"][cat] < n_bitsets).all()
                and is_cat[nodes["feature_idx"][cat]].all()
            ):
                raise _bad(where, "a categorical split has a bad bitset or feature")
    _check_hgb_preprocessor(est, n_features)


def _check_bitsets(where: str, predictor: TreePredictor) -> int:
    rows = set()
    for bits in (predictor.raw_left_cat_bitsets, predictor.binned_left_cat_bitsets):
        if not (
            isinstance(bits, np.ndarray)
            and bits.dtype == np.uint32
            and bits.ndim == 2
            and bits.shape[1] == 8
        ):
            raise _bad(where, "category bitsets are not (n, 8) uint32 arrays")
        rows.add(bits.shape[0])
    return min(rows)


def _check_hgb_preprocessor(est: Any, n_features: int) -> None:
    # The predictors index the preprocessed frame, so it must keep every input
    # column exactly once (as sklearn builds it: ordinal-encode the
    # categorical columns, check_array the rest).
    pre = est._preprocessor
    if pre is None:
        return
    if not isinstance(pre, ColumnTransformer) or pre.n_features_in_ != n_features:
        raise _bad("_preprocessor", "not a ColumnTransformer over the inputs")
    coverage = np.zeros(n_features, dtype=np.int64)
    for name, transformer, columns in pre.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if not isinstance(transformer, (OrdinalEncoder, FunctionTransformer)):
            raise _bad("_preprocessor", f"unexpected step {name!r}")
        mask = np.asarray(columns)
        indices = sorted(int(i) for i in pre._transformer_to_input_indices[name])
        if (
            mask.dtype != bool
            or mask.shape != (n_features,)
            or indices != np.flatnonzero(mask).tolist()
        ):
            raise _bad("_preprocessor", f"step {name!r} has inconsistent columns")
        coverage += mask
    if not (coverage == 1).all():
        raise _bad("_preprocessor", "it does not pass every column exactly once")
