"""Open Inference Protocol v2 (REST): requests in, responses out.

Tabular input is one named input per column, shape ``[N]`` (``[N, 1]`` is
accepted too), with the datatype of its column: ``BYTES`` for categories,
``FP64``/``FP32``/``INT64``/... for numbers, ``BOOL`` for booleans. Tensor
data may be JSON, or binary per the binary tensor data extension that
Triton's clients use by default (``Inference-Header-Content-Length``).
Outputs are ``score`` (FP64), ``decision`` (BYTES) and ``request_id``
(BYTES), each of shape ``[N]``, always as JSON data.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from mlsteward.errors import InvalidInput
from mlsteward.serving.schema import ColumnSpec, MalformedRequest

__all__ = [
    "OUTPUTS",
    "InferRequest",
    "datatype_of",
    "parse_infer_request",
]

#: Numeric datatypes and the numpy dtype of their binary form.
NUMERIC = {
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
DATATYPES = (*NUMERIC, "BOOL", "BYTES")
OUTPUTS = {"score": "FP64", "decision": "BYTES", "request_id": "BYTES"}


def datatype_of(spec: ColumnSpec) -> str:
    """The v2 datatype a column is sent in."""
    if spec.kind == "numeric":
        return "INT64" if spec.whole else "FP64"
    return "BOOL" if spec.boolean else "BYTES"


@dataclass
class InferRequest:
    """A parsed inference request."""

    id: str | None
    inputs: dict[str, tuple[str, list[Any]]]
    outputs: list[str]


def _bad(message: str, field: str = "inputs") -> InvalidInput:
    return InvalidInput(message, field=field)


def parse_infer_request(body: bytes, header_length: str | None) -> InferRequest:  # noqa: C901 - one branch per tensor datatype and shape rule of the v2 protocol
    """Parse the JSON (and binary) parts of a v2 inference request.

    Raises:
        MalformedRequest: Not JSON, not an object, or the binary part does
            not match the header.
        InvalidInput: An input is malformed; ``field`` names it.
    """
    binary = b""
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            size = -1
        if not 0 <= size <= len(body):
            raise MalformedRequest(
                f"Inference-Header-Content-Length {header_length!r} is not a "
                f"length within the {len(body)}-byte body",
                field="Inference-Header-Content-Length",
            )
        body, binary = body[:size], body[size:]
    if not body.strip():
        raise MalformedRequest(
            "the request body is empty; send an inference request object with 'inputs'",
            field="body",
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON ({exc})", field="body"
        ) from exc
    if not isinstance(data, dict):
        raise MalformedRequest(
            "the inference request must be a JSON object with 'inputs'",
            field="body",
        )
    rid = data.get("id")
    if rid is not None and not isinstance(rid, str):
        raise _bad("'id' must be a string", "id")
    raw_inputs = data.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise _bad(
            "'inputs' must be a non-empty list of tensors, one per column: "
            '{"name": ..., "shape": [N], "datatype": ..., "data": [...]}'
        )
    inputs: dict[str, tuple[str, list[Any]]] = {}
    offset = 0
    for i, tensor in enumerate(raw_inputs):
        name, datatype, values, offset = _tensor(i, tensor, binary, offset)
        if name in inputs:
            raise _bad(f"input {name!r} is given twice", name)
        inputs[name] = (datatype, values)
    if offset != len(binary):
        raise MalformedRequest(
            f"{len(binary) - offset} bytes of binary data are not claimed by any "
            "input's binary_data_size",
            field="body",
        )
    outputs = list(OUTPUTS)
    requested = data.get("outputs")
    if requested is not None:
        if not isinstance(requested, list):
            raise _bad("'outputs' must be a list of {\"name\": ...}", "outputs")
        outputs = []
        for out in requested:
            wanted = out.get("name") if isinstance(out, dict) else None
            if not isinstance(wanted, str) or wanted not in OUTPUTS:
                raise _bad(
                    f"unknown output {wanted!r}; outputs are {list(OUTPUTS)}",
                    "outputs",
                )
            outputs.append(wanted)
    params = data.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise _bad("'parameters' must be an object", "parameters")
    return InferRequest(rid, inputs, outputs)


def _tensor(
    index: int, tensor: Any, binary: bytes, offset: int
) -> tuple[str, str, list[Any], int]:
    if not isinstance(tensor, dict):
        raise _bad(f"inputs[{index}] must be an object")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"inputs[{index}] needs a 'name' (the column)")
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise _bad(
            f"input {name!r} has datatype {datatype!r}; expected one of "
            f"{list(DATATYPES)}",
            name,
        )
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or any(d < 0 for d in shape)
    ):
        raise _bad(f"input {name!r} needs a 'shape' of non-negative integers", name)
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise _bad(
            f"input {name!r} has shape {shape}; tabular inputs are one column "
            "each, of shape [N] (or [N, 1])",
            name,
        )
    n = shape[0]
    params = tensor.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad(f"input {name!r}: 'parameters' must be an object", name)
    size = params.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise MalformedRequest(
                f"input {name!r}: binary_data_size {size!r} runs past the binary data",
                field=name,
            )
        values = _from_binary(name, datatype, binary[offset : offset + size])
        offset += size
    else:
        data = tensor.get("data")
        if not isinstance(data, list):
            raise _bad(f"input {name!r} needs 'data', a JSON array", name)
        values = _flatten(name, data)
        for v in values:
            _check_element(name, datatype, v)
    if len(values) != n:
        raise _bad(f"input {name!r} has shape {shape} but {len(values)} values", name)
    return name, datatype, values, offset


def _flatten(name: str, data: list[Any]) -> list[Any]:
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    for v in data:
        if isinstance(v, list):
            if any(isinstance(x, list) for x in v):
                raise _bad(f"input {name!r}: data nests deeper than [N, 1]", name)
            out.extend(v)
        else:
            out.append(v)
    return out


def _check_element(name: str, datatype: str, v: Any) -> None:
    if v is None:
        return  # a missing value; the column decides if that is allowed
    if datatype == "BYTES":
        ok = isinstance(v, str)
    elif datatype == "BOOL":
        ok = isinstance(v, bool)
    elif datatype.startswith(("INT", "UINT")):
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if not ok:
        raise _bad(
            f"input {name!r} is {datatype} but holds {type(v).__name__} {v!r}", name
        )


def _from_binary(name: str, datatype: str, raw: bytes) -> list[Any]:
    if datatype == "BYTES":
        out: list[Any] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise MalformedRequest(
                    f"input {name!r}: truncated BYTES element", field=name
                )
            (length,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + length > len(raw):
                raise MalformedRequest(
                    f"input {name!r}: truncated BYTES element", field=name
                )
            try:
                out.append(raw[pos : pos + length].decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise _bad(
                    f"input {name!r}: a BYTES element is not UTF-8", name
                ) from exc
            pos += length
        return out
    dtype = "?" if datatype == "BOOL" else NUMERIC[datatype]
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise MalformedRequest(
            f"input {name!r}: {len(raw)} bytes is not a whole number of "
            f"{datatype} values",
            field=name,
        )
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def columns_for(
    request: InferRequest, specs: Sequence[ColumnSpec]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Split inputs into model columns and the rest (log columns, or names
    the schema refuses), checking each model column's datatype."""
    by_name = {s.name: s for s in specs}
    columns: dict[str, list[Any]] = {}
    extra: dict[str, list[Any]] = {}
    for name, (datatype, values) in request.inputs.items():
        spec = by_name.get(name)
        if spec is None:
            extra[name] = values
            continue
        expected = datatype_of(spec)
        if spec.kind == "numeric":
            ok = datatype in NUMERIC
            if spec.whole and datatype.startswith("FP"):
                # FP data is fine if whole; the column check says otherwise.
                ok = True
        else:
            ok = datatype == expected
        if not ok:
            raise _bad(
                f"input {name!r} has datatype {datatype}; expected {expected} "
                f"({spec.expected})",
                name,
            )
        columns[name] = values
    return columns, extra


def response_body(
    *,
    model_name: str,
    model_version: str,
    request_id: str,
    outputs: Sequence[str],
    values: Mapping[str, list[Any]],
    parameters: Mapping[str, Any] | None = None,
) -> bytes:
    """The inference response JSON."""
    n = len(next(iter(values.values())))
    body: dict[str, Any] = {
        "model_name": model_name,
        "model_version": model_version,
        "id": request_id,
        "outputs": [
            {
                "name": name,
                "shape": [n],
                "datatype": OUTPUTS[name],
                "data": values[name],
            }
            for name in outputs
        ],
    }
    if parameters:
        body["parameters"] = dict(parameters)
    return orjson.dumps(body)
