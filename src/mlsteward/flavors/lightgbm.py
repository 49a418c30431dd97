"""The LightGBM flavor: the native text model format, checked before parsing.

The artifact is exactly ``Booster.model_to_string()``: plain text, never a
pickle. LightGBM's own parser trusts that text completely: a wrong
``tree_sizes`` entry aborts the process, and an out-of-range child or feature
index makes prediction read outside its arrays (a segfault, or silently wrong
scores), while a child pointing back up the tree loops forever. So before
LightGBM sees the text, mlsteward checks every index that prediction
follows and refuses the artifact if one is out of range.

LightGBM is imported on first use, so this module is cheap to import and
``can_save`` never imports LightGBM for a model that does not come from it.
"""

from __future__ import annotations

import itertools
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlsteward.errors import InvalidInput, MlstewardError, UnsafeArtifact
from mlsteward.flavors.base import Flavor, positive_class_proba, refuse_pickle

if TYPE_CHECKING:
    import lightgbm
    import numpy as np
    import pandas as pd

__all__ = ["LightGBMFlavor"]

_INT = re.compile(r"-?[0-9]+")
_TREE_HEADER = re.compile(r"^Tree=([0-9]+)$", re.MULTILINE)
_END_OF_TREES = "end of trees"
_BINARY_OBJECTIVES = ("binary", "cross_entropy")
_K_CATEGORICAL_MASK = 1  # decision_type bit LightGBM uses for categorical splits
_OPTIONAL_INTERNAL = ("split_gain", "internal_value", "internal_weight")
_OPTIONAL_LEAF = ("leaf_weight", "leaf_count")


def _lgb() -> Any:
    try:
        import lightgbm
    except ImportError as exc:  # an optional extra
        raise InvalidInput(
            "The lightgbm flavor needs LightGBM: pip install 'mlsteward[lightgbm]'.",
            field="flavor",
        ) from exc
    return lightgbm


@dataclass(frozen=True)
class _ModelInfo:
    """What mlsteward needs from a model's text besides the trees."""

    feature_names: tuple[str, ...]
    categorical: tuple[str, ...]  # categorical feature names, in model order


_info_cache: weakref.WeakKeyDictionary[Any, _ModelInfo] = weakref.WeakKeyDictionary()


