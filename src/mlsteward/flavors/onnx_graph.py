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

Nothing here imports ``onnx`` or ``onnxruntime``: pure standard library.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

__all__ = ["Malformed", "Message", "read_model", "subgraphs", "tensors_of"]


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
