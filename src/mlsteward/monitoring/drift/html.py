"""A drift report as one self-contained HTML page (for a file, an email, a
notebook), drawn with the Chart.js shipped inside mlsteward.

The page holds only aggregates: the report's rows and, per column, the
counts of :mod:`~mlsteward.monitoring.drift.charts` (at most a few dozen
bars), so its size grows with the number of columns, never with the rows.
Nothing on it reaches the network: CSS and scripts are inline, and its
Content-Security-Policy forbids any fetch. User text (column names,
categories) is escaped by Jinja's autoescape in HTML, and by
:func:`script_json` inside the one ``<script type="application/json">``
block that feeds the charts.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mlsteward.errors import InvalidInput
from mlsteward.monitoring.drift.options import STATUSES

if TYPE_CHECKING:
    from mlsteward.monitoring.drift.results import DriftResult

__all__ = [
    "chartjs_source",
    "notebook_frame",
    "render_html",
    "script_json",
    "write_page",
]

_SEVERITY = {s: i for i, s in enumerate(STATUSES)}
#: Replacements that keep JSON inert inside a ``<script>`` element.
_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_SCRIPT_SAFE |= {"\u2028": "\\u2028", "\u2029": "\\u2029"}


@cache
def chartjs_source() -> str:
    """Chart.js 4.6.1 as shipped in ``mlsteward/assets`` (MIT)."""
    src = (
        resources.files("mlsteward")
        .joinpath("assets/chartjs/chart.umd.min.js")
        .read_text(encoding="utf-8")
    )
    # Inlined in a <script> element: these would end or confuse it.
    lowered = src.lower()
    assert "</script" not in lowered and "<!--" not in lowered
    return src


def script_json(value: Any) -> str:
    """JSON that can sit inside ``<script>`` whatever strings it holds."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return "".join(_SCRIPT_SAFE.get(ch, ch) for ch in text)


def fmt(value: float | None, digits: int = 4) -> str:
    """A figure as the CLI prints it: ``-`` for none, scientific when tiny."""
    if value is None:
        return "-"
    if value != 0 and abs(value) < 10 ** (-digits):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


@cache
def environment() -> Environment:
    """The Jinja environment of the monitoring pages (``monitoring/templates``),
    autoescaping HTML."""
    env = Environment(
        loader=PackageLoader("mlsteward.monitoring", "templates"),
        autoescape=select_autoescape(["html", "j2", "html.j2", "css"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    return env


def render_html(result: DriftResult, *, title: str | None = None) -> str:
    """The page of ``result`` (see the module docstring)."""
    order = {c: i for i, c in enumerate(result.column_status)}
    columns = sorted(
        result.column_status,
        key=lambda c: (-_SEVERITY[result.column_status[c]], order[c]),
    )
    by_column: dict[str, list[Any]] = {}
    for row in result.rows:
        by_column.setdefault(row.column, []).append(row)
    features = []
    for i, name in enumerate(columns):
        chart = result.charts.get(name)
        features.append(
            {
                "id": f"f{i}",
                "column": name,
                "status": result.column_status[name],
                "kind": chart.kind if chart else "",
                "rows": by_column.get(name, []),
                "folded": chart.folded if chart else 0,
                "has_chart": chart is not None,
            }
        )
    data = {
        f["id"]: {
            "column": c.column,
            "kind": c.kind,
            "labels": c.labels,
            "reference": c.reference,
            "current": c.current,
        }
        for f in features
        if (c := result.charts.get(str(f["column"]))) is not None
    }
    bands = sorted({(r.method, r.watch_threshold, r.threshold) for r in result.rows})
    anchors = {str(f["column"]): f"feature-{i}" for i, f in enumerate(features)}
    return (
        environment()
        .get_template("drift_report.html.j2")
        .render(
            title=title or "Drift report",
            anchors=anchors,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            r=result,
            features=features,
            bands=bands,
            severity=_SEVERITY,
            data_json=script_json(data),
            chartjs=chartjs_source(),
        )
    )


def write_page(page: str, path: str | Path) -> Path:
    """Write ``page`` to ``path`` (UTF-8); a clear error when it cannot."""
    target = Path(path)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the HTML report to {str(target)!r}: {exc.strerror or exc}",
            field="path",
        ) from exc
    return target


def notebook_frame(page: str, height: int = 720) -> str:
    """``page`` in a sandboxed ``<iframe srcdoc>``: its styles and scripts
    stay inside, whatever the notebook's own page holds."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" '
        'sandbox="allow-scripts" title="drift report" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #ddd"></iframe>'
    )
