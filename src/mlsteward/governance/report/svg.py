"""Charts of the model report, drawn as inline SVG in Python.

Reports are read offline and archived, so they load nothing: no JavaScript,
no CDN, no fonts. Every chart is a small ``<svg>`` element with a ``<title>``
and every label HTML-escaped; the same figures are always printed in a table
next to the chart, which stays the authoritative record.

Pure: no database, no web framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = ["bar_chart", "calibration_chart"]

_W, _H = 520, 300
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 56, 16, 24, 44
_BLUE, _ORANGE, _GREY = "#1f5fa8", "#d9822b", "#8a8f98"
_BAND_COLOURS = {"stable": "#2e7d32", "watch": "#d9822b", "act": "#c62828"}


def _num(value: float) -> str:
    return f"{value:.1f}"


def _axis(value: float) -> tuple[float, int]:
    """A round axis end at or above ``value`` and its number of ticks
    (steps of 0.05 up to 0.3, else 0.1; probabilities end at 1)."""
    if value <= 0 or not math.isfinite(value) or value > 1:
        return 1.0, 10
    step = 0.05 if value <= 0.3 else 0.1
    ticks = max(1, math.ceil(value / step - 1e-9))
    return min(1.0, ticks * step), ticks


def _svg(title: str, body: list[str], width: int = _W, height: int = _H) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" width="{width}" height="{height}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def calibration_chart(rows: Sequence[dict[str, Any]], title: str) -> str:
    """Observed bad rate against mean predicted score, one point per band.

    Points on the diagonal are calibrated; above it the model underestimates
    risk. Point area grows with the band's size.

    Args:
        rows: :func:`mlsteward.metrics.calibration_by_band` rows.
        title: Accessible title of the chart.

    Example:
        >>> svg = calibration_chart(
        ...     [{"mean_predicted": 0.1, "observed_bad_rate": 0.12, "n": 50}], "t"
        ... )
        >>> svg.startswith("<svg") and "<circle" in svg
        True
    """
    pts = [
        (float(r["mean_predicted"]), float(r["observed_bad_rate"]), int(r["n"]))
        for r in rows
        if r.get("mean_predicted") is not None
        and r.get("observed_bad_rate") is not None
    ]
    top, ticks = _axis(max([max(p, o) for p, o, _ in pts], default=1.0))
    plot_w, plot_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B

    def x(v: float) -> float:
        return _PAD_L + v / top * plot_w

    def y(v: float) -> float:
        return _PAD_T + plot_h - v / top * plot_h

    body = _axes(
        top, ticks, plot_w, plot_h, "mean predicted bad rate", "observed bad rate"
    )
    body.append(
        f'<line x1="{_num(x(0))}" y1="{_num(y(0))}" x2="{_num(x(top))}" '
        f'y2="{_num(y(top))}" stroke="{_GREY}" stroke-dasharray="4 3"/>'
    )
    if pts:
        path = " ".join(f"{_num(x(p))},{_num(y(o))}" for p, o, _ in pts)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{_BLUE}" '
            'stroke-width="1.5"/>'
        )
        biggest = max(n for _, _, n in pts) or 1
        for i, (p, o, n) in enumerate(pts, start=1):
            r = 3 + 4 * math.sqrt(n / biggest)
            body.append(
                f'<circle cx="{_num(x(p))}" cy="{_num(y(o))}" r="{r:.1f}" '
                f'fill="{_BLUE}" fill-opacity="0.75"><title>band {i}: predicted '
                f"{p:.3f}, observed {o:.3f}, n={n}</title></circle>"
            )
    return _svg(title, body)


def _axes(
    top: float, ticks: int, plot_w: float, plot_h: float, x_label: str, y_label: str
) -> list[str]:
    body = []
    for i in range(ticks + 1):
        v = top * i / ticks
        px = _PAD_L + plot_w * i / ticks
        py = _PAD_T + plot_h - plot_h * i / ticks
        body.append(
            f'<line x1="{_PAD_L}" y1="{_num(py)}" x2="{_num(_PAD_L + plot_w)}" '
            f'y2="{_num(py)}" stroke="#e3e5e8"/>'
        )
        body.append(
            f'<text x="{_PAD_L - 6}" y="{_num(py + 4)}" text-anchor="end" '
            f'font-size="11">{v:.2f}</text>'
        )
        body.append(
            f'<text x="{_num(px)}" y="{_num(_PAD_T + plot_h + 16)}" '
            f'text-anchor="middle" font-size="11">{v:.2f}</text>'
        )
    body.append(
        f'<text x="{_num(_PAD_L + plot_w / 2)}" y="{_H - 6}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>'
    )
    body.append(
        f'<text transform="translate(14 {_num(_PAD_T + plot_h / 2)}) rotate(-90)" '
        f'text-anchor="middle" font-size="12">{escape(y_label)}</text>'
    )
    return body


def bar_chart(
    items: Sequence[tuple[str, float | None]],
    title: str,
    *,
    lines: Sequence[tuple[float, str]] = (),
    bands: Sequence[str | None] | None = None,
    value_format: str = "{:.3f}",
    max_value: float | None = None,
) -> str:
    """Horizontal bars, one per labelled value, with optional reference lines.

    Args:
        items: ``(label, value)``; ``None`` values are drawn as "n/a".
        title: Accessible title.
        lines: ``(value, label)`` vertical reference lines (PSI 0.1 / 0.25).
        bands: Optional band per item (``stable`` / ``watch`` / ``act``)
            that colours its bar.
        value_format: How a value is printed at the end of its bar.
        max_value: Axis end (default: the largest value or line).

    Example:
        >>> "<rect" in bar_chart([("score", 0.12)], "PSI", lines=[(0.1, "watch")])
        True
    """
    label_w = 230
    row_h = 22
    height = _PAD_T + row_h * max(1, len(items)) + 30
    plot_w = _W - label_w - 60
    values = [v for _, v in items if v is not None and math.isfinite(v)]
    top = max_value or max([*values, *(v for v, _ in lines), 1e-9])
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y0 = _PAD_T + i * row_h
        short = label if len(label) <= 34 else label[:32] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y0 + 15}" text-anchor="end" '
            f'font-size="11"><title>{escape(label)}</title>{escape(short)}</text>'
        )
        if value is None or not math.isfinite(value):
            body.append(
                f'<text x="{label_w + 4}" y="{y0 + 15}" font-size="11" '
                f'fill="{_GREY}">n/a</text>'
            )
            continue
        band = bands[i] if bands is not None else None
        colour = _BAND_COLOURS.get(band or "", _BLUE)
        w = max(0.0, value) / top * plot_w
        body.append(
            f'<rect x="{label_w}" y="{y0 + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"/>'
        )
        body.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y0 + 15}" font-size="11">'
            f"{escape(value_format.format(value))}</text>"
        )
    bottom = _PAD_T + row_h * max(1, len(items))
    for value, label in lines:
        lx = label_w + value / top * plot_w
        body.append(
            f'<line x1="{lx:.1f}" y1="{_PAD_T - 6}" x2="{lx:.1f}" y2="{bottom}" '
            f'stroke="{_ORANGE}" stroke-dasharray="4 3"/>'
        )
        body.append(
            f'<text x="{lx:.1f}" y="{bottom + 14}" text-anchor="middle" '
            f'font-size="10" fill="{_ORANGE}">{escape(label)}</text>'
        )
    return _svg(title, body, height=height)