class LightGBMFlavor(Flavor):
    """LightGBM binary classifiers, stored as LightGBM's text model.

    Accepts a fitted ``lightgbm.LGBMClassifier`` (its ``booster_`` is stored)
    or a ``lightgbm.Booster``; :meth:`load` returns a ``Booster``.

    Example:
        >>> flavor = LightGBMFlavor()
        >>> booster = flavor.load(flavor.save(fitted_lgbm))  # doctest: +SKIP
        >>> flavor.predict_proba(booster, frame)  # doctest: +SKIP
        array([0.11, 0.72])
    """

    name = "lightgbm"
    extension = ".txt"

    def can_save(self, model: object) -> bool:
        """True for ``LGBMClassifier`` and ``Booster`` objects."""
        if type(model).__module__.partition(".")[0] != "lightgbm":
            return False
        lgb = _lgb()
        return isinstance(model, (lgb.LGBMClassifier, lgb.Booster))

    def save(self, model: object) -> bytes:
        """Return ``booster.model_to_string()`` as UTF-8 bytes.

        Raises:
            InvalidInput: Not a fitted LightGBM binary classifier.
        """
        if not self.can_save(model):
            cls = type(model)
            raise InvalidInput(
                "The lightgbm flavor saves lightgbm.LGBMClassifier or "
                f"lightgbm.Booster; got {cls.__module__}.{cls.__qualname__}.",
                field="model",
            )
        booster = _booster(model)  # refuses an unfitted LGBMClassifier
        classes = getattr(model, "classes_", None)
        if model is not booster and (classes is None or len(classes) != 2):
            raise InvalidInput(
                f"mlsteward scores binary classifiers; this LGBMClassifier has "
                f"classes {classes!r}. The positive (bad) class is classes_[1].",
                field="model",
            )
        text: str = booster.model_to_string()
        _validate(text, field="model", error=InvalidInput)
        return text.encode("utf-8")

    def load(self, data: bytes) -> object:
        """Parse the text model after checking its structure.

        Raises:
            UnsafeArtifact: A pickle, or indices that would crash LightGBM.
            InvalidInput: Not a LightGBM binary text model.
        """
        raw = refuse_pickle(data, flavor=self.name)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "The lightgbm artifact is not UTF-8 text, so it is not a "
                "LightGBM model saved by mlsteward.",
                field="data",
            ) from exc
        info = _validate(text, field="data", error=UnsafeArtifact)
        try:
            booster = _lgb().Booster(model_str=text)
        except Exception as exc:  # LightGBMError, ValueError from JSON, ...
            raise InvalidInput(
                f"LightGBM could not parse the artifact: {exc}", field="data"
            ) from exc
        _check_pandas_categorical(booster.pandas_categorical, len(info.categorical))
        _info_cache[booster] = info
        return booster

    def predict_proba(self, model: object, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class from the booster's binary output.

        Columns are matched by name. String columns (object or ``str`` dtype)
        of categorical features become pandas categoricals with the categories
        stored in the model, so they score like the original frame did.

        Raises:
            InvalidInput: ``X`` is not a DataFrame, lacks features, or does not
                fit the model.
        """
        import numpy as np
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(
                f"X must be a pandas DataFrame, got {type(X).__name__}.", field="X"
            )
        if len(X) == 0:
            return np.empty(0, dtype=np.float64)
        booster = _booster(model)
        try:
            proba = booster.predict(_align(booster, X))
        except MlstewardError:
            raise
        except Exception as exc:  # LightGBMError, ValueError on dtypes, ...
            raise InvalidInput(
                f"The LightGBM model could not score X: {exc}", field="X"
            ) from exc
        return positive_class_proba(proba, len(X), flavor=self.name)


def _check_pandas_categorical(stored: Any, n_categorical: int) -> None:
    # LightGBM reads this trailing JSON line itself; make sure it is what its
    # predict expects (one list of category values per categorical column).
    if stored is None:
        return
    scalar = (str, int, float, bool)
    if not (
        isinstance(stored, list)
        and len(stored) <= n_categorical
        and all(
            isinstance(cats, list) and all(isinstance(v, scalar) for v in cats)
            for cats in stored
        )
    ):
        raise InvalidInput(
            "The lightgbm artifact's pandas_categorical line is not a list of "
            "category lists, one per categorical feature.",
            field="data",
        )


def _booster(model: Any) -> lightgbm.Booster:
    lgb = _lgb()
    if isinstance(model, lgb.Booster):
        return model
    try:
        return model.booster_
    except Exception as exc:  # LGBMNotFittedError (a sklearn NotFittedError)
        raise InvalidInput(
            f"The {type(model).__name__} is not fitted; fit it before saving.",
            field="model",
        ) from exc


def _info(booster: lightgbm.Booster) -> _ModelInfo:
    info = _info_cache.get(booster)
    if info is None:
        # Only the header is needed: ask for one tree to keep this cheap.
        info = _validate(
            booster.model_to_string(num_iteration=1), "model", InvalidInput
        )
        _info_cache[booster] = info
    return info


def _align(booster: lightgbm.Booster, X: pd.DataFrame) -> pd.DataFrame:
    """Select the model's features by name and restore categorical dtypes."""
    import pandas as pd

    info = _info(booster)
    # LightGBM replaces spaces in feature names with underscores.
    renamed = {str(c).replace(" ", "_"): c for c in X.columns}
    columns = [n if n in X.columns else renamed.get(n) for n in info.feature_names]
    missing = [n for n, c in zip(info.feature_names, columns, strict=True) if c is None]
    if missing:
        default = [f"Column_{i}" for i in range(len(info.feature_names))]
        if list(info.feature_names) == default and X.shape[1] == len(default):
            return X  # trained without names: LightGBM matches by position
        raise InvalidInput(
            f"X lacks the model's features: {', '.join(map(repr, missing))}.",
            field="X",
            missing=missing,
        )
    frame = X.loc[:, columns]
    frame.columns = list(info.feature_names)
    stored = booster.pandas_categorical or []
    if isinstance(stored, list) and len(stored) == len(info.categorical):
        for name, categories in zip(info.categorical, stored, strict=True):
            if not isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = pd.Categorical(frame[name], categories=categories)
    return frame


# --- the text format --------------------------------------------------------


def _validate(text: str, field: str, error: type[MlstewardError]) -> _ModelInfo:
    """Check a model text; raise ``error`` where LightGBM would misbehave.

    Format mistakes that LightGBM reports cleanly are :class:`InvalidInput`;
    indices it would follow blindly are ``error`` (UnsafeArtifact on load).
    """

    def fail(problem: str, unsafe: bool = False) -> MlstewardError:
        kind = error if unsafe else InvalidInput
        suffix = (
            " mlsteward refuses it, because LightGBM does not check this and "
            "could crash or loop forever."
            if unsafe
            else ""
        )
        return kind(
            f"The lightgbm model text is invalid: {problem}.{suffix}", field=field
        )

    if "\r" in text or "\x00" in text or not text.startswith("tree\n"):
        raise fail("it does not start like Booster.model_to_string() output")
    end = text.find(f"\n{_END_OF_TREES}\n")
    if end < 0:
        raise fail(f"the '{_END_OF_TREES}' line is missing")
    starts = [m.start() for m in _TREE_HEADER.finditer(text, 0, end)]
    if text.count("Tree=", 0, end) != len(starts):
        raise fail("a 'Tree=' marker is out of place", unsafe=True)
    header = _key_values(text[: starts[0] if starts else end], fail)
    for key in ("version", "max_feature_idx", "objective", "feature_names"):
        if key not in header:
            raise fail(f"the header has no {key}")
    objective = header["objective"].split(" ")[0]
    if objective not in _BINARY_OBJECTIVES or header.get("num_class", "1") != "1":
        raise fail(f"objective {header['objective']!r} is not binary")
    if header.get("num_tree_per_iteration", "1") != "1":
        raise fail("it has more than one tree per iteration", unsafe=True)
    n_features = _int(header["max_feature_idx"], fail) + 1
    names = header["feature_names"].split(" ")
    infos = header.get("feature_infos", "").split(" ")
    if n_features < 1 or len(names) != n_features or len(infos) != n_features:
        raise fail("feature_names or feature_infos disagree with max_feature_idx")

    bounds = [*starts, end + 1]
    sizes = header.get("tree_sizes")
    if sizes is not None:
        # LightGBM slices the text by these sizes without checking them.
        actual = [b - a for a, b in itertools.pairwise(bounds)]
        if [_int(s, fail) for s in sizes.split(" ") if s] != actual:
            raise fail("tree_sizes do not match the trees", unsafe=True)
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        block = text[a:b]
        if block.split("\n", 1)[0] != f"Tree={i}":
            raise fail(f"tree {i} is out of order", unsafe=True)
        _check_tree(i, _key_values(block.split("\n", 1)[1], fail), n_features, fail)

    categorical = tuple(
        n for n, info in zip(names, infos, strict=True) if _is_categorical(info)
    )
    return _ModelInfo(feature_names=tuple(names), categorical=categorical)


def _is_categorical(info: str) -> bool:
    # Numeric features read "[min:max]" (or "none"); categorical ones list
    # their category codes, "0:1:2".
    return not (info.startswith("[") or info == "none")


def _key_values(section: str, fail: Any) -> dict[str, str]:
    lines = section.rstrip("\n").split("\n")
    out: dict[str, str] = {}
    for line in lines:
        if line in ("", "tree") and not out:
            continue  # the "tree" magic line and the blank line after
        if line == "average_output":  # a bare flag written for boosting=rf
            out[line] = ""
            continue
        key, sep, value = line.partition("=")
        if not sep or not key or key in out:
            raise fail(f"unexpected line {line[:60]!r}", unsafe=True)
        out[key] = value
    return out


def _int(token: str, fail: Any) -> int:
    if not _INT.fullmatch(token):
        raise fail(f"{token[:30]!r} is not an integer", unsafe=True)
    return int(token)


def _ints(tree: dict[str, str], key: str, n: int, fail: Any) -> list[int]:
    values = [_int(t, fail) for t in _tokens(tree, key, fail)]
    if len(values) != n:
        raise fail(f"{key} has {len(values)} entries, expected {n}", unsafe=True)
    return values


def _tokens(tree: dict[str, str], key: str, fail: Any) -> list[str]:
    if key not in tree:
        raise fail(f"a tree has no {key}", unsafe=True)
    tokens = tree[key].split(" ") if tree[key] else []
    if "" in tokens:  # LightGBM would read an empty token as 0
        raise fail(f"a tree's {key} has stray spaces", unsafe=True)
    return tokens


def _check_tree(index: int, tree: dict[str, str], n_features: int, fail: Any) -> None:
    where = f"tree {index}"
    n_leaves = _int(tree.get("num_leaves", ""), fail)
    n_cat = _int(tree.get("num_cat", "0"), fail)
    if n_leaves < 1 or n_cat < 0:
        raise fail(f"{where} has num_leaves={n_leaves}, num_cat={n_cat}", unsafe=True)
    if tree.get("is_linear", "0") != "0":
        raise fail(f"{where} is a linear tree, which mlsteward does not support")
    n_internal = n_leaves - 1
    if len(_tokens(tree, "leaf_value", fail)) != n_leaves:
        raise fail(f"{where} has the wrong number of leaf values", unsafe=True)
    for key, n in [(k, n_internal) for k in _OPTIONAL_INTERNAL] + [
        (k, n_leaves) for k in _OPTIONAL_LEAF
    ]:
        if key in tree and len(_tokens(tree, key, fail)) not in (0, n):
            raise fail(f"{where} {key} has the wrong length", unsafe=True)

    feature = _ints(tree, "split_feature", n_internal, fail)
    left = _ints(tree, "left_child", n_internal, fail)
    right = _ints(tree, "right_child", n_internal, fail)
    decision = _ints(tree, "decision_type", n_internal, fail)
    threshold = _tokens(tree, "threshold", fail)
    if len(threshold) != n_internal:
        raise fail(f"{where} threshold does not have {n_internal} entries", unsafe=True)
    for node in range(n_internal):
        # A child >= 0 is an internal node, created after its parent; a
        # negative child -k-1 is leaf k.
        for child in (left[node], right[node]):
            if not (node < child < n_internal or -n_leaves <= child < 0):
                raise fail(f"{where} node {node} has child {child}", unsafe=True)
        if not 0 <= feature[node] < n_features:
            problem = f"{where} node {node} splits on feature {feature[node]}"
            raise fail(problem, unsafe=True)
        if decision[node] & _K_CATEGORICAL_MASK:
            cat = _int(threshold[node], fail)
            if not 0 <= cat < n_cat:
                raise fail(f"{where} node {node} has category set {cat}", unsafe=True)
    if n_cat:
        bounds = _ints(tree, "cat_boundaries", n_cat + 1, fail)
        words = [_int(t, fail) for t in _tokens(tree, "cat_threshold", fail)]
        if bounds[0] != 0 or bounds != sorted(bounds) or bounds[-1] != len(words):
            raise fail(f"{where} has inconsistent cat_boundaries", unsafe=True)
