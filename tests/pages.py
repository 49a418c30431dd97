"""Helpers of the tests that read or open the HTML pages mlsteward writes:
a parser of their tags and scripts, and Playwright on Debian's chromium."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.conftest import require_or_skip


class Page(HTMLParser):
    """Tags, attributes, scripts and the rows table of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.cells: dict[tuple[str, str], list[str | None]] = {}
        self._script: dict[str, str | None] | None = None
        self._buf: list[str] = []
        self._row: tuple[str, str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._script, self._buf = a, []
        if tag == "tr" and a.get("data-method"):
            self._row = (str(a["data-column"]), str(a["data-method"]))
            self.cells[self._row] = []
        if tag == "td" and self._row is not None:
            self.cells[self._row].append(a.get("data-v"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buf)))
            self._script = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._buf.append(data)

    def chart_data(self, element: str = "drift-data") -> dict[str, Any]:
        """The JSON of the ``<script type="application/json" id=element>``."""
        (blob,) = [s for a, s in self.scripts if a.get("id") == element]
        return json.loads(blob)


def chromium_path() -> str:
    """Debian's chromium, or skip (fail under MLSTEWARD_REQUIRE_SERVICES=1)."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        require_or_skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


def playwright_api() -> Any:
    """``playwright.sync_api``, or skip (fail under MLSTEWARD_REQUIRE_SERVICES=1)."""
    try:
        from playwright import sync_api
    except ImportError:
        require_or_skip("Playwright for Python is missing (pip install -e '.[test]')")
    return sync_api


def watch(page: Any, requests: list[str], problems: list[str]) -> None:
    """Record every request ``page`` makes and every page error, dialog,
    console error or warning it meets (an offline page should make none)."""
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
