"""The one plug-in table every seam uses: built-ins, entry points, safety."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from mlsteward.errors import InvalidInput
from mlsteward.plugins import PluginTable

SOURCE = """
LOADS = []
LOADS.append(1)


def shout(text):
    return text.upper()


def whisper(text):
    return text.lower()


NOT_CALLABLE = 42
"""


def _callable(obj: object) -> Any:
    if not callable(obj):
        raise TypeError("it must be callable")
    return obj


@pytest.fixture
def table_and_module(install_plugin: Any) -> tuple[PluginTable[Any], str]:
    module = f"voice_plugin_{uuid.uuid4().hex[:8]}"
    group = f"mlsteward.test_voices_{uuid.uuid4().hex[:8]}"
    table: PluginTable[Any] = PluginTable(
        "voice", group, {"say": "builtins:str"}, validate=_callable
    )
    install_plugin(
        {
            group: {
                "shout": f"{module}:shout",
                "say": f"{module}:whisper",  # may not replace the built-in
                "number": f"{module}:NOT_CALLABLE",
                "ghost": "no_such_module_for_mlsteward_tests:fn",
                "junk": "not an import target",
            }
        },
        {module: SOURCE},
    )
    return table, module


def test_builtins_and_entry_points_by_name(
    table_and_module: tuple[PluginTable[Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    table, module = table_and_module
    with caplog.at_level("WARNING", logger="mlsteward.plugins"):
        assert table.available() == ["ghost", "junk", "number", "say", "shout"]
    assert "'say' is a built-in voice and cannot be replaced" in caplog.text
    assert module not in sys.modules  # nothing imported before first use
    assert table.get("say") is str
    assert table.get("shout")("hi") == "HI"
    assert table.get("shout") is table.get("shout")
    assert sys.modules[module].LOADS == [1]  # imported once


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("nope", r"unknown voice 'nope'; available: \['ghost'"),
        ("number", "not a valid voice: it must be callable"),
        ("ghost", "cannot be imported: ModuleNotFoundError"),
        ("junk", "is not of the form 'module:attr'"),
    ],
)
def test_errors_name_the_field_and_what_is_available(
    table_and_module: tuple[PluginTable[Any], str], name: str, match: str
) -> None:
    table, _ = table_and_module
    with pytest.raises(InvalidInput, match=match) as info:
        table.get(name)
    assert info.value.field == "voice"
    if name == "nope":
        assert info.value.details["allowed"] == table.available()
        assert table.group in info.value.message


def test_load_all_skips_what_cannot_be_loaded(
    table_and_module: tuple[PluginTable[Any], str],
) -> None:
    table, _ = table_and_module
    assert sorted(table.load_all()) == ["say", "shout"]


def test_register_refuses_taken_names_and_undoes(
    table_and_module: tuple[PluginTable[Any], str],
) -> None:
    table, _ = table_and_module
    for taken, source in [("say", "built-in"), ("shout", "plug-in")]:
        with pytest.raises(InvalidInput, match=f"is a {source} and cannot be replaced"):
            table.register(taken, print)
    with pytest.raises(InvalidInput, match="must be callable"):
        table.register("mute", 3)
    undo = table.register("echo", print)
    assert table.get("echo") is print
    with pytest.raises(InvalidInput, match="already registered"):
        table.register("echo", repr)
    undo()
    assert "echo" not in table.available()
    with pytest.raises(InvalidInput, match="unknown voice 'echo'"):
        table.get("echo")


def test_builtins_are_read_only() -> None:
    table: PluginTable[Any] = PluginTable("x", "no.such.group", {"a": "builtins:str"})
    with pytest.raises(TypeError):
        table.builtins["a"] = "builtins:repr"  # type: ignore[index]
