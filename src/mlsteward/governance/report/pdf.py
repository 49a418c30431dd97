"""HTML to PDF, with whatever converter the machine has.

Tried in order: a Chromium on the ``PATH`` (``chromium``, then
``chromium-browser``, ``google-chrome``, ``google-chrome-stable``; Debian's
package installs ``/usr/bin/chromium``), run headless with networking,
GPU, sandbox and first-run work turned off; then WeasyPrint if it can be
imported. With neither, no PDF is written and the result says so: the HTML
is the document of record either way.

The report loads nothing from the network, so the converter has nothing to
fetch; Chromium additionally gets a throw-away profile directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHROMIUM_NAMES", "PdfResult", "find_converter", "html_to_pdf"]

#: Executable names searched on the PATH, in order.
CHROMIUM_NAMES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
_TIMEOUT_S = 120


@dataclass(frozen=True)
class PdfResult:
    """What happened to the PDF.

    Args:
        path: The PDF written, or ``None``.
        converter: ``"chromium:/usr/bin/chromium"``, ``"weasyprint"`` or ``None``.
        message: For a person: where the PDF is, or why there is none.
    """

    path: Path | None
    converter: str | None
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {
            "path": str(self.path) if self.path else None,
            "converter": self.converter,
            "message": self.message,
        }


def _weasyprint_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:  # ImportError, or OSError when its C libraries are missing
        return False
    return True


def find_converter(search_path: str | None = None) -> str | None:
    """Name the converter :func:`html_to_pdf` would use, or ``None``.

    Args:
        search_path: Directories to search (default: the ``PATH``).

    Example:
        >>> find_converter(search_path="/nonexistent") in (None, "weasyprint")
        True
    """
    path = search_path if search_path is not None else os.environ.get("PATH", "")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name, path=path)
        if found:
            return f"chromium:{found}"
    return "weasyprint" if _weasyprint_available() else None


def html_to_pdf(
    html_path: Path, pdf_path: Path, *, search_path: str | None = None
) -> PdfResult:
    """Convert ``html_path`` to ``pdf_path`` if a converter is installed.

    Never raises for a missing or failing converter: the result's message
    says what happened, because the HTML report is already written.
    """
    converter = find_converter(search_path)
    if converter is None:
        return PdfResult(
            None,
            None,
            "no PDF converter found (looked for "
            + ", ".join(CHROMIUM_NAMES)
            + " on the PATH and the weasyprint package); wrote HTML only. "
            "Install Debian's chromium or 'pip install weasyprint' for PDF.",
        )
    if converter == "weasyprint":
        try:
            import weasyprint

            weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))
        except Exception as exc:  # a converter failure must not lose the HTML
            return PdfResult(None, converter, f"weasyprint failed: {exc}")
        return PdfResult(pdf_path, converter, f"PDF written by weasyprint: {pdf_path}")
    exe = converter.partition(":")[2]
    with tempfile.TemporaryDirectory(prefix="mlsteward-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return PdfResult(None, converter, f"{exe} failed: {exc}")
    if done.returncode != 0 or not _is_pdf(pdf_path):
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        return PdfResult(
            None,
            converter,
            f"{exe} exited with {done.returncode} and wrote no PDF: "
            + (" | ".join(tail) or "no output"),
        )
    return PdfResult(pdf_path, converter, f"PDF written by {exe}: {pdf_path}")


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"%PDF-"
    except OSError:
        return False
