"""Request validation and model input: the server scores exactly what
``LoadedModel.predict_proba`` scores, and refuses bad records by name."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsteward.errors import InvalidInput
from mlsteward.registry.signature import conform, infer_signature, probe_missing
from mlsteward.serving.live_model import LiveModel, known_categories
from mlsteward.serving.schema import (
    REDACTED,
    UNKNOWN_CATEGORY,
    MalformedRequest,
    RequestSchema,
)


@pytest.fixture(scope="module")
def loaded(credit: Any, trained: Any) -> Any:
    import datetime as dt

    from mlsteward.flavors import get_flavor
    from mlsteward.registry.models import ModelVersion
    from mlsteward.registry.service import LoadedModel

    model, features = trained
    flavor = get_flavor("sklearn")
    version = ModelVersion(
        name="credit-risk", version=1, state="registered", flavor="sklearn",
        artifact_sha256="0" * 64, artifact_size=1,
        signature=infer_signature(credit[features]), run_id=None,
        parent_version=None, description="", tags={},
        created_at=dt.datetime.now(dt.UTC), created_by="tester",
    )  # fmt: skip
    return LoadedModel(version, flavor, flavor.load(flavor.save(model)))


@pytest.fixture(scope="module")
def schema(loaded: Any) -> RequestSchema:
    return RequestSchema(
        loaded.version.signature.inputs,
        log_columns=["age_in_years", "application_id"],
        pii_columns=["application_id"],
        categories=known_categories(loaded),
    )


@pytest.fixture(scope="module")
def rows(credit: Any, trained: Any) -> list[dict[str, Any]]:
    _, features = trained
    return credit[[*features, "age_in_years", "application_id"]].to_dict("records")  # type: ignore[no-any-return]


def test_frame_and_scores_match_predict_proba(
    schema: RequestSchema, loaded: Any, rows: list[dict[str, Any]], credit: Any
) -> None:
    features = loaded.version.signature.feature_names
    batch = schema.decode(orjson.dumps(rows))
    live = LiveModel(loaded)
    expected = conform(loaded.version.signature, credit[features])
    pd.testing.assert_frame_equal(live.frame(batch.columns), expected)
    np.testing.assert_array_equal(
        live.score(batch.columns, batch.n), loaded.predict_proba(credit[features])
    )
    # One row at a time agrees to the last few bits (BLAS sums in another order).
    for i in range(0, 1000, 97):
        one = schema.decode(orjson.dumps(rows[i]))
        assert one.single
        got = live.score(one.columns, 1)[0]
        assert got == pytest.approx(
            loaded.predict_proba(credit[features].iloc[[i]])[0], abs=1e-12
        )


def test_logged_inputs_are_redacted_and_keep_extras(
    schema: RequestSchema, rows: list[dict[str, Any]]
) -> None:
    batch = schema.decode(orjson.dumps(rows[:2]))
    assert not batch.single
    assert batch.logged[0]["application_id"] == REDACTED
    assert batch.logged[0]["age_in_years"] == rows[0]["age_in_years"]
    assert "application_id" not in batch.columns


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"purpose": None}, "purpose", "missing value"),
        ({"purpose": 3}, "purpose", "string"),
        ({"credit_amount": "1000"}, "credit_amount", "number"),
        ({"credit_amount": True}, "credit_amount", "number"),
        ({"credit_amount": 10.5}, "credit_amount", "whole number"),
        ({"credit_amount": 2**70}, "credit_amount", "out of range"),
        ({"purpose": "spaceship"}, "purpose", "never saw"),
        ({"shoe_size": 43}, "shoe_size", "unexpected column"),
        ({"credit_amount": ...}, "credit_amount", "missing column"),
    ],
)
def test_bad_records_name_the_field(
    schema: RequestSchema,
    rows: list[dict[str, Any]],
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    record = dict(rows[0])
    for k, v in change.items():
        if v is ...:
            del record[k]
        else:
            record[k] = v
    with pytest.raises(InvalidInput) as err:
        schema.decode(json.dumps([rows[1], record]).encode())
    assert err.value.field == field
    assert words in err.value.message
    assert "record 1" in err.value.message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"{not json", "not valid JSON"),
        (b"42", "number"),
        (b"[1, 2]", "record 0"),
        (b"[]", "empty"),
    ],
)
def test_malformed_bodies(schema: RequestSchema, body: bytes, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        schema.decode(body)


def test_nan_and_infinity_are_named(
    schema: RequestSchema, rows: list[dict[str, Any]]
) -> None:
    for literal, words in (
        ("NaN", "NaN"),
        ("Infinity", "infinite"),
        ("1e400", "infinite"),
    ):
        body = json.dumps(rows[0]).replace(
            f'"duration_in_month": {rows[0]["duration_in_month"]}',
            f'"duration_in_month": {literal}',
        )
        with pytest.raises(InvalidInput, match=words) as err:
            schema.decode(body.encode())
        assert err.value.field == "duration_in_month"
        assert not isinstance(err.value, MalformedRequest)


def test_unknown_policy_maps_and_flags(loaded: Any, rows: list[dict[str, Any]]) -> None:
    lenient = RequestSchema(
        loaded.version.signature.inputs,
        log_columns=["age_in_years", "application_id"],
        categories=known_categories(loaded),
        unseen_policy="unknown",
    )
    record = {**rows[0], "purpose": "spaceship"}
    batch = lenient.decode(orjson.dumps(record))
    assert batch.columns["purpose"] == [UNKNOWN_CATEGORY]
    assert batch.flags == [{"unseen": {"purpose": "spaceship"}}]
    assert batch.logged[0]["purpose"] == "spaceship"  # the log keeps what was sent
    score = LiveModel(loaded).score(batch.columns, 1)
    assert 0.0 <= score[0] <= 1.0


def test_a_missing_value_the_pipeline_imputes_is_scored_and_flagged(
    loaded: Any, rows: list[dict[str, Any]], credit: Any
) -> None:
    signature = loaded.version.signature
    probed = probe_missing(
        signature,
        credit[signature.feature_names].head(5),
        lambda X: loaded.flavor.predict_proba(loaded.model, X),
    )
    schema = RequestSchema(
        probed.inputs, log_columns=["age_in_years", "application_id"]
    )
    gap = {**rows[0], "credit_amount": None}
    fast = schema.decode(orjson.dumps([rows[1], gap, gap]))
    nan = json.dumps([rows[1], gap, gap]).replace("null", "NaN").encode()
    slow = schema.decode(nan)  # NaN is no JSON: the reference path reads it
    for batch in (fast, slow):
        assert batch.columns["credit_amount"] == [rows[1]["credit_amount"], None, None]
        gaps = [{"missing": ["credit_amount"]}] * 2
        assert batch.flags == [None, *gaps]
    # Scored as the model scores the frame conform builds: the median imputed.
    frame = pd.DataFrame([rows[1], gap, gap])
    expected = loaded.flavor.predict_proba(loaded.model, conform(probed, frame))
    model = LiveModel(loaded)
    np.testing.assert_allclose(model.score(fast.columns, 3), expected, atol=1e-12)
    # Without the probe (an old signature), the same record is refused by name.
    with pytest.raises(InvalidInput, match="record 1: column 'credit_amount'"):
        RequestSchema(
            signature.inputs, log_columns=["age_in_years", "application_id"]
        ).decode(orjson.dumps([rows[1], gap]))


def test_whole_floats_are_accepted_like_conform(
    schema: RequestSchema, rows: list[dict[str, Any]]
) -> None:
    record = {**rows[0], "credit_amount": float(rows[0]["credit_amount"])}
    batch = schema.decode(orjson.dumps(record))
    assert batch.columns["credit_amount"] == [rows[0]["credit_amount"]]


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_mutation_is_accepted_or_refused_by_name(
    schema: RequestSchema, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    record = dict(data.draw(st.sampled_from(rows[:50])))
    names = [*schema.names, "age_in_years", "application_id", "other"]
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(names))
        if data.draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = data.draw(_json)
    body = json.dumps(
        data.draw(st.sampled_from([record, [record], [rows[0], record]]))
    ).encode()
    try:
        batch = schema.decode(body)
    except InvalidInput as exc:
        assert exc.field, exc.message
        return
    # Accepted: the slow reference path agrees with the compiled one.
    slow = schema._decode_slowly(body)
    assert slow.columns == batch.columns
    assert slow.flags == batch.flags


def test_a_record_logged_as_sent_keeps_its_body(
    loaded: Any, schema: RequestSchema, rows: list[dict[str, Any]]
) -> None:
    plain = RequestSchema(
        loaded.version.signature.inputs,
        log_columns=["age_in_years", "application_id"],
        categories=known_categories(loaded),
        unseen_policy="unknown",
    )
    body = orjson.dumps(rows[0])
    assert plain.decode(body).raw == body  # logged exactly as sent
    # Not when the log must differ from the body, or the body spans lines.
    assert schema.decode(body).raw is None  # pii to redact
    assert plain.decode(orjson.dumps({**rows[0], "purpose": "x"})).raw is None
    assert plain.decode(orjson.dumps([rows[0]])).raw is None  # a list
    pretty = json.dumps(rows[0], indent=1).encode()
    assert plain.decode(pretty).raw is None


def test_nul_characters_are_refused_by_name_wherever_they_hide(
    schema: RequestSchema, rows: list[dict[str, Any]]
) -> None:
    """PostgreSQL's JSON cannot store U+0000; a record the log cannot store
    would hold up every record after it, so it is refused up front."""
    cases = [
        ({**rows[0], "purpose": "car\x00"}, "purpose"),
        ({**rows[0], "application_id": {"nested": ["ok", "x\x00"]}}, "application_id"),
    ]
    for record, field in cases:
        with pytest.raises(InvalidInput, match="NUL character") as info:
            schema.decode(orjson.dumps(record))
        assert info.value.field == field
        with pytest.raises(InvalidInput, match="NUL character") as info:
            schema.decode(orjson.dumps([rows[1], record]))
        assert info.value.field == field
        assert "record 1" in info.value.message
    # The six characters backslash-u-0-0-0-0 are text, not a NUL: accepted.
    literal = {**rows[0], "application_id": "\\u0000"}
    assert schema.decode(orjson.dumps(literal)).n == 1
    # Column-wise input (the v2 protocol) is held to the same rule.
    columns = {name: [value] for name, value in rows[0].items() if name in schema.names}
    columns["purpose"] = ["car\x00"]
    with pytest.raises(InvalidInput, match="NUL character") as info:
        schema.from_columns(columns, {})
    assert info.value.field == "purpose"
    columns["purpose"] = [rows[0]["purpose"]]
    with pytest.raises(InvalidInput, match="NUL character") as info:
        schema.from_columns(columns, {"application_id": ["a\x00"]})
    assert info.value.field == "application_id"
