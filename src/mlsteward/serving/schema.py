"""The request contract of a deployment: validate records, build model input.

Two validators give the same result. The fast one decodes and checks a JSON
body in one compiled pass (msgspec, with a type built from the contract). When
it refuses a body, the reference validator reads it again in plain Python and
says exactly what is wrong: which record, which column, what was expected. It
also accepts what the compiled one is strict about but the model's signature
allows (``12.0`` for a whole-number column). So the hot path stays compiled
and every error still teaches.

Rules (the same as :func:`mlsteward.registry.signature.conform`, stricter
only where JSON makes a guess unsafe):

- every input column must be present; other fields are refused unless the
  deployment logs them (``log_columns``);
- numeric columns take JSON numbers (not strings, not booleans), finite;
  whole-number columns take whole numbers;
- ``null`` only where the model accepts a missing value
  (:func:`mlsteward.registry.signature.accepts_missing`): where training
  data had missing values, or where the model's pipeline imputes one. In the
  latter case the record is scored and flagged (``{"missing": [column]}``);
- categorical columns take strings (booleans for boolean columns); a category
  the champion never saw is refused or, with the ``unknown`` policy, scored
  as unknown and flagged. Batch scoring applies the same two rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from msgspec.structs import astuple

from mlsteward.errors import InvalidInput
from mlsteward.registry.signature import MISSING_REFUSED, accepts_missing, flags_missing

__all__ = [
    "REDACTED",
    "UNKNOWN_CATEGORY",
    "Batch",
    "ColumnSpec",
    "MalformedRequest",
    "RequestSchema",
    "RequestTooLarge",
    "unseen_refused",
]

REDACTED = "[redacted]"
#: What an unseen category is replaced with under the ``unknown`` policy: a
#: value no model was trained on, so every encoder treats it as unknown.
UNKNOWN_CATEGORY = "__mlsteward_unknown__"
_INT64 = (-(2**63), 2**63 - 1)


class MalformedRequest(InvalidInput):
    """The body is not JSON, or not an object or a list of objects."""

    code = "malformed_request"


class RequestTooLarge(InvalidInput):
    """The body or the number of records is over the server's limit."""

    code = "request_too_large"


@dataclass(frozen=True)
class ColumnSpec:
    """One input column of the contract."""

    name: str
    kind: str
    dtype: str
    nullable: bool  # a missing value is scored (seen in training, or imputed)
    flag_missing: bool = False  # ... and flagged (none in training)

    @property
    def whole(self) -> bool:
        return self.kind == "numeric" and self.dtype.startswith(("int", "uint"))

    @property
    def boolean(self) -> bool:
        return self.kind == "categorical" and self.dtype in ("bool", "boolean")

    @property
    def expected(self) -> str:
        if self.kind == "numeric":
            what = "a whole number" if self.whole else "a finite number"
        elif self.boolean:
            what = "true or false"
        else:
            what = "a string (a category)"
        return what + (" or null" if self.nullable else "")


@dataclass
class Batch:
    """Validated records, column by column.

    Attributes:
        n: Number of records.
        columns: Input column name to its values, one per record (unseen
            categories already mapped under the ``unknown`` policy).
        sent: What the prediction log keeps of the input columns: the
            values as sent (unseen categories unmapped), pii values
            redacted. Shares lists with ``columns`` where they agree.
        extra: Per record, the log columns it carried (pii redacted), or
            None when no record carried any.
        flags: Per record, what the server noticed (``{"unseen": {...}}``)
            or None.
        keys: Per record, the value of the sticky field (as a string), if
            the deployment has one and the record carries it; empty when the
            deployment has no sticky field.
        single: The body was one object, not a list.
    """

    n: int
    columns: dict[str, list[Any]]
    sent: dict[str, list[Any]]
    extra: list[dict[str, Any]] | None
    flags: list[dict[str, Any] | None]
    keys: list[str | None] = field(default_factory=list)
    #: The body was one object, not a list: answer with one object.
    single: bool = False
    #: For one record logged exactly as sent (no pii columns, no unseen
    #: category mapped), the body itself, so the log need not encode it again.
    raw: bytes | None = None

    @property
    def logged(self) -> list[dict[str, Any]]:
        """Per record, what the prediction log keeps: inputs as sent plus
        log columns, pii values redacted."""
        names = list(self.sent)
        rows = [
            dict(zip(names, row, strict=True))
            for row in zip(*self.sent.values(), strict=True)
        ]
        if self.extra is not None:
            for row, more in zip(rows, self.extra, strict=True):
                row.update(more)
        return rows


def _where(index: int | None, name: str) -> str:
    return f"column {name!r}" if index is None else f"record {index}: column {name!r}"


