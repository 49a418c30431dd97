"""Reason codes: which of a model's own inputs pushed a score towards denial.

A score is the probability of *bad* (label 1). Every method here attributes
the score's **log-odds** ``log(p / (1 - p))`` to the model's input columns
(the columns of its signature, never one-hot or other derived columns), and a
feature whose contribution is positive pushed the applicant towards denial.
The principal reasons of a decision are the positive contributions, largest
first (adverse-action notices under ECOA / Regulation B ask for the specific
principal reasons, even for complex models).

Methods (``method="auto"`` picks the first that fits):

``linear``
    A scikit-learn ``Pipeline`` ending in a binary ``LogisticRegression``
    (usually after a ``ColumnTransformer`` of one-hot encoding, imputation
    and scaling), or a bare ``LogisticRegression``. With ``z`` the
    transformed row, ``w`` the coefficients and ``m`` the mean of the
    transformed reference population, the contribution of input feature
    ``f`` is ``sum(w[k] * (z[k] - m[k]) for k in columns derived from f)``.
    **Additive**: contributions add up exactly (floating point) to
    ``logit(p) - (intercept + w·m)``, the row's log-odds minus the log-odds
    of the reference average (``Attribution.baseline``). With a reference
    *profile* instead of a frame, ``m`` is exact for one-hot columns and for
    numeric columns transformed affinely (imputation and scaling); other
    numeric transforms (binning, splines) are approximated from the
    profile's quantile bins and the explainer says so (``exact_reference_``).
``lightgbm``
    LightGBM's own per-feature contributions (TreeSHAP,
    ``Booster.predict(X, pred_contrib=True)``). **Additive**: they add up to
    the raw score (the log-odds) minus the model's expected value, which
    LightGBM stores in its trees from the training data; the reference is
    used only to phrase the reasons.
``occlusion``
    Any other model (HistGradientBoosting, calibrated or custom models):
    ``c_f(x) = g(x) - sum_k w_k * g(x with x_f := r_k)``, with ``g`` the
    log-odds of the model's score and ``(r_k, w_k)`` representative values
    of feature ``f`` in the reference population with their shares (numeric
    features: the mean of each reference decile bin; categorical: each
    category, the ``max_background`` most frequent). It answers "how much
    higher is this applicant's log-odds than if this one characteristic
    were drawn from the reference population, all else kept". **Not
    additive** for models with interactions: contributions do not add up to
    any score difference. What it does promise: no randomness (the same
    input gives the same reasons); a feature the model ignores gets exactly
    0; if the score rises with a feature, so does its contribution; and for
    a model additive in the log-odds (a logistic scorecard) with a reference
    frame it equals the ``linear`` method. Cost: one prediction per row and
    representative value (about 10 to 20 per feature).

Protected characteristics that are not model inputs can never be a reason:
only the signature's input columns are attributed, and other columns of the
input frame are ignored.

Example:
    >>> explainer = Explainer(loaded_model, reference=train_frame).fit()  # doctest: +SKIP
    >>> for reason in explainer.explain(applications)[0]:  # doctest: +SKIP
    ...     print(reason.code, reason.phrase)
    RC-STATUS_OF_EXISTING_CHECKING_ACCOUNT status_of_existing_checking_account = '... < 0 DM' (27% of the reference population)
    RC-CREDIT_AMOUNT credit_amount = 15000 (higher than the reference average 3271)
"""  # noqa: E501

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlsteward.errors import InvalidInput
from mlsteward.explain.models import (
    auto_method,
    lightgbm_contributions,
    linear_structure,
    profile_columns,
    resolve_model,
    transform,
)
from mlsteward.explain.reference import (
    FeatureReference,
    mean_transformed,
    reference_from_frame,
    reference_from_profile,
)
from mlsteward.registry.signature import conform

if TYPE_CHECKING:
    from mlsteward.flavors.base import Flavor

