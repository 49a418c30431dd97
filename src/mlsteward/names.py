"""Names users give things, and references to versions (``name/3``, ``name@alias``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlsteward.errors import InvalidInput

__all__ = ["MAX_VERSION", "NAME_PATTERN", "Ref", "check_name", "parse_ref"]

# Matched whole with ``fullmatch``: ``$`` alone would also match before a
# trailing newline, and ``"champion\n"`` would pass for a second champion.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VERSION = re.compile(r"[0-9]{1,10}")

#: The largest version number (the store's columns are 32-bit integers).
MAX_VERSION = 2_147_483_647


def check_name(value: object, field: str) -> str:
    """Return ``value`` if it is a valid name, else raise InvalidInput.

    Example:
        >>> check_name("credit-risk", "name")
        'credit-risk'
    """
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not a valid name: use 1-128 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit",
            field=field,
        )
    return value


@dataclass(frozen=True)
class Ref:
    """``name`` (latest), ``name/3`` (a version) or ``name@alias``."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_ref(ref: str, field: str = "ref") -> Ref:
    """Parse ``name``, ``name/N`` or ``name@alias``.

    Example:
        >>> parse_ref("credit-risk@champion")
        Ref(name='credit-risk', version=None, alias='champion')
    """
    if not isinstance(ref, str):
        raise InvalidInput(f"{field} must be a string like 'name/3'", field=field)
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return Ref(check_name(name, field), alias=check_name(alias, field))
    if "/" in ref:
        name, version = ref.split("/", 1)
        # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
        if not _VERSION.fullmatch(version) or not 1 <= int(version) <= MAX_VERSION:
            raise InvalidInput(
                f"{field} {ref!r}: the version after '/' must be a positive "
                f"integer up to {MAX_VERSION}, as in 'credit-risk/3'",
                field=field,
            )
        return Ref(check_name(name, field), version=int(version))
    return Ref(check_name(ref, field))