class RequestSchema:
    """Validation compiled from a deployment's contract.

    Args:
        inputs: Signature inputs (``name``, ``kind``, ``dtype``, ``nullable``).
        log_columns: Extra fields a record may carry; logged, not scored.
        pii_columns: Fields whose values the log redacts.
        sticky_field: Field whose value pins a record to a route.
        categories: Known categories per categorical column (the champion's);
            columns absent here are not checked for unseen values.
        unseen_policy: ``reject`` or ``unknown``.

    Example:
        >>> schema = RequestSchema([{"name": "age", "kind": "numeric",
        ...     "dtype": "int64", "nullable": False}])
        >>> schema.decode(b'{"age": 30}').columns
        {'age': [30]}
    """

    def __init__(
        self,
        inputs: Sequence[Mapping[str, Any]],
        *,
        log_columns: Sequence[str] = (),
        pii_columns: Sequence[str] = (),
        sticky_field: str | None = None,
        categories: Mapping[str, frozenset[str]] | None = None,
        unseen_policy: str = "reject",
    ) -> None:
        self.specs = [
            ColumnSpec(
                str(c["name"]),
                str(c["kind"]),
                str(c["dtype"]),
                accepts_missing(c),
                flags_missing(c),
            )
            for c in inputs
        ]
        self._flag_missing = [s.name for s in self.specs if s.flag_missing]
        self.names = [s.name for s in self.specs]
        self.log_columns = list(log_columns)
        self.pii = frozenset(pii_columns)
        self.sticky_field = sticky_field
        self.categories = dict(categories or {})
        self.unseen_policy = unseen_policy
        self._by_name = {s.name: s for s in self.specs}
        self._allowed = frozenset([*self.names, *self.log_columns])
        self._type = self._compile()

    # -- compiled fast path ----------------------------------------------
    def _compile(self) -> Any:
        fields: list[tuple[Any, ...]] = []
        rename: dict[str, str] = {}
        for i, spec in enumerate(self.specs):
            typ: Any
            if spec.kind == "numeric":
                typ = (
                    Annotated[int, msgspec.Meta(ge=_INT64[0], le=_INT64[1])]
                    if spec.whole
                    else float
                )
            elif spec.boolean:
                typ = bool
            else:
                typ = str
            if spec.nullable:
                typ = typ | None
            fields.append((f"f{i}", typ))
            rename[f"f{i}"] = spec.name
        for j, name in enumerate(self.log_columns):
            fields.append((f"l{j}", Any, msgspec.UNSET))
            rename[f"l{j}"] = name
        # gc=False: records hold scalars (and log columns' JSON values, which
        # cannot refer back to a record), so the collector need not track
        # the thousands a second the server decodes.
        record = msgspec.defstruct(
            "Record", fields, forbid_unknown_fields=True, rename=rename, gc=False
        )
        return list[record] | record  # type: ignore[valid-type]

    def decode(self, body: bytes) -> Batch:
        """Validate a JSON body: one record (an object) or a list of them.

        Raises:
            MalformedRequest: Empty body, not JSON, or not objects.
            InvalidInput: A record breaks the contract; ``field`` names the
                column and the message says which record and what was
                expected.
        """
        if b"\\u0000" in body:  # a NUL character: the slow path names the field
            return self._decode_slowly(body)
        try:
            decoded = msgspec.json.decode(body, type=self._type)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return self._decode_slowly(body)
        single = not isinstance(decoded, list)
        if single:
            values = [[v] for v in astuple(decoded)]
            n = 1
        else:
            if not decoded:
                raise InvalidInput(
                    "the list of records is empty; send at least one record",
                    field="records",
                )
            n = len(decoded)
            # One C-level pass per record, then a transpose: no per-field
            # attribute lookups in Python.
            values = [list(col) for col in zip(*map(astuple, decoded), strict=True)]
        width = len(self.names)
        columns = dict(zip(self.names, values[:width], strict=True))
        extra: list[dict[str, Any]] | None = None
        for name, col in zip(self.log_columns, values[width:], strict=True):
            for k, value in enumerate(col):
                if value is not msgspec.UNSET:
                    if extra is None:
                        extra = [{} for _ in range(n)]
                    extra[k][name] = value
        batch = self._finish(n, columns, extra)
        batch.single = single
        if single and not self.pii and batch.sent is columns and b"\n" not in body:
            batch.raw = body
        return batch

    # -- reference path ---------------------------------------------------
    def _decode_slowly(self, body: bytes) -> Batch:
        if not body or not body.strip():
            raise MalformedRequest(
                "the request body is empty; send a JSON object (one record) or "
                "a list of objects",
                field="body",
            )
        try:
            # The standard library accepts NaN and Infinity, so they can be
            # named per column instead of failing the whole body.
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedRequest(
                f"the request body is not valid JSON ({exc}); send a JSON object "
                "(one record) or a list of objects",
                field="body",
            ) from exc
        if isinstance(data, dict):
            records: list[Any] = [data]
            indexed = False
        elif isinstance(data, list):
            records, indexed = data, True
        else:
            raise MalformedRequest(
                f"the request body is a JSON {_kind(data)}; send an "
                "object (one record) or a list of objects",
                field="body",
            )
        if not records:
            raise InvalidInput(
                "the list of records is empty; send at least one record",
                field="records",
            )
        n = len(records)
        columns: dict[str, list[Any]] = {name: [None] * n for name in self.names}
        extra: list[dict[str, Any]] = [{} for _ in range(n)]
        for k, record in enumerate(records):
            at = k if indexed else None
            if not isinstance(record, dict):
                raise MalformedRequest(
                    f"record {k} is a JSON {_kind(record)}; each record "
                    "must be an object of column: value",
                    field="records",
                )
            missing = [c for c in self.names if c not in record]
            if missing:
                raise InvalidInput(
                    ("" if at is None else f"record {at}: ")
                    + f"missing column(s) {_few(missing)}; the model expects "
                    f"{_few(self.names)}",
                    field=missing[0],
                )
            unknown = [c for c in record if c not in self._allowed]
            if unknown:
                raise InvalidInput(
                    ("" if at is None else f"record {at}: ")
                    + f"unexpected column(s) {_few(unknown)}; expected the "
                    f"model's inputs {_few(self.names)}"
                    + (
                        f" and optionally {self.log_columns}"
                        if self.log_columns
                        else ""
                    ),
                    field=str(unknown[0]),
                )
            for spec in self.specs:
                columns[spec.name][k] = self.check_value(spec, record[spec.name], at)
            for name in self.log_columns:
                if name in record:
                    _refuse_nul(record[name], at, name)
                    extra[k][name] = record[name]
        batch = self._finish(n, columns, extra if any(extra) else None)
        batch.single = not indexed
        return batch

    def check_value(self, spec: ColumnSpec, value: Any, index: int | None) -> Any:
        """Return ``value`` as the model takes it, or raise naming the column."""
        where = _where(index, spec.name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if spec.nullable:
                return None
            shown = "NaN" if value is not None else "null"
            raise InvalidInput(
                f"{where} is {shown}, but {MISSING_REFUSED}; expected {spec.expected}",
                field=spec.name,
            )
        if spec.kind == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(
                    f"{where} must be a number; got {_kind(value)} "
                    f"{_show(value)}; expected {spec.expected}",
                    field=spec.name,
                )
            if isinstance(value, float) and math.isinf(value):
                raise InvalidInput(
                    f"{where} is infinite; expected {spec.expected}",
                    field=spec.name,
                )
            if spec.whole:
                if isinstance(value, float):
                    if not value.is_integer():
                        raise InvalidInput(
                            f"{where} must be a whole number ({spec.dtype}); got "
                            f"{value!r}",
                            field=spec.name,
                        )
                    value = int(value)
                if not _INT64[0] <= value <= _INT64[1]:
                    raise InvalidInput(
                        f"{where} is out of range for {spec.dtype}; got {value}",
                        field=spec.name,
                    )
                return value
            number = float(value)
            if math.isinf(number):
                raise InvalidInput(
                    f"{where} is too large for a float64; got {_show(value)}",
                    field=spec.name,
                )
            return number
        if spec.boolean:
            if not isinstance(value, bool):
                raise InvalidInput(
                    f"{where} must be true or false; got {_show(value)}",
                    field=spec.name,
                )
            return value
        if not isinstance(value, str):
            raise InvalidInput(
                f"{where} must be a string (a category); got "
                f"{_kind(value)} {_show(value)}",
                field=spec.name,
            )
        _refuse_nul(value, index, spec.name)
        return value

    # -- columns (Open Inference Protocol) --------------------------------
    def from_columns(
        self, columns: Mapping[str, Sequence[Any]], extra: Mapping[str, Sequence[Any]]
    ) -> Batch:
        """Validate column-wise input; every column must have the same length.

        Args:
            columns: Values of every input column.
            extra: Values of log columns that were sent.
        """
        missing = [c for c in self.names if c not in columns]
        if missing:
            raise InvalidInput(
                f"missing input(s) {_few(missing)}; the model expects "
                f"{_few(self.names)}",
                field=missing[0],
            )
        unknown = [c for c in [*columns, *extra] if c not in self._allowed]
        if unknown:
            raise InvalidInput(
                f"unexpected input(s) {_few(unknown)}; expected {_few(self.names)}"
                + (f" and optionally {self.log_columns}" if self.log_columns else ""),
                field=unknown[0],
            )
        n = len(next(iter(columns.values()))) if columns else 0
        for name, values in [*columns.items(), *extra.items()]:
            if len(values) != n:
                raise InvalidInput(
                    f"input {name!r} has {len(values)} values, but "
                    f"{self.names[0]!r} has {n}; every input needs one value per "
                    "row",
                    field=name,
                )
        if n == 0:
            raise InvalidInput("the inputs hold no rows", field=self.names[0])
        checked = {
            spec.name: [
                self.check_value(spec, v, i if n > 1 else None)
                for i, v in enumerate(columns[spec.name])
            ]
            for spec in self.specs
        }
        for name, values in extra.items():
            for i, value in enumerate(values):
                _refuse_nul(value, i if n > 1 else None, name)
        rows: list[dict[str, Any]] | None = (
            [{name: values[i] for name, values in extra.items()} for i in range(n)]
            if extra
            else None
        )
        return self._finish(n, checked, rows)

    # -- shared -----------------------------------------------------------
    def _missing_flags(
        self, n: int, columns: dict[str, list[Any]]
    ) -> list[dict[str, Any] | None]:
        """Per record, ``{"missing": [columns]}`` where training had none."""
        flags: list[dict[str, Any] | None] = [None] * n
        for name in self._flag_missing:
            values = columns[name]
            if None in values:  # one C-level scan; the loop runs only on a hit
                for k, value in enumerate(values):
                    if value is None:
                        flag = flags[k] = flags[k] or {}
                        flag.setdefault("missing", []).append(name)
        return flags

    def _finish(
        self,
        n: int,
        columns: dict[str, list[Any]],
        extra: list[dict[str, Any]] | None,
    ) -> Batch:
        # Routing keys from the values as sent (before unseen categories are
        # mapped and pii redacted).
        keys: list[str | None] = []
        sticky = self.sticky_field
        if sticky is not None:
            if sticky in columns:
                keys = [None if v is None else str(v) for v in columns[sticky]]
            else:
                keys = [
                    None if row.get(sticky) is None else str(row[sticky])
                    for row in (extra or [{}] * n)
                ]
        flags = self._missing_flags(n, columns)
        sent = columns  # shared until a value as sent differs from the scored one
        for name, known in self.categories.items():
            values = columns.get(name)
            if values is None or known.issuperset(values):
                continue
            for k, value in enumerate(values):
                if value is None or value in known:
                    continue
                if self.unseen_policy != "unknown":
                    raise unseen_refused(
                        _where(k if n > 1 else None, name), name, value, known
                    )
                if sent is columns:
                    sent = dict(columns)
                if sent[name] is values:
                    sent[name] = list(values)
                values[k] = UNKNOWN_CATEGORY
                flag = flags[k] = flags[k] or {}
                flag.setdefault("unseen", {})[name] = value
        if self.pii:
            for name in self.pii:
                if name in sent:
                    if sent is columns:
                        sent = dict(columns)
                    sent[name] = [REDACTED] * n
            if extra is not None:
                extra = [
                    {k: (REDACTED if k in self.pii else v) for k, v in row.items()}
                    for row in extra
                ]
        return Batch(n, columns, sent, extra, flags, keys)


def unseen_refused(
    where: str, name: str, value: Any, known: frozenset[str], **details: Any
) -> InvalidInput:
    """The error for a category the model never saw, under the ``reject``
    policy, online and in batch alike; ``where`` says which record or row
    and column."""
    shown = sorted(known)
    return InvalidInput(
        f"{where} has category {value!r}, which the model never saw; "
        f"expected one of {shown[:30]}" + (" ..." if len(shown) > 30 else ""),
        field=name,
        allowed=shown,
        **details,
    )


def _refuse_nul(value: Any, index: int | None, name: str) -> None:
    """Refuse a NUL character anywhere in a logged value: PostgreSQL's JSON
    cannot store one, and one record the log cannot store would hold up
    every record after it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidInput(
                    f"{_where(index, name)} contains a NUL character (\\u0000), "
                    "which the prediction log cannot store; remove it",
                    field=name,
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _few(names: Sequence[Any], limit: int = 8) -> str:
    """A list for a message, cut short when long."""
    shown = [str(n) for n in names[:limit]]
    more = len(names) - len(shown)
    return str(shown) if more <= 0 else f"{shown} and {more} more"


def _kind(value: Any) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) else None
    if text is None:
        text = _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."