__all__ = [
    "METHODS",
    "Attribution",
    "Explainer",
    "Reason",
    "attribute",
    "explain",
    "format_number",
    "reason_code",
]

#: Attribution methods by name; ``"auto"`` picks one from the model.
METHODS: tuple[str, ...] = ("linear", "lightgbm", "occlusion")
# Contributions at or below this are not reasons (floating-point noise).
_TOL = 1e-12
# Probabilities are clipped this far from 0 and 1 before taking log-odds.
_EPS = 1e-12
# Rows per prediction batch of the occlusion method.
_BATCH_ROWS = 200_000


def reason_code(feature: str) -> str:
    """The stable reason code of a feature: ``RC-`` and its name in capitals.

    Example:
        >>> reason_code("credit_amount"), reason_code("Savings (EUR)")
        ('RC-CREDIT_AMOUNT', 'RC-SAVINGS_EUR')
    """
    return "RC-" + re.sub(r"[^A-Z0-9]+", "_", feature.upper()).strip("_")


@dataclass(frozen=True)
class Reason:
    """One principal reason of one decision.

    Args:
        feature: The model input it is about.
        code: Stable code for adverse-action notices (``RC-CREDIT_AMOUNT``).
        value: The applicant's value (JSON-safe; ``None`` when missing).
        contribution: How far it pushed the log-odds of bad up (> 0).
        phrase: The reason for a person, e.g.
            ``credit_amount = 15000 (higher than the reference average 3271)``.
    """

    feature: str
    code: str
    value: Any
    contribution: float
    phrase: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "code": self.code,
            "value": self.value,
            "contribution": self.contribution,
            "phrase": self.phrase,
        }


