"""One grammar of durations and schedules for monitors and policies alike."""

from __future__ import annotations

import datetime as dt

import pytest

from mlsteward.durations import next_due, parse_duration, parse_schedule
from mlsteward.errors import InvalidInput

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (3600, 3600),
        ("3600", 3600),
        ("30s", 30),
        ("15m", 900),
        ("6h", 21600),
        ("1d", 86400),
        ("1w", 604800),
        (" 2 w ", 1209600),
    ],
)
def test_every_duration_form_is_read_the_same_everywhere(
    text: object, seconds: int
) -> None:
    assert parse_duration(text, "x") == seconds
    assert parse_schedule(text, "x").interval == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["1x", "w", "-1d", "1.5h", "", None, True, [1]])
def test_a_bad_duration_names_the_field_and_the_forms(bad: object) -> None:
    with pytest.raises(InvalidInput, match=r"data\.window") as info:
        parse_duration(bad, "data.window")
    assert info.value.field == "data.window"
    assert "'1w'" in str(info.value)


def test_zero_is_refused_unless_the_caller_allows_it() -> None:
    with pytest.raises(InvalidInput, match="at least 1 second") as info:
        parse_duration("0s", "window.seconds")
    assert info.value.field == "window.seconds"
    assert parse_duration("0s", "triggers.cooldown", minimum=0) == 0


@pytest.mark.parametrize(
    "bad", ["61 * * * *", "* * * *", "every day", "*/0 * * * *", "1x"]
)
def test_a_bad_schedule_names_the_callers_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_schedule(bad, "triggers.schedule")
    assert info.value.field == "triggers.schedule"
    assert "triggers.schedule" in str(info.value)


def test_next_due_for_an_interval_and_a_cron() -> None:
    t = dt.datetime(2025, 7, 1, 7, 0, tzinfo=UTC)  # a Tuesday
    assert next_due("1w", t) == t + dt.timedelta(weeks=1)
    assert next_due(parse_schedule("0 6 * * mon"), t) == dt.datetime(
        2025, 7, 7, 6, 0, tzinfo=UTC
    )


def test_the_cli_ages_speak_the_same_units() -> None:
    from mlsteward.cli.serving import _when

    before = dt.datetime.now(UTC)
    week = _when("1w", "since")
    assert week is not None
    assert abs((before - week) - dt.timedelta(weeks=1)) < dt.timedelta(minutes=1)
    assert _when("2026-01-31T12:00:00Z", "since") == dt.datetime(
        2026, 1, 31, 12, tzinfo=UTC
    )
    with pytest.raises(InvalidInput) as info:
        _when("soon", "until")
    assert info.value.field == "until"
