"""Line charts as SVG, drawn on the server: no script, no third-party library, no CDN.

Only numbers and ISO dates reach the markup, and both are escaped anyway.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 560, 180, 36


def line_chart(title: str, points: list[tuple[str, float | None]]) -> str:
    """A 0..100 % chart of `points` (label, fraction or None); gaps where a value is None."""
    usable = [(i, v) for i, (_, v) in enumerate(points) if v is not None]
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for share in (0.0, 0.5, 1.0):
        y = PAD + inner_h * (1 - share)
        parts.append(
            f'<line class="grid" x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{share:.0%}</text>"
        )
    if not usable:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "no snapshot in this window yet</text></svg>"
        )
        return "".join(parts)
    step = inner_w / max(1, len(points) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return PAD + step * i, PAD + inner_h * (1 - max(0.0, min(1.0, v)))

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in usable))
    parts.append(f'<polyline class="line" points="{path}"/>')
    for i, v in usable:
        x, y = xy(i, v)
        label = escape(f"{points[i][0]}: {v:.1%}")
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{label}</title></circle>'
        )
    first, last = points[0][0], points[-1][0]
    parts.append(
        f'<text class="axis" x="{PAD}" y="{HEIGHT - 8}">{escape(first[:10])}</text>'
        f'<text class="axis" x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{escape(last[:10])}</text></svg>"
    )
    return "".join(parts)


def report_charts(series: list[dict[str, Any]], figures: list[tuple[str, str]]) -> dict[str, str]:
    """One chart per headline figure (`(key, label)`), over the snapshot series."""
    return {
        key: line_chart(label, [(str(p["taken_at"]), p.get(key)) for p in series])
        for key, label in figures
    }
