"""One way to find plug-ins: a literal table of built-ins plus entry points.

Every seam of mlsteward (flavors, job handlers, alert sinks, retraining
triggers, trainers) is a :class:`PluginTable`: built-ins are written out as
``{"name": "module:attr"}`` and imported only when first used; third-party
packages add names through an entry-point group; a plug-in can never replace
a built-in (it is ignored, with a logged warning), so the safe loaders and
the project's own behaviour cannot be swapped out by installing a package.

Example:
    >>> table = PluginTable(
    ...     "greeting", "example.greetings", {"hello": "builtins:print"}
    ... )
    >>> table.available()
    ['hello']
    >>> table.get("hello") is print
    True
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from mlsteward.errors import InvalidInput

__all__ = ["PluginTable", "reload_entry_points"]

T = TypeVar("T")

_log = logging.getLogger("mlsteward.plugins")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# Weak, so a table made by a test or a notebook goes when it is dropped.
_TABLES: weakref.WeakSet[PluginTable[Any]] = weakref.WeakSet()


class PluginTable(Generic[T]):
    """Plug-ins of one seam, found by name.

    Args:
        kind: What one plug-in is, for messages (``"flavor"``, ``"trainer"``).
        group: Entry-point group third parties declare plug-ins in.
        builtins: Built-in names and their ``"module:attr"`` targets.
        validate: Called with the imported attribute; returns what the table
            hands out (the attribute itself, or e.g. an instance of a class)
            and raises ``TypeError`` or ``ValueError`` saying what is wrong.
        field: The field errors name (defaults to ``kind``).

    Example:
        >>> TRAINERS = PluginTable(  # doctest: +SKIP
        ...     "trainer", "mlsteward.trainers", {"x": "pkg.mod:fit"}
        ... )
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, str],
        *,
        validate: Callable[[Any], T] | None = None,
        field: str | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self.builtins: Mapping[str, str] = MappingProxyType(dict(builtins))
        self.field = field or kind
        self._validate = validate
        self._plugins: dict[str, str] | None = None
        self._loaded: dict[str, T] = {}
        self._registered: dict[str, T] = {}
        self._lock = threading.RLock()
        _TABLES.add(self)

    # -- names ------------------------------------------------------------
    def plugins(self) -> dict[str, str]:
        """Plug-in names and targets from the entry-point group (not built-ins).

        Example:
            >>> PluginTable("x", "no.such.group", {}).plugins()
            {}
        """
        with self._lock:
            if self._plugins is None:
                self._plugins = self._scan()
            return dict(self._plugins)

    def _scan(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for ep in entry_points(group=self.group):
            builtin = self.builtins.get(ep.name)
            if builtin is None:
                found[ep.name] = ep.value
            elif ep.value != builtin:
                # A plug-in may not take over a built-in: the built-ins carry
                # the safe behaviour, and installing a package must not swap it.
                _log.warning(
                    "ignoring %s plug-in %r (%s) from entry-point group %r: "
                    "%r is a built-in %s and cannot be replaced",
                    self.kind,
                    ep.name,
                    ep.value,
                    self.group,
                    ep.name,
                    self.kind,
                )
            # The same target under the built-in's name is a stale declaration
            # of the built-in itself (older metadata): nothing to warn about.
        return found

    def available(self) -> list[str]:
        """Every name this process knows: built-ins, plug-ins, registered.

        Example:
            >>> PluginTable("x", "no.such.group", {"a": "m:f"}).available()
            ['a']
        """
        return sorted({*self.builtins, *self.plugins(), *self._registered})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.available()

    def target(self, name: str) -> str | None:
        """The ``"module:attr"`` a name points at, or None (registered/unknown)."""
        return self.builtins.get(name) or self.plugins().get(name)

    def unknown(self, name: object) -> InvalidInput:
        """The error for a name no plug-in has: it lists what is available.

        Example:
            >>> PluginTable("x", "no.such.group", {"a": "m:f"}).unknown("b").field
            'x'
        """
        known = self.available()
        return InvalidInput(
            f"unknown {self.kind} {name!r}; available: {known}. Third-party "
            f"packages add one through the entry-point group {self.group!r}.",
            field=self.field,
            allowed=known,
        )

    # -- objects ----------------------------------------------------------
    def get(self, name: str) -> T:
        """The plug-in called ``name``, imported (and validated) on first use.

        Raises:
            InvalidInput: No such name (the message lists the available
                ones), or its target cannot be imported or is not valid.

        Example:
            >>> PluginTable("x", "no.such.group", {"p": "builtins:print"}).get("p")
            <built-in function print>
        """
        if not isinstance(name, str):
            raise self.unknown(name)
        found = self._registered.get(name)
        if found is None:
            found = self._loaded.get(name)
        if found is not None:
            return found
        target = self.target(name)
        if target is None:
            raise self.unknown(name)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = self._load(name, target)
            return self._loaded[name]

    def _load(self, name: str, target: str) -> T:
        module_name, _, attr = target.partition(":")
        try:
            if not _TARGET.match(target):
                raise ImportError(f"{target!r} is not of the form 'module:attr'")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise InvalidInput(
                f"{self.kind} {name!r} points at {target!r}, which cannot be "
                f"imported: {type(exc).__name__}: {exc}. Reinstall the package "
                "that provides it.",
                field=self.field,
                target=target,
            ) from exc
        if self._validate is None:
            return obj  # type: ignore[no-any-return]
        try:
            return self._validate(obj)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"{self.kind} {name!r} points at {target!r}, which is not a "
                f"valid {self.kind}: {exc}",
                field=self.field,
                target=target,
            ) from exc

    def load_all(self) -> dict[str, T]:
        """Every plug-in by name; one that cannot be loaded is logged, skipped.

        Example:
            >>> PluginTable("x", "no.such.group", {"p": "builtins:print"}).load_all()
            {'p': <built-in function print>}
        """
        out: dict[str, T] = {}
        for name in self.available():
            try:
                out[name] = self.get(name)
            except InvalidInput as exc:
                _log.warning("skipping %s %r: %s", self.kind, name, exc.message)
        return out

    # -- in-process registration (tests, notebooks) -------------------------
    def register(self, name: str, obj: T) -> Callable[[], None]:
        """Add ``obj`` under a new ``name`` in this process; return the undo.

        Meant for tests and notebooks; packages declare an entry point. A name
        already taken (built-in, plug-in or registered) is refused, so
        nothing can stand in for a built-in.

        Raises:
            InvalidInput: The name is taken; the message says which kind.

        Example:
            >>> table = PluginTable("x", "no.such.group", {})
            >>> undo = table.register("hello", print)
            >>> table.available()
            ['hello']
            >>> undo()
            >>> table.available()
            []
        """
        if not isinstance(name, str) or not name:
            raise InvalidInput(
                f"{self.kind} name must be a non-empty string, got {name!r}",
                field=self.field,
            )
        with self._lock:
            if name in self.builtins or name in self.plugins():
                source = "built-in" if name in self.builtins else "plug-in"
                raise InvalidInput(
                    f"{self.kind} {name!r} is a {source} and cannot be replaced; "
                    "register under another name",
                    field=self.field,
                )
            if name in self._registered:
                raise InvalidInput(
                    f"{self.kind} {name!r} is already registered in this process",
                    field=self.field,
                )
            try:
                checked = self._validate(obj) if self._validate else obj
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"{self.kind} {name!r} is not a valid {self.kind}: {exc}",
                    field=self.field,
                ) from exc
            self._registered[name] = checked

        def undo() -> None:
            with self._lock:
                if self._registered.get(name) is checked:
                    del self._registered[name]

        return undo

    def reload(self) -> None:
        """Forget the entry points and plug-ins seen so far; scan again on use."""
        with self._lock:
            self._plugins = None
            for name in list(self._loaded):
                if name not in self.builtins:
                    del self._loaded[name]


def reload_entry_points() -> None:
    """Rescan every table's entry points (after installing a package).

    Example:
        >>> reload_entry_points()
    """
    for table in list(_TABLES):
        table.reload()
