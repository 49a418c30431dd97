"""The simulated history: layout, determinism and the documented shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlsteward.datasets import simulate
from mlsteward.datasets.bundled import load_german_credit
from mlsteward.datasets.simulate import SimulatedHistory, make_periods
from mlsteward.errors import InvalidInput


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return load_german_credit()


@pytest.fixture(scope="module")
def history(credit: pd.DataFrame) -> SimulatedHistory:
    return make_periods(credit)


def _frames(h: SimulatedHistory) -> list[pd.DataFrame]:
    return [h.train, *(p.frame for p in h.periods)]


def test_layout(history: SimulatedHistory, credit: pd.DataFrame) -> None:
    assert len(history.train) == 500
    assert history.train["bad"].sum() == 150
    assert [p.label for p in history.periods] == [
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
    ]
    assert [p.shift_strength for p in history.periods] == pytest.approx(
        [k / 6 for k in range(1, 7)]
    )
    assert history.holdout is history.periods[-1]
    expected = list(credit.columns)
    expected.insert(1, "applied_at")
    for frame in _frames(history):
        assert list(frame.columns) == expected
        assert frame.index.name == "source_row"
        for column in credit.columns:
            assert frame[column].dtype == credit[column].dtype, column
    assert all(len(p.frame) == 250 for p in history.periods)


def test_same_seed_same_history(credit: pd.DataFrame) -> None:
    first, second = make_periods(credit, seed=3), make_periods(credit, seed=3)
    for a, b in zip(_frames(first), _frames(second), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert [p.relabelled for p in first.periods] == [
        p.relabelled for p in second.periods
    ]
    other = make_periods(credit, seed=4)
    assert not other.train.index.equals(first.train.index)


def test_input_frame_is_not_modified(credit: pd.DataFrame) -> None:
    before = credit.copy()
    make_periods(credit, seed=1)
    pd.testing.assert_frame_equal(credit, before)


def test_timestamps_are_utc_inside_their_months(history: SimulatedHistory) -> None:
    train_at = history.train["applied_at"]
    assert str(train_at.dt.tz) == "UTC"
    assert history.train_start == pd.Timestamp("2025-01-01", tz="UTC")
    assert history.train_end == pd.Timestamp("2025-07-01", tz="UTC")
    assert train_at.min() >= history.train_start
    assert train_at.max() < history.train_end
    assert train_at.is_monotonic_increasing
    # Training applications spread over all six training months.
    assert train_at.dt.month.nunique() == 6
    for period in history.periods:
        at = period.frame["applied_at"]
        assert str(at.dt.tz) == "UTC"
        assert period.start == pd.Timestamp(f"{period.label}-01", tz="UTC")
        assert at.min() >= period.start and at.max() < period.end
        assert (at.dt.strftime("%Y-%m") == period.label).all()
        assert at.is_monotonic_increasing


def test_no_applicant_in_two_frames(history: SimulatedHistory) -> None:
    seen: set[int] = set()
    for frame in _frames(history):
        rows = set(frame.index)
        assert not rows & seen
        seen |= rows
    assert history.train.index.is_unique


def test_application_ids_unique_across_frames(history: SimulatedHistory) -> None:
    ids = pd.concat([f["application_id"] for f in _frames(history)])
    assert ids.is_unique
    first = history.periods[0].frame["application_id"]
    assert first.iloc[0] == "GC-2025-07-0001"
    assert first.iloc[-1] == "GC-2025-07-0250"


def test_rows_are_real_rows_with_documented_changes(
    history: SimulatedHistory, credit: pd.DataFrame
) -> None:
    unchanged = [
        c for c in credit.columns if c not in {"application_id", "credit_amount", "bad"}
    ]
    train_source = credit.loc[history.train.index]
    pd.testing.assert_frame_equal(
        history.train.drop(columns="applied_at"), train_source, check_names=False
    )
    segment_column, segment_value = simulate.CONCEPT_SEGMENT
    for period in history.periods:
        frame = period.frame
        source = credit.loc[frame.index]
        for column in unchanged:
            assert (frame[column].to_numpy() == source[column].to_numpy()).all()
        growth = 1 + simulate.AMOUNT_GROWTH * period.shift_strength
        expected_amount = np.round(source["credit_amount"].to_numpy() * growth)
        assert (frame["credit_amount"].to_numpy() == expected_amount).all()
        # Outcomes change only inside the concept segment, and only good -> bad.
        in_segment = (source[segment_column] == segment_value).to_numpy()
        new, old = frame["bad"].to_numpy(), source["bad"].to_numpy()
        assert (new[~in_segment] == old[~in_segment]).all()
        assert (new >= old).all()
        assert int((new != old).sum()) == period.relabelled


@pytest.mark.parametrize("seed", [7, 1, 2, 3])
def test_shift_direction(credit: pd.DataFrame, seed: int) -> None:
    h = make_periods(credit, seed=seed)
    ages = [p.frame["age_in_years"].mean() for p in h.periods]
    amounts = [p.frame["credit_amount"].mean() for p in h.periods]
    steps = np.arange(len(h.periods))
    assert np.polyfit(steps, ages, 1)[0] < 0
    assert np.polyfit(steps, amounts, 1)[0] > 0
    assert ages[-1] < h.train["age_in_years"].mean()
    assert amounts[-1] > h.train["credit_amount"].mean()
    car = [(p.frame["purpose"] == simulate.GROWING_PURPOSE).mean() for p in h.periods]
    assert np.mean(car[3:]) > (h.train["purpose"] == simulate.GROWING_PURPOSE).mean()
    segment_column, segment_value = simulate.CONCEPT_SEGMENT

    def segment_bad_rate(frame: pd.DataFrame) -> float:
        return float(frame.loc[frame[segment_column] == segment_value, "bad"].mean())

    assert segment_bad_rate(h.periods[-1].frame) > segment_bad_rate(h.train) + 0.3
    relabelled = [p.relabelled for p in h.periods]
    assert relabelled[0] < max(relabelled[2:])


def test_other_sizes_and_start(credit: pd.DataFrame) -> None:
    h = make_periods(
        credit,
        n_periods=2,
        rows_per_period=40,
        train_fraction=0.8,
        start="2024-11",
        train_months=2,
        seed=0,
    )
    assert len(h.train) == 800
    assert [p.label for p in h.periods] == ["2025-01", "2025-02"]
    assert [len(p.frame) for p in h.periods] == [40, 40]
    assert h.periods[-1].shift_strength == 1.0
    single = make_periods(credit, n_periods=1, rows_per_period=10)
    assert len(single.periods) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": "2025-13"}, "start"),
        ({"start": "January"}, "start"),
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"train_fraction": 0.0}, "train_fraction"),
        ({"n_periods": 0}, "n_periods"),
        ({"rows_per_period": 2.5}, "rows_per_period"),
        ({"train_months": True}, "train_months"),
        ({"target": "missing"}, "missing"),
    ],
)
def test_bad_arguments(credit: pd.DataFrame, kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        make_periods(credit, **kwargs)
    assert info.value.field == field


def test_frame_without_needed_columns(credit: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as info:
        make_periods(credit.drop(columns="credit_history"))
    assert info.value.field == "credit_history"
    assert "credit_history" in info.value.message
    with pytest.raises(InvalidInput) as info:
        make_periods(credit.assign(bad=credit["bad"] * 2))
    assert info.value.field == "bad"
