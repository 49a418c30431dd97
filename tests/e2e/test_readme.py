"""Every shell and Python block of README.md runs as written after the demo,
so the README cannot drift from the code.

The demo runs once into a temporary folder (as `make demo` does in the
repository), with `examples/` beside it; the blocks then run in README order
in that folder, as dana (the README's snippets act as her), and must exit 0.
A block that cannot run as written (a server in the foreground, a command
that installs things) is marked with ``<!-- not-run: reason -->`` on the
line before it; the reason must be given.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
_FENCE = re.compile(r"^```(\w*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not-run:(.*)-->\s*$")
_RUN = {"sh": "sh", "bash": "sh", "python": "python"}


def blocks() -> list[tuple[int, str, str, str | None]]:
    """(line, language, code, not-run reason or None) of every fenced block."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    out: list[tuple[int, str, str, str | None]] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, lang, body = i, m.group(1), []
        i += 1
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        before = lines[start - 1] if start else ""
        marker = _NOT_RUN.match(before)
        out.append(
            (
                start + 1,
                lang,
                "\n".join(body) + "\n",
                marker.group(1) if marker else None,
            )
        )
    return out


RUNNABLE = [b for b in blocks() if b[1] in _RUN and b[3] is None]


def test_every_not_run_block_says_why() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    markers = re.findall(r"<!--\s*not-run:(.*?)-->", text)
    assert markers, "the README marks the blocks it cannot run"
    assert all(len(reason.strip()) > 10 for reason in markers), markers
    marked = [b for b in blocks() if b[3] is not None]
    assert len(marked) == len(markers)  # every marker sits right above a block
    assert all(b[1] in _RUN for b in marked)
    assert len(RUNNABLE) >= 10


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A folder as the README assumes: `make demo` done, `examples/` beside."""
    here = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", here / "examples")
    (here / "src").symlink_to(ROOT / "src")
    bin_dir = here / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "mlsteward"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m mlsteward "$@"\n')
    shim.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT / "src"),
        MLSTEWARD_HOME=str(here / ".mlsteward"),
    )
    done = subprocess.run(
        ["mlsteward", "demo", "--json"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    env["MLSTEWARD_TOKEN"] = (
        (here / ".mlsteward" / "tokens" / "dana").read_text().strip()
    )
    return {**env, "__cwd__": str(here)}


@pytest.mark.parametrize(
    ("line", "lang", "code"),
    [pytest.param(b[0], b[1], b[2], id=f"README.md:{b[0]}") for b in RUNNABLE],
)
def test_readme_block_runs(
    demo_folder: dict[str, str], line: int, lang: str, code: str
) -> None:
    env = {k: v for k, v in demo_folder.items() if k != "__cwd__"}
    if _RUN[lang] == "sh":
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    done = subprocess.run(
        argv,
        cwd=demo_folder["__cwd__"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"README.md line {line} failed:\n{code}\n--- stdout\n{done.stdout[-3000:]}"
        f"\n--- stderr\n{done.stderr[-3000:]}"
    )


def test_the_policy_shown_is_the_example_file() -> None:
    toml = [b[2] for b in blocks() if b[1] == "toml"]
    assert toml == [
        (ROOT / "examples" / "credit-risk.toml").read_text(encoding="utf-8")
    ]
