"""Typed request specs: one per write operation, shared by every adapter.

A spec is a pydantic model that the service takes as its argument; the REST
route uses it as its body unchanged, the SDK and the CLI build it from their
arguments, and policy files parse their entries as it. So an operation's
arguments are written out once and validated in one place.

Unknown keys are refused by name (``extra="forbid"``). Validators that need
to name a nested field (``window.n``) or list allowed values raise
:func:`invalid`; :meth:`Spec.parse` turns any validation error into
:class:`~mlsteward.errors.InvalidInput` naming the field, and the REST
problem handler reads the same ``field`` and ``allowed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from mlsteward.errors import InvalidInput

__all__ = [
    "Spec",
    "allowed_keys",
    "error_of",
    "field_of",
    "guard",
    "invalid",
    "invalid_input_of",
    "str_map",
]

T = TypeVar("T")

#: Number bounds pydantic checks, as the messages say them.
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


class Spec(BaseModel):
    """Base of request specs: unknown keys refused, values checked on assignment.

    Example:
        >>> class Greet(Spec):
        ...     name: str
        >>> Greet.parse({"name": "a", "nmae": "b"})
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: unknown key 'nmae'; allowed here: ['name']
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None = None, /, **fields: Any) -> Self:
        """Validate ``data`` (and/or keyword fields) into the spec.

        Raises:
            InvalidInput: Naming the first bad field and, where known, the
                allowed values.
        """
        merged = {**dict(data or {}), **fields}
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise invalid_input_of(exc, cls) from exc


def invalid(message: str, field: str, allowed: list[Any] | None = None) -> NoReturn:
    """Fail validation naming an absolute ``field`` (``"window.n"``).

    Call it inside validators: pydantic records it as an ``invalid_input``
    error whose context carries the field and the allowed values.
    """
    ctx: dict[str, Any] = {"message": message, "field": field}
    if allowed is not None:
        ctx["allowed"] = list(allowed)
    raise PydanticCustomError("invalid_input", "{message}", ctx)


def guard(fn: Callable[[], T]) -> T:
    """Run a helper that raises :class:`InvalidInput`, as a validation error.

    Example:
        >>> guard(lambda: 1)
        1
    """
    try:
        return fn()
    except InvalidInput as exc:
        allowed = exc.details.get("allowed")
        invalid(exc.message, exc.field or "", allowed)


def allowed_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys a spec (or a spec nested in it at ``loc``) accepts.

    Example:
        >>> allowed_keys(Spec, ())
        []
    """
    for part in loc:
        if isinstance(part, int):  # an item of a list: the same model
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return []
        model = fields[part].annotation
        # list[X], X | None: look through to the model inside.
        for arg in getattr(model, "__args__", ()) or ():
            if getattr(arg, "model_fields", None):
                model = arg
                break
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields else []


def field_of(loc: tuple[Any, ...], ctx: Mapping[str, Any]) -> str:
    """The dotted field an error is about: its location, or the field a
    validator named, under the location of the spec it sits in.

    Example:
        >>> field_of(("monitors", 0, "window"), {"field": "window.n"})
        'monitors.0.window.n'
    """
    parts = [str(p) for p in loc]
    named = ctx.get("field")
    if not named:
        return ".".join(parts)
    head = str(named).split(".")[0].split("[")[0]
    if head in parts:
        parts = parts[: len(parts) - 1 - parts[::-1].index(head)]
    return ".".join([*parts, str(named)])


def invalid_input_of(exc: ValidationError, model: Any) -> InvalidInput:
    """The :class:`InvalidInput` for the first error of a validation.

    Example:
        >>> try:
        ...     Spec.model_validate({"x": 1})
        ... except ValidationError as e:
        ...     invalid_input_of(e, Spec).field
        'x'
    """
    return error_of(dict(exc.errors()[0]), model)


def error_of(err: Mapping[str, Any], model: Any = None) -> InvalidInput:
    """The :class:`InvalidInput` for one pydantic error (``ValidationError.errors()``
    item); ``model`` (the spec validated) lets unknown keys list the allowed.

    Example:
        >>> error_of({"type": "missing", "loc": ("name",), "msg": "x"}).message
        'name is required'
    """
    ctx = err.get("ctx") or {}
    loc = tuple(err.get("loc", ()))
    field = field_of(tuple(err.get("loc", ())), ctx)
    if err["type"] == "invalid_input":
        details = {"allowed": ctx["allowed"]} if "allowed" in ctx else {}
        message = str(ctx["message"])
        if not ctx.get("field") and field:  # a validator that knows no path
            message = f"{field}: {message}"
        return InvalidInput(message, field=field or None, **details)
    if err["type"] == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1]) if model is not None else []
        known = f"; allowed here: {allowed}" if allowed else ""
        return InvalidInput(
            f"unknown key {str(loc[-1])!r}{known}",
            field=field,
            **({"allowed": allowed} if allowed else {}),
        )
    if err["type"] == "missing":
        return InvalidInput(f"{field} is required", field=field)
    expected = ctx.get("expected")
    if expected:
        # A Literal's choices come as "'a', 'b' or 'c'": list them.
        choices = re.findall(r"'((?:[^'\\]|\\.)*)'", str(expected)) or [expected]
        return InvalidInput(
            f"{field} must be one of {choices}, got {err.get('input')!r}",
            field=field,
            allowed=choices,
        )
    bound = _BOUNDS.get(err["type"])
    if bound is not None:
        op, key = bound
        return InvalidInput(
            f"{field} must be {op} {ctx.get(key)}, got {err.get('input')!r}",
            field=field,
        )
    return InvalidInput(f"{field}: {err['msg']}", field=field)


def str_map(value: Any, field: str) -> dict[str, str]:
    """Tags: a mapping of strings; keys and values are turned into strings.

    Example:
        >>> str_map({"team": "risk", "wave": 2}, "tags")
        {'team': 'risk', 'wave': '2'}
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        invalid(f"{field} must be a mapping of names to values", field)
    return {str(k): str(v) for k, v in value.items()}
