"""The alerts page's chart: distinct subjects and data categories over time for one tenant, as
inline SVG drawn on the server (no script, no external assets).

Read from the monitor's own per-tenant state: every tracked subject (a keyed hash, never an
identifier) with the data categories joined about it and when it was last seen. The curves are
cumulative: how many distinct subjects, and how many distinct categories across them, had been
touched by each point in time; alerts are marked where they were raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 36
SUBJECTS_COLOR = "#1f5fa8"
CATEGORIES_COLOR = "#b34700"
ALERT_COLOR = "#b00020"


@dataclass(frozen=True)
class Series:
    """Points (time, distinct subjects, distinct categories), oldest first, and the category names."""

    points: list[tuple[float, int, int]]
    categories: list[str]


def series(state: Mapping[str, Any] | None, category_names: Sequence[str]) -> Series:
    """The cumulative curves from a monitor tenant state (`TenantState.to_state()`)."""
    subjects = sorted(((float(t), int(mask)) for _key, mask, t in (state or {}).get("subjects", [])), key=lambda s: s[0])
    points: list[tuple[float, int, int]] = []
    union = 0
    for i, (ts, mask) in enumerate(subjects):
        union |= mask
        point = (ts, i + 1, union.bit_count())
        if points and points[-1][0] == ts:
            points[-1] = point
        else:
            points.append(point)
    names = [name for bit, name in enumerate(category_names) if union >> bit & 1]
    return Series(points, names)


def _hhmm(ts: float, span: float = 86_400.0) -> str:
    """A time label: to the second when the whole chart spans less than an hour."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S" if span < 3600 else "%m-%d %H:%M")


def render(data: Series, alerts: Sequence[tuple[float, str]], title: str) -> Markup:
    """An accessible SVG (role img, title and description, a text table follows in the page)."""
    if not data.points:
        return Markup('<p class="muted">No surveillance-type activity counted for this tenant yet.</p>')
    t0 = min([data.points[0][0], *(t for t, _ in alerts)])
    t1 = max([data.points[-1][0], *(t for t, _ in alerts)])
    span = max(t1 - t0, 1.0)
    top = max(max(p[1] for p in data.points), max(p[2] for p in data.points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - t0) / span * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    def path(values: list[tuple[float, int]]) -> str:
        out, last = [], None
        for t, v in values:
            if last is not None:
                out.append(f"L{x(t):.1f},{y(last):.1f}")  # a step: the count holds until the next subject
            out.append(f"{'M' if last is None else 'L'}{x(t):.1f},{y(v):.1f}")
            last = v
        out.append(f"L{x(t1):.1f},{y(last or 0):.1f}")
        return " ".join(out)

    subjects = path([(t, s) for t, s, _ in data.points])
    categories = path([(t, c) for t, _, c in data.points])
    last = data.points[-1]
    desc = f"{last[1]} distinct subjects and {last[2]} data categories between {_hhmm(t0)} and {_hhmm(t1)} UTC; {len(alerts)} alert(s)."
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#555"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#555"/>',
    ]
    for v in sorted({0, top // 2, top}):
        parts.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" stroke="#ddd"/>')
    for t in (t0, t0 + span / 2, t1):
        parts.append(f'<text x="{x(t):.1f}" y="{HEIGHT - 14}" text-anchor="middle" font-size="11">{_hhmm(t, span)} UTC</text>')
    for t, rule in alerts:
        parts.append(
            f'<line x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{TOP + plot_h}" stroke="{ALERT_COLOR}" stroke-dasharray="4 3">'
            f"<title>alert {escape(rule)} at {_hhmm(t)} UTC</title></line>"
        )
    parts.append(f'<path d="{subjects}" fill="none" stroke="{SUBJECTS_COLOR}" stroke-width="2.5"/>')
    parts.append(f'<path d="{categories}" fill="none" stroke="{CATEGORIES_COLOR}" stroke-width="2.5" stroke-dasharray="7 3"/>')
    lx = LEFT + plot_w + 12
    legend = [
        (SUBJECTS_COLOR, "", f"subjects ({last[1]})"),
        (CATEGORIES_COLOR, ' stroke-dasharray="7 3"', f"categories ({last[2]})"),
        (ALERT_COLOR, ' stroke-dasharray="4 3"', "alert raised"),
    ]
    for i, (color, dash, label) in enumerate(legend):
        ly = TOP + 14 + i * 20
        parts.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="2.5"{dash}/>')
        parts.append(f'<text x="{lx + 28}" y="{ly + 4}" font-size="12">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
