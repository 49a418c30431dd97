"""The shape of the code: module and function sizes, held by a ratchet.

STYLE.md asks for modules under about 600 lines and functions under about
80, and a function longer than that says why in :data:`LONG_FOR_A_REASON`.
A function's length is counted without its docstring: the style asks for
documented arguments and an example, and those should never push a function
into pieces. The functions and modules listed below were longer when the rule was
first checked; they are debt to split, not exceptions granted. The lists may
only shrink: a new long function fails here, and so does an entry that is no
longer long (remove it, so the ratchet tightens).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src" / "mlsteward"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

#: Modules over the limit when the check was introduced (path below SRC).
LONG_MODULES: set[str] = set()

#: Functions over the limit when the check was introduced ("path:name").
LONG_FUNCTIONS: set[str] = set()

#: Functions that are long for a reason, and the reason.
LONG_FOR_A_REASON: dict[str, str] = {
    "api/inference_openapi.py:inference_openapi": (
        "one literal OpenAPI document; split, the schema would be read in pieces"
    ),
}


def _sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def _long_modules() -> set[str]:
    return {
        p.relative_to(SRC).as_posix()
        for p in _sources()
        if len(p.read_text().splitlines()) > MAX_MODULE_LINES
    }


def _long_functions() -> set[str]:
    found = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                doc = node.body[0] if node.body else None
                if (
                    isinstance(doc, ast.Expr)
                    and isinstance(doc.value, ast.Constant)
                    and isinstance(doc.value.value, str)
                ):
                    length -= (doc.end_lineno or doc.lineno) - doc.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.add(f"{path.relative_to(SRC).as_posix()}:{node.name}")
    return found


def test_no_new_long_modules() -> None:
    new = _long_modules() - LONG_MODULES
    assert not new, f"modules over {MAX_MODULE_LINES} lines; split them: {new}"


def test_no_new_long_functions() -> None:
    new = _long_functions() - LONG_FUNCTIONS - set(LONG_FOR_A_REASON)
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines; split them: {new}"


def test_debt_lists_only_shrink() -> None:
    long_now = _long_functions()
    paid = (LONG_MODULES - _long_modules()) | (
        (LONG_FUNCTIONS | set(LONG_FOR_A_REASON)) - long_now
    )
    assert not paid, f"no longer long; remove from the lists in this file: {paid}"


def _contracts() -> list[dict[str, Any]]:
    import tomllib

    pyproject = SRC.parents[1] / "pyproject.toml"
    config = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
    return list(config["contracts"])


def test_every_capabilitys_tables_are_guarded_by_a_contract() -> None:
    """Each ``tables.py`` has a forbidden contract naming every adapter and
    capability but its owner, so a new capability cannot forget one."""
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    above_shared: list[str] = []
    for layer in layers["layers"]:
        if layer == "mlsteward.context":
            break
        above_shared += [m.strip() for m in layer.split(":")]
    guarded = {
        c["forbidden_modules"][0]: c
        for c in _contracts()
        if c["type"] == "forbidden" and c.get("allow_indirect_imports") == "True"
    }
    for path in sorted(SRC.glob("*/tables.py")):
        owner = f"mlsteward.{path.parent.name}"
        contract = guarded.get(f"{owner}.tables")
        assert contract is not None, f"no import-linter contract guards {owner}.tables"
        expected = {m for m in above_shared if m != owner}
        assert set(contract["source_modules"]) == expected, owner
