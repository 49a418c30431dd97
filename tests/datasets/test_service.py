"""Dataset versions: content identity, roles, profiles, files, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlsteward.datasets.bundled import german_credit_roles
from mlsteward.errors import InvalidInput, NotFound


def test_same_content_is_the_same_version(client, credit) -> None:
    roles = german_credit_roles()
    v1 = client.register_dataset("german-credit", credit, roles=roles)
    again = client.register_dataset("german-credit", credit.copy(), roles=roles)
    assert again.version == v1.version == 1
    assert again.sha256 == v1.sha256
    v2 = client.register_dataset("german-credit", credit.iloc[:999], roles=roles)
    assert v2.version == 2 and v2.sha256 != v1.sha256
    assert [v.ref for v in client.list_datasets()] == [
        "german-credit/1",
        "german-credit/2",
    ]
    assert client.get_dataset("german-credit").ref == "german-credit/2"
    # one audit event per new version, none for the repeat
    events = [e for e in client.audit_log() if e.action == "dataset.registered"]
    assert [e.object_id for e in events] == ["german-credit/1", "german-credit/2"]


def test_roles_and_profile_are_stored(client, credit) -> None:
    v = client.register_dataset("gc", credit, roles=german_credit_roles())
    assert v.target == "bad"
    assert v.columns_with_role("id") == ["application_id"]
    assert set(v.columns_with_role("protected")) == {
        "personal_status_and_sex",
        "age_in_years",
        "foreign_worker",
    }
    prof = v.profile["columns"]
    assert "application_id" not in prof  # ids are never profiled
    amount = prof["credit_amount"]
    assert amount["kind"] == "numeric"
    assert amount["min"] == credit["credit_amount"].min()
    assert amount["max"] == credit["credit_amount"].max()
    assert sum(amount["counts"]) == len(credit)
    purpose = prof["purpose"]
    assert purpose["categories"] == credit["purpose"].value_counts().to_dict()


def test_load_returns_the_registered_table(client, credit) -> None:
    v = client.register_dataset("gc", credit, roles=german_credit_roles())
    back = client.load_dataset(v.ref)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), credit.reset_index(drop=True), check_dtype=False
    )


def test_csv_and_parquet_files_with_equal_content_share_identity(
    sqlite_client, credit, tmp_path: Path
) -> None:
    csv = tmp_path / "gc.csv"
    pq = tmp_path / "gc.parquet"
    credit.to_csv(csv, index=False)
    credit.to_parquet(pq, index=False)
    a = sqlite_client.register_dataset("gc", csv)
    b = sqlite_client.register_dataset("gc", pq)
    assert a.version == b.version == 1


@pytest.mark.parametrize(
    ("roles", "field", "match"),
    [
        ({"nope": "feature"}, "roles.nope", "does not have"),
        ({"bad": "label"}, "roles.bad", "not one of"),
        ({"bad": "target", "duration_in_month": "target"}, "roles", "at most one"),
    ],
)
def test_bad_roles_name_the_field(sqlite_client, credit, roles, field, match) -> None:
    with pytest.raises(InvalidInput, match=match) as info:
        sqlite_client.register_dataset("gc", credit, roles=roles)
    assert info.value.field == field
    assert sqlite_client.list_datasets() == []


def test_bad_tables_are_refused(sqlite_client, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="infinity") as info:
        sqlite_client.register_dataset("x", pd.DataFrame({"a": [1.0, np.inf]}))
    assert info.value.field == "a"
    with pytest.raises(InvalidInput, match="no rows"):
        sqlite_client.register_dataset("x", pd.DataFrame({"a": []}))
    with pytest.raises(InvalidInput, match="does not exist"):
        sqlite_client.register_dataset("x", tmp_path / "x.xlsx")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(InvalidInput, match="extension"):
        sqlite_client.register_dataset("x", tmp_path / "x.xlsx")
    with pytest.raises(InvalidInput, match="not a valid name"):
        sqlite_client.register_dataset("../evil", pd.DataFrame({"a": [1]}))
    assert sqlite_client.list_datasets() == []


def test_unknown_dataset_lists_the_known_ones(sqlite_client, credit) -> None:
    sqlite_client.register_dataset("gc", credit)
    with pytest.raises(NotFound, match="known datasets: \\['gc'\\]"):
        sqlite_client.get_dataset("nope")
    with pytest.raises(NotFound):
        sqlite_client.get_dataset("gc/7")
