"""Rules a deployment's settings and versions must meet (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlsteward.errors import Conflict, InvalidInput
from mlsteward.names import check_name
from mlsteward.registry.models import ModelVersion
from mlsteward.registry.signature import MISSING_REFUSED, accepts_missing
from mlsteward.serving.models import UnseenPolicy

__all__ = [
    "check_compatible",
    "check_log_columns",
    "check_pii",
    "check_policy",
    "check_sticky",
    "check_threshold",
]


def check_compatible(
    contract: Sequence[dict[str, Any]], version: ModelVersion, deployment: str
) -> None:
    """Refuse ``version`` if a request valid under ``contract`` could fail on it.

    Raises:
        Conflict: A column is missing from the contract, of another kind, or
            stricter (no missing values, whole numbers only) than the
            contract; the message names the column.
    """
    by_name = {c["name"]: c for c in contract}
    for spec in version.signature.inputs:
        name = spec["name"]
        have = by_name.get(name)
        where = f"{version.ref} cannot serve deployment {deployment!r}"
        if have is None:
            raise Conflict(
                f"{where}: it needs input column {name!r}, which the "
                f"deployment's requests do not carry ({sorted(by_name)}); "
                "create a new deployment for a model with other inputs",
                field=name,
            )
        if have["kind"] != spec["kind"]:
            raise Conflict(
                f"{where}: column {name!r} is {spec['kind']} for the model but "
                f"{have['kind']} in the deployment's requests",
                field=name,
            )
        if accepts_missing(have) and not accepts_missing(spec):
            raise Conflict(
                f"{where}: column {name!r} may be missing in requests, but "
                f"{MISSING_REFUSED}",
                field=name,
            )
        if spec["kind"] == "numeric":
            whole = str(spec["dtype"]).startswith(("int", "uint"))
            if whole and not str(have["dtype"]).startswith(("int", "uint")):
                raise Conflict(
                    f"{where}: column {name!r} must hold whole numbers for the "
                    f"model ({spec['dtype']}), but requests may carry "
                    f"{have['dtype']} values",
                    field=name,
                )


def check_threshold(value: object) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not 0.0 < float(value) < 1.0
    ):
        raise InvalidInput(
            f"threshold must be a number between 0 and 1 (scores at or above it "
            f"are denied), got {value!r}",
            field="threshold",
        )
    return float(value)


def check_policy(value: object) -> str:
    allowed = [p.value for p in UnseenPolicy]
    if value not in allowed:
        raise InvalidInput(
            f"unseen_policy must be one of {allowed}, got {value!r}",
            field="unseen_policy",
        )
    return str(value)


def check_log_columns(columns: Sequence[str], features: Sequence[str]) -> list[str]:
    if isinstance(columns, str):
        raise InvalidInput(
            "log_columns must be a list of column names", field="log_columns"
        )
    out: list[str] = []
    for c in columns:
        check_name(c, "log_columns")
        if c in features:
            raise InvalidInput(
                f"log column {c!r} is a model input already; inputs are always logged",
                field="log_columns",
            )
        if c not in out:
            out.append(c)
    return out


def check_pii(columns: Sequence[str], allowed: Sequence[str]) -> list[str]:
    if isinstance(columns, str):
        raise InvalidInput(
            "pii_columns must be a list of column names", field="pii_columns"
        )
    out: list[str] = []
    for c in columns:
        if c not in allowed:
            raise InvalidInput(
                f"pii column {c!r} is neither a model input nor a log column; "
                f"expected one of {list(allowed)}",
                field="pii_columns",
            )
        if c not in out:
            out.append(c)
    return out


def check_sticky(value: str | None, allowed: Sequence[str]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidInput(
            f"sticky_field {value!r} is not a request field; expected one of "
            f"{list(allowed)} (add it with log_columns if it is not a model input)",
            field="sticky_field",
        )
    return value
