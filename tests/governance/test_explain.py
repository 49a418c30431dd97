"""Reason codes: contributions add up where the method promises it, reasons are
the model's own inputs, and the model-agnostic method keeps its promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlsteward.datasets.bundled import GERMAN_CREDIT_PROTECTED, german_credit_roles
from mlsteward.datasets.profile import compute_profile
from mlsteward.errors import InvalidInput
from mlsteward.explain.explainer import Explainer, attribute, explain, reason_code
from mlsteward.registry.signature import infer_signature
from mlsteward.retraining.trainers import gradient_boosting, logistic_scorecard

FEATURES = [c for c, r in german_credit_roles().items() if r == "feature"]
NUMERIC = [
    "duration_in_month",
    "credit_amount",
    "installment_rate_in_percentage_of_disposable_income",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """OpenMP threads of gradient boosting fight over a busy 2-core machine;
    one thread is faster there (see ANCHORS: serving on 2 cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def split(credit):
    return credit.iloc[:700].reset_index(drop=True), credit.iloc[700:].reset_index(
        drop=True
    )


@pytest.fixture(scope="module")
def scorecard(split):
    train, _ = split
    model = logistic_scorecard(train, features=FEATURES, target="bad")
    return model, infer_signature(train[FEATURES])


@pytest.fixture(scope="module")
def linear(scorecard, split):
    model, sig = scorecard
    return Explainer(("sklearn", model, sig), reference=split[0]).fit()


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


# -- linear --------------------------------------------------------------------
def test_linear_contributions_add_up_to_log_odds_minus_reference(
    linear, scorecard, split
) -> None:
    model, _ = scorecard
    train, test = split
    a = linear.attribute(test)
    assert a.method == "linear" and a.additive
    assert a.contributions.shape == (len(test), len(FEATURES))
    p = model.predict_proba(test[FEATURES])[:, 1]
    np.testing.assert_allclose(a.log_odds, _logit(p), rtol=0, atol=1e-9)
    # The baseline is the log-odds of the reference average, computed here
    # independently from the fitted pipeline.
    pre, lr = model.named_steps["preprocess"], model.named_steps["model"]
    mean_ref = pre.transform(train[FEATURES]).mean(axis=0)
    expected_baseline = lr.intercept_[0] + mean_ref @ lr.coef_[0]
    np.testing.assert_allclose(a.baseline, expected_baseline, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        a.contributions.sum(axis=1), a.log_odds - a.baseline, rtol=0, atol=1e-9
    )
    # One feature by hand: credit_amount is one standardised column.
    k = list(pre.get_feature_names_out()).index("numeric__credit_amount")
    z = pre.transform(test[FEATURES])[:, k]
    j = FEATURES.index("credit_amount")
    np.testing.assert_allclose(
        a.contributions[:, j], lr.coef_[0][k] * (z - mean_ref[k]), atol=1e-12
    )


def test_reasons_push_towards_denial_and_read_well(linear, split) -> None:
    _, test = split
    row = test.head(1).copy()
    row["credit_amount"] = 15000
    row["duration_in_month"] = 60
    reasons = linear.explain(row)[0]
    assert 0 < len(reasons) <= 4
    contributions = [r.contribution for r in reasons]
    assert all(c > 0 for c in contributions)
    assert contributions == sorted(contributions, reverse=True)
    by_code = {r.code: r for r in reasons}
    amount = by_code["RC-CREDIT_AMOUNT"]
    assert amount.feature == "credit_amount" and amount.value == 15000
    assert amount.phrase.startswith("credit_amount = 15000 (higher than the ")
    assert "reference average 3" in amount.phrase  # the training mean, ~3182
    assert by_code["RC-DURATION_IN_MONTH"].phrase.startswith("duration_in_month = 60")
    categorical = [r for r in reasons if isinstance(r.value, str)]
    assert all("% of the reference population" in r.phrase for r in categorical)
    assert reasons[0].to_dict()["code"] == reasons[0].code
    # top_k and the vectorised form agree with the lists.
    a = linear.attribute(test.head(20))
    idx, vals = a.top(2)
    lists = linear.reasons(a, top_k=2)
    for i, reasons_i in enumerate(lists):
        assert [r.feature for r in reasons_i] == [FEATURES[j] for j in idx[i] if j >= 0]
        assert [r.contribution for r in reasons_i] == list(vals[i][: len(reasons_i)])


def test_a_row_with_nothing_against_it_has_no_reasons(linear, split) -> None:
    # Give every feature its most favourable reference value: no contribution
    # is positive, so there is no reason to deny.
    train, test = split
    row = test.head(1).reset_index(drop=True)
    for j, feature in enumerate(FEATURES):
        candidates = pd.concat([row] * train[feature].nunique(), ignore_index=True)
        candidates[feature] = train[feature].unique()
        best = int(np.argmin(linear.attribute(candidates).contributions[:, j]))
        row[feature] = candidates[feature].iloc[best]
    assert (linear.attribute(row).contributions <= 1e-12).all()
    assert linear.explain(row) == [[]]
    idx, vals = linear.attribute(test).top(len(FEATURES))
    assert ((idx == -1) == (vals == 0)).all()


def test_explainer_for_a_registered_version_uses_its_training_profile(
    sqlite_client, split, linear
) -> None:
    from mlsteward.explain.service import explainer_for

    train, test = split
    dv = sqlite_client.register_dataset("gc-train", train, roles=german_credit_roles())
    run = sqlite_client.start_run("train", inputs=[dv.ref])
    model = logistic_scorecard(train, features=FEATURES, target="bad")
    mv = sqlite_client.register_model(
        "credit-risk", model, train[FEATURES], run_id=run.id
    )
    loaded = sqlite_client.load_model(mv.ref)
    from_profile = explainer_for(sqlite_client.ctx, loaded)
    assert from_profile.exact_reference_ and from_profile.method_ == "linear"
    a = from_profile.attribute(test)
    b = linear.attribute(test)
    np.testing.assert_allclose(a.contributions, b.contributions, atol=1e-9)
    np.testing.assert_allclose(a.baseline, b.baseline, atol=1e-9)
    # The explainer of a LoadedModel scores like the LoadedModel.
    np.testing.assert_allclose(
        a.log_odds, _logit(loaded.predict_proba(test)), rtol=0, atol=1e-9
    )
    # A serving path that already conformed the rows may skip the check.
    from mlsteward.registry.signature import conform

    rows = conform(loaded.version.signature, test.head(3))
    assert from_profile.explain(rows, conformed=True) == from_profile.explain(
        test.head(3)
    )
    # Without lineage there is no reference, and the linear method says so.
    bare = sqlite_client.register_model("credit-risk", model, train[FEATURES])
    with pytest.raises(InvalidInput) as info:
        explainer_for(sqlite_client.ctx, sqlite_client.load_model(bare.ref))
    assert info.value.field == "reference"


def test_protected_columns_are_never_reasons(linear, split) -> None:
    _, test = split
    rows = test.head(30)
    baseline = linear.explain(rows)
    hostile = rows.copy()
    hostile["age_in_years"] = 99
    hostile["foreign_worker"] = "yes"
    hostile["personal_status_and_sex"] = "<script>"
    again = linear.explain(hostile)
    assert again == baseline
    named = {r.feature for reasons in again for r in reasons}
    assert named <= set(FEATURES)
    assert not named & set(GERMAN_CREDIT_PROTECTED)
    assert set(linear.features_) == set(FEATURES)


def test_explanations_are_deterministic(scorecard, split) -> None:
    model, sig = scorecard
    train, test = split
    one = explain(("sklearn", model, sig), test.head(25), reference=train)
    two = explain(("sklearn", model, sig), test.head(25), reference=train)
    assert one == two


def test_binned_scorecard_with_a_profile_is_flagged_approximate(split) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import KBinsDiscretizer

    train, test = split
    bins = KBinsDiscretizer(n_bins=4, encode="onehot-dense", quantile_method="linear")
    columns = [("bins", bins, NUMERIC[:2]), ("rest", "passthrough", NUMERIC[2:])]
    model = Pipeline(
        [
            ("pre", ColumnTransformer(columns)),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    ).fit(train[NUMERIC], train["bad"])
    sig = infer_signature(train[NUMERIC])
    exact = Explainer(("sklearn", model, sig), reference=train).fit()
    a = exact.attribute(test)
    np.testing.assert_allclose(
        a.contributions.sum(axis=1), a.log_odds - a.baseline, atol=1e-9
    )
    approx = Explainer(
        ("sklearn", model, sig), reference=compute_profile(train[NUMERIC])
    ).fit()
    assert exact.exact_reference_ and not approx.exact_reference_
    b = approx.attribute(test)  # still additive, against an approximate mean
    np.testing.assert_allclose(
        b.contributions.sum(axis=1), b.log_odds - b.baseline, atol=1e-9
    )


# -- LightGBM ------------------------------------------------------------------
def test_lightgbm_contributions_add_up_to_the_raw_score(split) -> None:
    lgb = pytest.importorskip("lightgbm")
    from mlsteward.flavors import get_flavor

    train, test = split
    X = train[FEATURES].copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    clf = lgb.LGBMClassifier(
        n_estimators=40, num_leaves=8, verbose=-1, random_state=0
    ).fit(X, train["bad"])
    flavor = get_flavor("lightgbm")
    booster = flavor.load(flavor.save(clf))
    ex = Explainer(("lightgbm", booster, infer_signature(train[FEATURES])), train)
    a = ex.fit().attribute(test)
    assert a.method == "lightgbm" and a.additive
    np.testing.assert_allclose(
        a.contributions.sum(axis=1) + a.baseline, a.log_odds, rtol=0, atol=1e-9
    )
    p = flavor.predict_proba(booster, test[FEATURES])
    np.testing.assert_allclose(a.log_odds, _logit(p), rtol=0, atol=1e-9)
    reasons = ex.explain(test.head(5))
    assert all(r.contribution > 0 for rs in reasons for r in rs)
    # Without a reference: LightGBM's own baseline, phrases without comparison.
    bare = Explainer(("lightgbm", booster, infer_signature(train[FEATURES]))).fit()
    np.testing.assert_allclose(bare.attribute(test).contributions, a.contributions)
    assert "reference" not in " ".join(
        r.phrase for rs in bare.explain(test) for r in rs
    )


# -- occlusion -----------------------------------------------------------------
def test_occlusion_gives_zero_to_a_feature_the_model_ignores(split) -> None:
    train, test = split
    used = [f for f in FEATURES if f != "telephone"]
    model = gradient_boosting(
        train, features=used, target="bad", params={"max_iter": 30}
    )
    sig = infer_signature(train[FEATURES])  # the signature still lists it
    ex = Explainer(("sklearn", model, sig), reference=train).fit()
    assert ex.method_ == "occlusion"
    a = ex.attribute(test.head(40))
    assert not a.additive and a.baseline is None
    assert (a.contributions[:, FEATURES.index("telephone")] == 0).all()
    assert np.abs(a.contributions).sum() > 0
    # Deterministic: no sampling.
    np.testing.assert_array_equal(
        ex.attribute(test.head(40)).contributions, a.contributions
    )


def test_occlusion_is_monotone_where_the_model_is(split) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = split
    model = HistGradientBoostingClassifier(
        max_iter=40, monotonic_cst=[1, 1, 0], random_state=0
    ).fit(train[NUMERIC], train["bad"])
    sig = infer_signature(train[NUMERIC])
    ex = Explainer(("sklearn", model, sig), reference=train).fit()
    rows = pd.concat([test[NUMERIC].head(1)] * 25, ignore_index=True)
    rows["credit_amount"] = np.linspace(250, 18000, 25).round()
    c = ex.attribute(rows).contributions[:, NUMERIC.index("credit_amount")]
    assert (np.diff(c) >= -1e-12).all()
    assert c[-1] > c[0]


def test_occlusion_equals_linear_on_an_additive_model(linear, scorecard, split) -> None:
    model, sig = scorecard
    train, test = split
    occ = attribute(("sklearn", model, sig), test, reference=train, method="occlusion")
    np.testing.assert_allclose(
        occ.contributions, linear.attribute(test).contributions, atol=1e-9
    )


# -- errors --------------------------------------------------------------------
def test_errors_name_what_is_wrong(scorecard, split) -> None:
    model, sig = scorecard
    train, test = split
    with pytest.raises(InvalidInput, match="not fitted"):
        Explainer(("sklearn", model, sig), train).explain(test)
    with pytest.raises(InvalidInput, match="method") as info:
        Explainer(("sklearn", model, sig), train, method="shap").fit()
    assert info.value.field == "method"
    with pytest.raises(InvalidInput) as info:
        Explainer(("sklearn", model, sig), train, top_k=0).fit()
    assert info.value.field == "top_k"
    with pytest.raises(InvalidInput) as info:
        Explainer(("sklearn", model, sig)).fit()
    assert info.value.field == "reference"
    profile = compute_profile(train[FEATURES[:-1]])
    with pytest.raises(InvalidInput, match="telephone"):
        Explainer(("sklearn", model, sig), profile).fit()
    hgb = gradient_boosting(
        train, features=FEATURES, target="bad", params={"max_iter": 5}
    )
    with pytest.raises(InvalidInput, match="occlusion"):
        Explainer(("sklearn", hgb, sig), train, method="linear").fit()
    ex = Explainer(("sklearn", model, sig), train).fit()
    with pytest.raises(InvalidInput) as info:
        ex.explain(test.drop(columns=["purpose"]))
    assert info.value.field == "purpose"
    with pytest.raises(InvalidInput, match="LoadedModel"):
        Explainer(model, train).fit()
    assert reason_code("number of credits (at bank)") == "RC-NUMBER_OF_CREDITS_AT_BANK"
