"""Read what mlsteward checks in an ONNX model straight from its bytes.

The ``onnx`` package parses a model into protobuf objects, and importing it
keeps about 28 MB resident: a serving process would carry it only to check
a model before handing the same bytes to ONNX Runtime. This module reads the
protobuf wire format directly, and only the fields mlsteward looks at:
operator domains (every node, every subgraph, model-local functions),
tensors kept in external files, training information, the graph's inputs
and outputs with their types and shapes, metadata, and the categories of
encoder nodes. Field numbers are ONNX's (``onnx.proto``); a test holds each
to the installed ``onnx`` package's descriptors.

Nothing here imports ``onnx`` or ``onnxruntime``: the standard library and
mlsteward's errors only. The checks that refuse a model live here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from mlsteward.errors import InvalidInput, UnsafeArtifact

__all__ = [
    "FIELDS",
    "STANDARD_DOMAINS",
    "Malformed",
    "Message",
    "OnnxInput",
    "categories",
    "check_graph",
    "read",
    "read_model",
    "subgraphs",
    "tensors_of",
]

#: Operator domains an artifact may use: ``""`` and ``"ai.onnx"`` (the same
#: default domain) and ``"ai.onnx.ml"``. Anything else (``com.microsoft``,
#: a vendor's custom ops) is native code outside the ONNX standard.
STANDARD_DOMAINS: Final = frozenset({"", "ai.onnx", "ai.onnx.ml"})

_KINDS: Final = {1: "float32", 11: "float64", 7: "int64", 8: "string"}


class Malformed(ValueError):
    """The bytes are not a well-formed protobuf message."""


#: ONNX field numbers, by message and field name.
FIELDS: Final[dict[str, dict[str, int]]] = {
    "ModelProto": {
        "ir_version": 1,
        "graph": 7,
        "opset_import": 8,
        "metadata_props": 14,
        "training_info": 20,
        "functions": 25,
    },
    "OperatorSetIdProto": {"domain": 1},
    "FunctionProto": {"domain": 10},
    "StringStringEntryProto": {"key": 1, "value": 2},
    "GraphProto": {
        "node": 1,
        "initializer": 5,
        "input": 11,
        "output": 12,
        "sparse_initializer": 15,
    },
    "NodeProto": {"input": 1, "op_type": 4, "attribute": 5, "domain": 7},
    "AttributeProto": {
        "name": 1,
        "t": 5,
        "g": 6,
        "strings": 9,
        "tensors": 10,
        "graphs": 11,
        "sparse_tensor": 22,
        "sparse_tensors": 23,
    },
    "TensorProto": {"name": 8, "external_data": 13, "data_location": 14},
    "SparseTensorProto": {"values": 1, "indices": 2},
    "ValueInfoProto": {"name": 1, "type": 2},
    "TypeProto": {"tensor_type": 1},
    "TypeProto.Tensor": {"elem_type": 1, "shape": 2},
    "TensorShapeProto": {"dim": 1},
    "TensorShapeProto.Dimension": {"dim_value": 1},
}

_EXTERNAL: Final = 1  # TensorProto.DataLocation.EXTERNAL
_MODEL: Final = FIELDS["ModelProto"]
_GRAPH: Final = FIELDS["GraphProto"]
_NODE: Final = FIELDS["NodeProto"]


@dataclass(frozen=True)
class OnnxInput:
    """One input column of an ONNX model.

    Attributes:
        name: Column name (the graph input's name).
        dtype: ``"float32"``, ``"float64"``, ``"int64"`` or ``"string"``.
        rank: 2 for shape ``[N, 1]`` (what skl2onnx writes), 1 for ``[N]``.
    """

    name: str
    dtype: str
    rank: int


def _varint(buf: Any, i: int) -> tuple[int, int]:
    result = shift = 0
    end = len(buf)
    while True:
        if i >= end or shift >= 70:
            raise Malformed("a varint runs past its message")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


class Message:
    """One protobuf message, decoded one level deep.

    Values are ints (varint and fixed-width fields) or memoryviews
    (length-delimited fields: strings, bytes, sub-messages), decoded further
    only when asked for.
    """

    __slots__ = ("fields",)

    def __init__(self, buf: bytes | memoryview) -> None:
        view = memoryview(buf)
        fields: dict[int, list[Any]] = {}
        i, end = 0, len(view)
        while i < end:
            key, i = _varint(view, i)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise Malformed("field number 0")
            value: Any
            if wire == 0:
                value, i = _varint(view, i)
            elif wire == 2:
                size, i = _varint(view, i)
                if i + size > end:
                    raise Malformed("a field runs past its message")
                value = view[i : i + size]
                i += size
            elif wire in (1, 5):
                width = 8 if wire == 1 else 4
                if i + width > end:
                    raise Malformed("a field runs past its message")
                value = int.from_bytes(view[i : i + width], "little")
                i += width
            else:
                raise Malformed(f"unsupported wire type {wire}")
            fields.setdefault(number, []).append(value)
        self.fields = fields

    def has(self, number: int) -> bool:
        return number in self.fields

    def scalar(self, number: int, default: int = 0) -> int:
        values = self.fields.get(number)
        if not values:
            return default
        value = values[-1]  # the last one wins, as in protobuf
        if not isinstance(value, int):
            raise Malformed(f"field {number} is not a number")
        return value

    def _blobs(self, number: int) -> list[memoryview]:
        values = self.fields.get(number, [])
        if any(not isinstance(v, memoryview) for v in values):
            raise Malformed(f"field {number} is not length-delimited")
        return values

    def messages(self, number: int) -> list[Message]:
        return [Message(v) for v in self._blobs(number)]

    def message(self, number: int) -> Message | None:
        values = self._blobs(number)
        return Message(values[-1]) if values else None

    def strings(self, number: int) -> list[str]:
        try:
            return [bytes(v).decode() for v in self._blobs(number)]
        except UnicodeDecodeError as exc:
            raise Malformed(f"field {number} is not UTF-8") from exc

    def string(self, number: int, default: str = "") -> str:
        values = self.strings(number)
        return values[-1] if values else default


def read_model(raw: bytes) -> tuple[Message, Message]:
    """The model and its main graph.

    Raises:
        Malformed: Not a protobuf message, or no IR version or no graph.
    """
    f = FIELDS["ModelProto"]
    model = Message(raw)
    graph = model.message(f["graph"])
    if model.scalar(f["ir_version"]) <= 0 or graph is None:
        raise Malformed("it has no IR version or no graph")
    return model, graph


def subgraphs(graph: Message) -> Iterator[Message]:
    """The graph and every subgraph (If, Loop, Scan bodies), depth first."""
    node_f, attr_f = FIELDS["NodeProto"], FIELDS["AttributeProto"]
    stack = [graph]
    while stack:
        current = stack.pop()
        yield current
        for node in current.messages(FIELDS["GraphProto"]["node"]):
            for attribute in node.messages(node_f["attribute"]):
                stack.extend(attribute.messages(attr_f["g"]))
                stack.extend(attribute.messages(attr_f["graphs"]))


def tensors_of(graph: Message) -> Iterator[Message]:
    """Every tensor stored in one graph level: initializers (dense and
    sparse) and tensor-valued node attributes."""
    g, attr_f = FIELDS["GraphProto"], FIELDS["AttributeProto"]
    sparse_f = FIELDS["SparseTensorProto"]

    def sparse(items: list[Message]) -> Iterator[Message]:
        for item in items:
            yield from item.messages(sparse_f["values"])
            yield from item.messages(sparse_f["indices"])

    yield from graph.messages(g["initializer"])
    yield from sparse(graph.messages(g["sparse_initializer"]))
    for node in graph.messages(g["node"]):
        for attribute in node.messages(FIELDS["NodeProto"]["attribute"]):
            yield from attribute.messages(attr_f["t"])
            yield from attribute.messages(attr_f["tensors"])
            yield from sparse(attribute.messages(attr_f["sparse_tensor"]))
            yield from sparse(attribute.messages(attr_f["sparse_tensors"]))


def is_external(tensor: Message) -> bool:
    """Whether a tensor keeps its data in an external file."""
    f = FIELDS["TensorProto"]
    return tensor.scalar(f["data_location"]) == _EXTERNAL or tensor.has(
        f["external_data"]
    )


# --- the checks ------------------------------------------------------------


def read(raw: bytes) -> tuple[Message, Message]:
    """The model and its main graph, read from the wire format.

    Raises:
        InvalidInput: Not an ONNX model.
    """
    try:
        return read_model(raw)
    except Malformed as exc:
        if "no graph" in str(exc):
            raise InvalidInput(
                "The onnx artifact is not an ONNX model: it has no IR version or "
                "no graph. Save it with onnx.ModelProto.SerializeToString().",
                field="data",
            ) from exc
        raise InvalidInput(
            f"The onnx artifact is not an ONNX model (protobuf ModelProto): {exc}",
            field="data",
        ) from exc


def check_graph(model: Message, graph: Message) -> tuple[tuple[OnnxInput, ...], str]:
    """Refuse unsafe or unscorable graphs; return the inputs and output name."""
    try:
        _check_safety(model, graph)
        return _inputs(graph), _probability_output(graph)
    except Malformed as exc:
        raise InvalidInput(
            f"The onnx artifact is not an ONNX model (protobuf ModelProto): {exc}",
            field="data",
        ) from exc


def _check_safety(model: Message, graph: Message) -> None:
    domain = FIELDS["OperatorSetIdProto"]["domain"]
    domains = {o.string(domain) for o in model.messages(_MODEL["opset_import"])}
    functions = model.messages(_MODEL["functions"])
    domains |= {f.string(FIELDS["FunctionProto"]["domain"]) for f in functions}
    for current in subgraphs(graph):
        domains |= {
            node.string(_NODE["domain"]) for node in current.messages(_GRAPH["node"])
        }
        if any(is_external(t) for t in tensors_of(current)):
            raise UnsafeArtifact(
                "The onnx artifact keeps tensors in external files; mlsteward "
                "refuses it, because ONNX Runtime would read those files from "
                "the serving machine's disk. Save the model with all tensors "
                "inside it (onnx.save_model(..., save_as_external_data=False)).",
                field="data",
            )
    custom = sorted(domains - STANDARD_DOMAINS)
    if custom:
        raise UnsafeArtifact(
            f"The onnx artifact uses operator domains {custom}; mlsteward only "
            f"loads the standard ones ({sorted(STANDARD_DOMAINS - {''})}), "
            "because custom operators are native code outside the ONNX "
            "standard. Convert the model with standard operators only.",
            field="data",
            domains=custom,
        )
    if functions:
        raise UnsafeArtifact(
            "The onnx artifact defines model-local functions; mlsteward only "
            "loads graphs of standard operators. Inline the functions "
            "(onnx.inliner.inline_local_functions) and save it again.",
            field="data",
        )
    if model.has(_MODEL["training_info"]):
        raise UnsafeArtifact(
            "The onnx artifact carries training information; mlsteward only "
            "loads inference graphs.",
            field="data",
        )


def _tensor_type(value: Message) -> tuple[int | None, list[Message] | None]:
    """Element type and shape dimensions of a tensor-typed value (None for
    a value of another type, or a tensor without a shape)."""
    value_f = FIELDS["ValueInfoProto"]
    type_ = value.message(value_f["type"])
    tensor = (
        None if type_ is None else type_.message(FIELDS["TypeProto"]["tensor_type"])
    )
    if tensor is None:
        return None, None
    tensor_f = FIELDS["TypeProto.Tensor"]
    shape = tensor.message(tensor_f["shape"])
    dims = None if shape is None else shape.messages(FIELDS["TensorShapeProto"]["dim"])
    return tensor.scalar(tensor_f["elem_type"]), dims


def _inputs(graph: Message) -> tuple[OnnxInput, ...]:
    name = FIELDS["ValueInfoProto"]["name"]
    dim_value = FIELDS["TensorShapeProto.Dimension"]["dim_value"]
    initializers = {
        t.string(FIELDS["TensorProto"]["name"])
        for t in graph.messages(_GRAPH["initializer"])
    }
    found = []
    for value in graph.messages(_GRAPH["input"]):
        input_name = value.string(name)
        if input_name in initializers:  # IR < 4 lists initializers as inputs
            continue
        elem_type, dims = _tensor_type(value)
        kind = None if elem_type is None else _KINDS.get(elem_type)
        rank_ok = dims is not None and (
            len(dims) == 1
            or (
                len(dims) == 2
                and (not dims[1].has(dim_value) or dims[1].scalar(dim_value) == 1)
            )
        )
        if kind is None or dims is None or not rank_ok:
            raise InvalidInput(
                f"The ONNX model's input {input_name!r} is not one column: "
                "mlsteward feeds one input per column, a float, double, int64 "
                "or string tensor of shape [N, 1] or [N]. Convert with one "
                "initial type per column (mlsteward.flavors.onnx.convert_sklearn "
                "does).",
                field=input_name,
            )
        found.append(OnnxInput(input_name, kind, len(dims)))
    if not found:
        raise InvalidInput("The ONNX model has no inputs.", field="data")
    return tuple(found)


def _probability_output(graph: Message) -> str:
    name = FIELDS["ValueInfoProto"]["name"]
    dim_value = FIELDS["TensorShapeProto.Dimension"]["dim_value"]
    candidates = []
    outputs = graph.messages(_GRAPH["output"])
    for value in outputs:
        elem_type, dims = _tensor_type(value)
        if (
            elem_type in (1, 11)  # float, double
            and dims is not None
            and len(dims) == 2
            and dims[1].has(dim_value)
            and dims[1].scalar(dim_value) == 2
        ):
            candidates.append(value.string(name))
    if "probabilities" in candidates:
        return "probabilities"
    if len(candidates) == 1:
        return candidates[0]
    names = [value.string(name) for value in outputs]
    raise InvalidInput(
        "The ONNX model has no single probability output: mlsteward expects a "
        f"float tensor of shape [N, 2] (column 1 = label 1); outputs are "
        f"{names}. A ZipMap output (a list of dicts) is not supported: "
        "convert with zipmap=False.",
        field="data",
    )


def categories(data: bytes, strings: set[str]) -> dict[str, list[str]]:
    """Categories of the encoder nodes that read one of the ``strings``
    inputs directly (skl2onnx's one-hot and ordinal encoders)."""
    _, graph = read(data)
    attr_f = FIELDS["AttributeProto"]
    found: dict[str, list[str]] = {}
    wanted_of = {"OneHotEncoder": "cats_strings", "LabelEncoder": "keys_strings"}
    for node in graph.messages(_GRAPH["node"]):
        wanted = wanted_of.get(node.string(_NODE["op_type"]))
        if node.string(_NODE["domain"]) != "ai.onnx.ml" or wanted is None:
            continue
        inputs = node.strings(_NODE["input"])
        if len(inputs) != 1 or inputs[0] not in strings:
            continue
        for attr in node.messages(_NODE["attribute"]):
            if attr.string(attr_f["name"]) == wanted:
                known = found.setdefault(inputs[0], [])
                known += [v for v in attr.strings(attr_f["strings"]) if v not in known]
    return found
