"""Data sets shipped inside the mlsteward package.

The German credit data (Statlog, UCI; see ``data/ATTRIBUTION.md``) is bundled
so that ``mlsteward demo``, the examples and the tests run offline.

Column roles (:data:`GERMAN_CREDIT_ROLES`):

- ``id``: ``application_id`` (``"GC-0001"`` … ``"GC-1000"``, in file order),
  added at load time.
- ``target``: ``bad`` (:data:`GERMAN_CREDIT_TARGET`; 1 = the credit went
  bad, 0 = good). It replaces the file's ``creditability`` column
  (``"good"`` / ``"bad"``), which is dropped at load time: a second copy of
  the outcome would be a second target (a schema has at most one) and a
  leak waiting to happen if anyone took "all other columns" as features.
- ``protected``: ``personal_status_and_sex``, ``age_in_years`` and
  ``foreign_worker``. They are *not* model inputs. Age is a common scorecard
  characteristic and lawful in some settings, but it is a protected
  characteristic under EU non-discrimination law and credit scoring is a
  high-risk use under the EU AI Act, so the bundled demo leaves it out of the
  model and keeps it, with the other two, for fairness monitoring (prediction
  records log them; per-group metrics are computed on them). Age is grouped
  by the bands :data:`GERMAN_CREDIT_BANDS` declares when it is registered.
- ``feature``: the other 17 applicant characteristics (11 categorical,
  6 numeric).
- ``pii``: none; the data holds no names, addresses or account numbers.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import pandas as pd

from mlsteward.datasets.models import ColumnRole
from mlsteward.errors import InvalidInput

__all__ = [
    "GERMAN_CREDIT_BANDS",
    "GERMAN_CREDIT_FEATURES",
    "GERMAN_CREDIT_PROTECTED",
    "GERMAN_CREDIT_ROLES",
    "GERMAN_CREDIT_TARGET",
    "german_credit_roles",
    "load_german_credit",
]

_PACKAGE: Final = "mlsteward.datasets"
_FILE: Final = "german_credit.csv"
_LABEL_COLUMN: Final = "creditability"
_ID_COLUMN: Final = "application_id"

#: Name of the 0/1 target column :func:`load_german_credit` adds by default.
GERMAN_CREDIT_TARGET: Final = "bad"

#: Protected characteristics: logged and monitored for fairness, never inputs.
GERMAN_CREDIT_PROTECTED: Final[tuple[str, ...]] = (
    "personal_status_and_sex",
    "age_in_years",
    "foreign_worker",
)

#: Declared groups of the numeric protected column (``bands`` of
#: :class:`~mlsteward.datasets.specs.RegisterDataset`): age under 25, 25-34,
#: 35-44, 45-54, 55-64, 65 and over.
GERMAN_CREDIT_BANDS: Final[dict[str, list[float]]] = {
    "age_in_years": [25.0, 35.0, 45.0, 55.0, 65.0]
}

#: Model inputs of the bundled demo, in file order.
GERMAN_CREDIT_FEATURES: Final[tuple[str, ...]] = (
    "status_of_existing_checking_account",
    "duration_in_month",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_account_and_bonds",
    "present_employment_since",
    "installment_rate_in_percentage_of_disposable_income",
    "other_debtors_or_guarantors",
    "present_residence_since",
    "property",
    "other_installment_plans",
    "housing",
    "number_of_existing_credits_at_this_bank",
    "job",
    "number_of_people_being_liable_to_provide_maintenance_for",
    "telephone",
)

# Characteristic columns of the shipped file, in file order (the file's last
# column is ``creditability``).
_CHARACTERISTICS: Final[tuple[str, ...]] = (
    "status_of_existing_checking_account",
    "duration_in_month",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_account_and_bonds",
    "present_employment_since",
    "installment_rate_in_percentage_of_disposable_income",
    "personal_status_and_sex",
    "other_debtors_or_guarantors",
    "present_residence_since",
    "property",
    "age_in_years",
    "other_installment_plans",
    "housing",
    "number_of_existing_credits_at_this_bank",
    "job",
    "number_of_people_being_liable_to_provide_maintenance_for",
    "telephone",
    "foreign_worker",
)


def german_credit_roles(target: str = GERMAN_CREDIT_TARGET) -> dict[str, str]:
    """Role of every column of :func:`load_german_credit` ``(target=target)``.

    Args:
        target: Name given to the 0/1 target column.

    Returns:
        A new dict ``{column: role}`` in the frame's column order; roles are
        ``"id"``, ``"feature"``, ``"protected"`` and ``"target"`` (exactly
        one column, ``target``).
    """
    roles: dict[str, str] = {_ID_COLUMN: ColumnRole.ID}
    for column in _CHARACTERISTICS:
        if column in GERMAN_CREDIT_PROTECTED:
            roles[column] = ColumnRole.PROTECTED
        else:
            roles[column] = ColumnRole.FEATURE
    roles[target] = ColumnRole.TARGET
    return roles


#: Column roles of ``load_german_credit()`` (default target name ``"bad"``).
GERMAN_CREDIT_ROLES: Final[dict[str, str]] = german_credit_roles()


def load_german_credit(target: str = GERMAN_CREDIT_TARGET) -> pd.DataFrame:
    """Load the bundled German credit data.

    Args:
        target: Name of the added integer target column (1 = bad, 0 = good).
            Must be a non-empty string that is not already a column name.

    Returns:
        A new 1000-row frame with a ``RangeIndex``: ``application_id``
        (``"GC-0001"`` …, in file order), the 20 characteristics as in the
        file (categorical columns use pandas' ``str`` dtype, numeric ones
        ``int64``), then the ``target`` column (``int64``; 1 where the file
        says ``creditability == "bad"``, 300 ones).

    Raises:
        InvalidInput: ``target`` is empty or clashes with an existing column.
    """
    if not isinstance(target, str) or not target.strip():
        raise InvalidInput(
            f"target must be a non-empty column name, got {target!r}",
            field="target",
        )
    if target in _CHARACTERISTICS or target == _ID_COLUMN:
        raise InvalidInput(
            f"target {target!r} clashes with an existing column; choose a new "
            f"name such as {GERMAN_CREDIT_TARGET!r}",
            field="target",
        )
    source = resources.files(_PACKAGE).joinpath("data").joinpath(_FILE)
    with source.open("rb") as handle:
        frame = pd.read_csv(handle)
    frame.insert(
        0, _ID_COLUMN, pd.Series([f"GC-{i:04d}" for i in range(1, len(frame) + 1)])
    )
    frame[_ID_COLUMN] = frame[_ID_COLUMN].astype("str")
    label = frame.pop(_LABEL_COLUMN)
    if (
        list(frame.columns[1:]) != list(_CHARACTERISTICS)
        or not label.isin(["good", "bad"]).all()
    ):
        raise RuntimeError(f"bundled {_FILE} does not have the expected layout")
    frame[target] = (label == "bad").astype("int64")
    return frame
