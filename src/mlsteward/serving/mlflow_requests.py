"""MLflow's scoring request formats, read into a deployment's :class:`Batch`.

``mlflow models serve`` answers ``POST /invocations`` with a JSON object that
holds exactly one of these keys (and optionally ``params``):

- ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (pandas
  ``to_dict(orient="split")``; an ``index`` is accepted and ignored);
- ``dataframe_records``: ``[{column: value}, ...]``;
- ``instances``: ``[{column: value}, ...]`` (TF-serving's row format);
- ``inputs``: ``{column: [values, ...]}`` (TF-serving's columnar format) or a
  list of records.

Each is turned into the records a native request sends and checked by the
same compiled contract (:class:`~mlsteward.serving.schema.RequestSchema`), so
the scores, and the errors naming a record's column, are the same.
Positional rows without column names (``instances`` as a list of lists) are
refused: a tabular model's inputs are named.

Telling an MLflow body from a native one costs four dictionary lookups on the
top-level keys (:func:`mlflow_format`); the native path never pays even that,
because it is only asked after the native decoder refused the body.
"""

from __future__ import annotations

from typing import Any

import orjson

from mlsteward.errors import InvalidInput
from mlsteward.serving.schema import Batch, MalformedRequest, RequestSchema

__all__ = ["MLFLOW_FORMATS", "decode_mlflow", "mlflow_format", "parse_mlflow"]

#: The top-level keys of MLflow's scoring formats, in MLflow's order.
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_EXPECTED = (
    "a JSON object with one of "
    + ", ".join(repr(k) for k in MLFLOW_FORMATS)
    + " (MLflow's scoring formats)"
)


def mlflow_format(data: object, schema: RequestSchema) -> str | None:
    """The MLflow format key of a parsed body, or None for a native body.

    A key that is also one of the deployment's columns is a native record's
    column, not a format.

    Example:
        >>> mlflow_format({"dataframe_records": []}, schema)  # doctest: +SKIP
        'dataframe_records'
    """
    if type(data) is not dict:
        return None
    for key in MLFLOW_FORMATS:
        if key in data and key not in schema.names:
            return key
    return None


def parse_mlflow(body: bytes) -> Any:
    """The JSON of a body, refusing what is not JSON with the field ``body``."""
    if not body or not body.strip():
        raise MalformedRequest(
            f"the request body is empty; send {_EXPECTED}", field="body"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON ({exc}); send {_EXPECTED}",
            field="body",
        ) from exc


def decode_mlflow(schema: RequestSchema, data: Any) -> Batch:
    """Validate an MLflow scoring request against a deployment's contract.

    Args:
        schema: The deployment's request contract.
        data: The parsed JSON body.

    Returns:
        The batch, never ``single``: MLflow answers a list of predictions.

    Raises:
        MalformedRequest: Not one of MLflow's formats, or a malformed one;
            ``field`` names the key (``dataframe_split.data``).
        InvalidInput: Non-empty ``params``, or a record that breaks the
            contract (``field`` names the column).

    Example:
        >>> decode_mlflow(schema, {"dataframe_split": {"columns": ["age"],
        ...     "data": [[41]]}}).n  # doctest: +SKIP
        1
    """
    key = mlflow_format(data, schema)
    if key is None:
        got = f"a JSON {type(data).__name__}" if type(data) is not dict else None
        raise MalformedRequest(
            f"expected {_EXPECTED}; got "
            + (got or f"an object with keys {sorted(data)[:8]}"),
            field="body",
        )
    _check_top_level(data, key)
    value = data[key]
    if key == "dataframe_split":
        records = _split_records(value)
    elif key == "inputs" and type(value) is dict:
        records = _tensor_records(value)
    else:
        records = _records(value, key)
    # Re-encoded, the records take the compiled path of a native request
    # (several times faster than checking value by value in Python), and a
    # refusal still names the record and the column.
    return schema.decode(orjson.dumps(records))


def _check_top_level(data: dict[str, Any], key: str) -> None:
    others = [k for k in data if k not in (key, "params")]
    if others:
        raise MalformedRequest(
            f"unexpected field(s) {sorted(others)[:8]} beside {key!r}; an MLflow "
            f"request holds one of {list(MLFLOW_FORMATS)} and optionally 'params'",
            field=str(others[0]),
        )
    if data.get("params"):
        raise InvalidInput(
            "mlsteward models take no inference params; send the request "
            "without 'params'",
            field="params",
        )


def _split_records(value: Any) -> list[dict[str, Any]]:
    where = "dataframe_split"
    if type(value) is not dict:
        raise MalformedRequest(
            f"{where} must be an object with 'columns' and 'data' (pandas "
            "DataFrame.to_dict(orient='split'))",
            field=where,
        )
    columns, rows = value.get("columns"), value.get("data")
    if type(columns) is not list or not all(type(c) is str for c in columns):
        raise MalformedRequest(
            f"{where}.columns must be a list of column names (strings)",
            field=f"{where}.columns",
        )
    if len(set(columns)) != len(columns):
        raise MalformedRequest(
            f"{where}.columns names a column twice", field=f"{where}.columns"
        )
    if type(rows) is not list or not rows:
        raise MalformedRequest(
            f"{where}.data must be a non-empty list of rows, each a list of "
            "values in the order of columns",
            field=f"{where}.data",
        )
    width = len(columns)
    for i, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            got = f"{len(row)} values" if type(row) is list else "not a list"
            raise MalformedRequest(
                f"{where}.data[{i}] is {got}; expected a list of {width} "
                "values, one per column",
                field=f"{where}.data",
            )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _tensor_records(value: dict[str, Any]) -> list[dict[str, Any]]:
    n: int | None = None
    for name, values in value.items():
        if type(values) is not list:
            raise MalformedRequest(
                f"inputs.{name} must be a list of values, one per row "
                "(TF-serving's columnar format)",
                field=f"inputs.{name}",
            )
        if n is not None and len(values) != n:
            raise MalformedRequest(
                f"inputs.{name} has {len(values)} values, but the first input "
                f"has {n}; every input needs one value per row",
                field=f"inputs.{name}",
            )
        n = len(values)
    if not n:
        raise MalformedRequest(
            "inputs holds no rows; send {column: [values, ...]}", field="inputs"
        )
    names = list(value)
    return [
        dict(zip(names, row, strict=True)) for row in zip(*value.values(), strict=True)
    ]


def _records(value: Any, key: str) -> list[Any]:
    if type(value) is not list or not value:
        raise MalformedRequest(
            f"{key} must be a non-empty list of records, each an object of "
            "column: value",
            field=key,
        )
    for i, record in enumerate(value):
        if type(record) is not dict:
            raise MalformedRequest(
                f"{key}[{i}] is a JSON {type(record).__name__}; each record must "
                "be an object of column: value (positional rows have no column "
                "names: send dataframe_split with its columns)",
                field=key,
            )
    return value