@dataclass(frozen=True)
class Attribution:
    """Per-row, per-feature contributions to the log-odds of bad.

    Args:
        features: Model inputs, in signature order (the columns of
            ``contributions``).
        values: The rows as the model saw them (signature columns, typed).
        contributions: ``(n_rows, n_features)`` float64, log-odds units.
        log_odds: ``(n_rows,)`` log-odds of each row's score.
        baseline: ``(n_rows,)`` what the contributions are measured from
            for additive methods (``log_odds - contributions.sum(1)``);
            ``None`` for ``occlusion``.
        method: ``"linear"``, ``"lightgbm"`` or ``"occlusion"``.
        additive: Whether contributions add up to ``log_odds - baseline``.
    """

    features: tuple[str, ...]
    values: pd.DataFrame
    contributions: np.ndarray
    log_odds: np.ndarray
    baseline: np.ndarray | None
    method: str
    additive: bool

    def top(self, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` largest positive contributions of each row.

        Returns:
            ``(indices, contributions)``, both ``(n_rows, k)``; indices into
            :attr:`features`, ``-1`` (and contribution 0) where a row has
            fewer than ``k`` positive contributions. Ties keep feature order.
        """
        d = self.contributions.shape[1]
        k = max(0, min(int(k), d))
        order = np.argsort(-self.contributions, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(self.contributions, order, axis=1)
        keep = vals > _TOL
        return np.where(keep, order, -1), np.where(keep, vals, 0.0)


class Explainer:
    """Reason codes for one model against one reference population.

    Build it once per model version (``fit`` precomputes the reference
    means and the model's structure), then call :meth:`explain` per request;
    after ``fit`` it is read-only and safe to share between threads.

    Args:
        model: A :class:`~mlsteward.registry.service.LoadedModel`, or a tuple
            ``(flavor, model, signature)`` where ``flavor`` is a flavor name
            or object and ``signature`` a
            :class:`~mlsteward.registry.models.Signature` (or the list of
            input columns, when ``reference`` is a frame holding them).
        reference: The population contributions are measured against: a
            frame (e.g. the training data), a dataset profile (the
            ``profile`` of a dataset version, or the version itself), or
            ``None`` (only for LightGBM, whose baseline is its own).
        top_k: Default number of reasons per row.
        method: ``"auto"`` or one of :data:`METHODS`.
        reason_codes: Optional ``{feature: code}`` overriding
            :func:`reason_code`.
        max_background: Most representative values per categorical feature
            for ``occlusion`` (numeric features use the reference's deciles).

    Example:
        >>> loaded = ModelRegistry(ctx).load("credit-risk@champion")  # doctest: +SKIP
        >>> ex = Explainer(loaded, reference=train_dv.profile).fit()  # doctest: +SKIP
        >>> [r.code for r in ex.explain(frame.head(1))[0]]  # doctest: +SKIP
        ['RC-STATUS_OF_EXISTING_CHECKING_ACCOUNT', 'RC-DURATION_IN_MONTH']
    """

    def __init__(
        self,
        model: Any,
        reference: pd.DataFrame | Mapping[str, Any] | Any | None = None,
        *,
        top_k: int = 4,
        method: str = "auto",
        reason_codes: Mapping[str, str] | None = None,
        max_background: int = 20,
    ) -> None:
        self.model = model
        self.reference = reference
        self.top_k = top_k
        self.method = method
        self.reason_codes = reason_codes
        self.max_background = max_background

    # -- fitting ----------------------------------------------------------
    def fit(self) -> Explainer:
        """Resolve the model, summarise the reference, prepare the method.

        Returns:
            ``self``, fitted.

        Raises:
            InvalidInput: Unknown method, a method that does not fit the
                model, a reference that lacks a model input, or no reference
                where the method needs one.
        """
        if self.method != "auto" and self.method not in METHODS:
            raise InvalidInput(
                f"method {self.method!r} is not one of {['auto', *METHODS]}",
                field="method",
            )
        for name in ("top_k", "max_background"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(
                    f"{name} must be a whole number >= 1, got {value!r}", field=name
                )
        flavor, model, signature = resolve_model(self.model, self.reference)
        features = tuple(signature.feature_names)
        ref_frame: pd.DataFrame | None = None
        references: dict[str, FeatureReference] | None = None
        if isinstance(self.reference, pd.DataFrame):
            ref_frame = conform(signature, self.reference)
            references = reference_from_frame(ref_frame, signature)
        elif self.reference is not None:
            references = reference_from_profile(
                profile_columns(self.reference), signature
            )
        method = self.method if self.method != "auto" else auto_method(flavor, model)
        self.flavor_: Flavor = flavor
        self.model_: Any = model
        self.signature_ = signature
        self.features_ = features
        self.references_ = references
        self.exact_reference_ = True
        self.codes_ = {
            f: (self.reason_codes or {}).get(f, reason_code(f)) for f in features
        }
        if method == "linear":
            self._fit_linear(ref_frame)
        elif method == "lightgbm":
            if flavor.name != "lightgbm":
                raise InvalidInput(
                    f"method 'lightgbm' needs a LightGBM model; this one is of "
                    f"flavor {flavor.name!r}",
                    field="method",
                )
        elif references is None:
            raise InvalidInput(
                "the occlusion method needs a reference population: pass "
                "reference= a frame (e.g. the training data) or a dataset profile",
                field="reference",
            )
        self.method_: str = method
        return self

    def _fit_linear(self, ref_frame: pd.DataFrame | None) -> None:
        structure = linear_structure(self.model_, self.features_)
        if structure is None:
            raise InvalidInput(
                "method 'linear' needs a scikit-learn Pipeline ending in a "
                "binary LogisticRegression whose derived columns can be traced "
                f"to the inputs; got {type(self.model_).__name__}. Use "
                "method='occlusion'",
                field="method",
            )
        pre, coef, intercept, owner = structure
        if ref_frame is not None:
            mean = transform(pre, ref_frame).mean(axis=0)
        elif self.references_ is not None:
            mean, exact = mean_transformed(
                lambda frame: transform(pre, frame),
                owner,
                self.references_,
                self.signature_,
            )
            self.exact_reference_ = exact
        else:
            raise InvalidInput(
                "the linear method measures contributions against a reference "
                "population: pass reference= a frame (e.g. the training data) "
                "or a dataset profile",
                field="reference",
            )
        membership = np.zeros((coef.size, len(self.features_)))
        membership[np.arange(coef.size), owner] = 1.0
        self.linear_ = (pre, coef, float(intercept), mean, membership)

    def _check_fitted(self) -> None:
        if not hasattr(self, "method_"):
            raise InvalidInput(
                "this Explainer is not fitted yet; call .fit() once (it returns "
                "the explainer) before .explain()",
                field="explainer",
            )

    # -- explaining -------------------------------------------------------
    def attribute(self, X: pd.DataFrame, *, conformed: bool = False) -> Attribution:
        """Contributions of every input feature for every row of ``X``.

        Args:
            X: Rows to explain. Checked against the model's signature first;
                extra columns (ids, protected characteristics) are ignored.
            conformed: ``X`` is already the output of
                :func:`mlsteward.registry.signature.conform` for this model
                (a serving path that validated the request may skip the
                second check).
        """
        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            raise InvalidInput(
                f"X must be a pandas DataFrame, got {type(X).__name__}", field="X"
            )
        frame = X[list(self.features_)] if conformed else conform(self.signature_, X)
        if self.method_ == "linear":
            pre, coef, intercept, mean, membership = self.linear_
            z = transform(pre, frame)
            log_odds = z @ coef + intercept
            contributions = ((z - mean) * coef) @ membership
            baseline = np.full(len(frame), intercept + float(mean @ coef))
            additive = True
        elif self.method_ == "lightgbm":
            contributions, log_odds, baseline = lightgbm_contributions(
                self.model_, frame, self.features_
            )
            additive = True
        else:
            contributions, log_odds = self._occlusion(frame)
            baseline, additive = None, False
        return Attribution(
            self.features_,
            frame,
            contributions,
            log_odds,
            baseline,
            self.method_,
            additive,
        )

    def explain(
        self, X: pd.DataFrame, *, top_k: int | None = None, conformed: bool = False
    ) -> list[list[Reason]]:
        """The principal reasons of each row: features that pushed it towards
        denial (positive contribution), largest first, at most ``top_k``.

        Example:
            >>> ex.explain(frame.head(2), top_k=2)  # doctest: +SKIP
            [[Reason(feature='duration_in_month', ...), ...], [...]]
        """
        attribution = self.attribute(X, conformed=conformed)
        return self.reasons(attribution, top_k=top_k)

    def reasons(
        self, attribution: Attribution, *, top_k: int | None = None
    ) -> list[list[Reason]]:
        """Turn an :class:`Attribution` into :class:`Reason` lists."""
        self._check_fitted()
        idx, vals = attribution.top(self.top_k if top_k is None else top_k)
        values = attribution.values
        out: list[list[Reason]] = []
        for i in range(idx.shape[0]):
            row: list[Reason] = []
            for j, c in zip(idx[i], vals[i], strict=True):
                if j < 0:
                    break
                feature = self.features_[j]
                value = _json_value(values.iat[i, j])
                row.append(
                    Reason(
                        feature=feature,
                        code=self.codes_[feature],
                        value=value,
                        contribution=float(c),
                        phrase=_phrase(feature, value, self._ref(feature)),
                    )
                )
            out.append(row)
        return out

    def _ref(self, feature: str) -> FeatureReference | None:
        return None if self.references_ is None else self.references_.get(feature)

    def _occlusion(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        assert self.references_ is not None  # fit() guarantees it
        features = self.features_
        backgrounds = []
        for f in features:
            ref = self.references_[f]
            values, weights = ref.background(self.max_background)
            backgrounds.append((values, weights))
        sizes = np.array([len(v) for v, _ in backgrounds])
        per_row = int(sizes.sum())
        n = len(frame)
        # Numeric columns as float64: representative values need not be whole.
        base = frame.copy()
        for spec in self.signature_.inputs:
            if spec["kind"] == "numeric":
                base[spec["name"]] = base[spec["name"]].astype("float64")
        log_odds = self._log_odds(base)
        contributions = np.zeros((n, len(features)))
        chunk = max(1, _BATCH_ROWS // max(per_row, 1))
        for start in range(0, n, chunk):
            part = base.iloc[start : start + chunk]
            m = len(part)
            pieces = []
            for j, (values, _) in enumerate(backgrounds):
                rep = part.iloc[np.repeat(np.arange(m), sizes[j])]
                rep = rep.reset_index(drop=True)
                rep[features[j]] = _tile(values, m, base.dtypes[features[j]])
                pieces.append(rep)
            big = pd.concat(pieces, ignore_index=True)
            g = self._log_odds(big)
            offset = 0
            for j, (_, weights) in enumerate(backgrounds):
                block = g[offset : offset + m * sizes[j]].reshape(m, sizes[j])
                expected = block @ weights
                contributions[start : start + m, j] = (
                    log_odds[start : start + m] - expected
                )
                offset += m * sizes[j]
        return contributions, log_odds

    def _log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.flavor_.predict_proba(self.model_, frame)
        p = np.clip(p, _EPS, 1.0 - _EPS)
        return np.log(p) - np.log1p(-p)


def attribute(
    model: Any,
    X: pd.DataFrame,
    *,
    reference: pd.DataFrame | Mapping[str, Any] | Any | None = None,
    method: str = "auto",
) -> Attribution:
    """One-off :meth:`Explainer.attribute` (fits a new explainer each call)."""
    return Explainer(model, reference, method=method).fit().attribute(X)


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    reference: pd.DataFrame | Mapping[str, Any] | Any | None = None,
    top_k: int = 4,
    method: str = "auto",
) -> list[list[Reason]]:
    """One-off :meth:`Explainer.explain`; on a hot path build an
    :class:`Explainer` once instead.

    Example:
        >>> explain(loaded, frame.head(1), reference=train)[0][0].code  # doctest: +SKIP
        'RC-STATUS_OF_EXISTING_CHECKING_ACCOUNT'
    """
    return Explainer(model, reference, top_k=top_k, method=method).fit().explain(X)


# -- occlusion helpers -----------------------------------------------------------
def _tile(values: list[Any], m: int, dtype: Any) -> pd.Series:
    """``values`` repeated for ``m`` rows, in the column's dtype if it fits."""
    tiled = np.empty(len(values) * m, dtype=object)
    tiled[:] = values * m
    try:
        return pd.Series(tiled, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(tiled, dtype=object)


# -- phrasing --------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def format_number(value: float) -> str:
    """A number for a person: whole numbers as such, else 4 significant digits.

    Example:
        >>> format_number(15000.0), format_number(3271.258), format_number(0.0412)
        ('15000', '3271', '0.0412')
    """
    if float(value).is_integer():
        return str(int(value))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _phrase(feature: str, value: Any, ref: FeatureReference | None) -> str:
    if value is None:
        return f"{feature} is missing"
    if ref is None:
        shown = format_number(value) if _is_number(value) else f"'{value}'"
        return f"{feature} = {shown}"
    if ref.kind == "numeric" and _is_number(value):
        text = f"{feature} = {format_number(float(value))}"
        if ref.mean is None:
            return text
        avg = format_number(ref.mean)
        if math.isclose(float(value), ref.mean, rel_tol=1e-9, abs_tol=1e-12):
            return f"{text} (the reference average)"
        side = "higher" if float(value) > ref.mean else "lower"
        return f"{text} ({side} than the reference average {avg})"
    share = ref.share(value)
    if share == 0:
        return f"{feature} = '{value}' (not seen in the reference population)"
    return f"{feature} = '{value}' ({share:.0%} of the reference population)"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
