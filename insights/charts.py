"""Server-rendered SVG charts: bars (stacked or side by side) over categories.

No script and no library: the markup is built here and escaped here. Each chart is an image
with a title for screen readers (`role="img"`); the numbers themselves are in the data table
printed beside it, which is the accessible form of the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Distinguishable in greyscale and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#666666")

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 52


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _label(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    stacked: bool = False,
) -> SafeString:
    """Vertical bars, one group (or stack) per category, one colour per series."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    count = max(len(categories), 1)
    if stacked:
        peak = max((sum(s[1][i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for _, values in series for v in values), default=0)
    top = _nice_max(max(float(peak), 4.0))  # small counts keep whole-number ticks
    slot = plot_w / count
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dde2e8" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#616e7c">{_label(value)}</text>'
        )
    bars = max(len(series), 1)
    label_every = max(1, math.ceil(count / 16))
    for i, category in enumerate(categories):
        x0 = LEFT + slot * i
        base = float(TOP + plot_h)
        for j, (name, values) in enumerate(series):
            value = float(values[i])
            h = plot_h * value / top
            group = min(slot * 0.76, 56.0 * (1 if stacked else bars))
            left = x0 + (slot - group) / 2
            if stacked:
                x, w, y = left, group, base - h
                base = y
            else:
                w = group / bars
                x, y = left + w * j, TOP + plot_h - h
            if h > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 1):.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(category)} · '
                    f"{escape(name)}: {value:g}</title></rect>"
                )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x0 + slot / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="#616e7c">{escape(_short(category))}</text>'
            )
    x = LEFT
    for j, (name, _values) in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 9}" font-size="11" fill="#1f2933">'
            f"{escape(name)}</text>"
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


def _short(category: str) -> str:
    # Dates as MM-DD under the bars; other labels cut to fit.
    if len(category) == 10 and category[4] == "-" and category[7] == "-":
        return category[5:]
    return category if len(category) <= 14 else category[:13] + "…"
