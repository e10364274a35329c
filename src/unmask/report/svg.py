"""Inline SVG plots drawn by hand, so report.html needs no script, no CDN and no network."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

WATCHED = "#d9480f"
UNWATCHED = "#1c7ed6"
CONFIRMATORY = "#c92a2a"
EXPLORATORY = "#495057"
GRID = "#dee2e6"
PALETTE = ("#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0ca678", "#5f3dc4", "#d6336c")

ROW = 22
LABEL_W = 300
PLOT_W = 440
PAD = 16


@dataclass(frozen=True)
class Scale:
    """Maps data values onto the horizontal pixel range of a plot."""

    lo: float
    hi: float
    x0: float
    x1: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.x0 + (min(max(value, self.lo), self.hi) - self.lo) / span * (self.x1 - self.x0)


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _svg(plot_id: str, title: str, height: float, body: list[str]) -> str:
    width = LABEL_W + PLOT_W + 2 * PAD
    return (f'<svg class="plot" id="{plot_id}" role="img" xmlns="http://www.w3.org/2000/svg" '
            f'width="{width}" height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" '
            f'font-family="system-ui, sans-serif" font-size="12"><title>{escape(title)}</title>'
            + "".join(body) + "</svg>")


def _axis(scale: Scale, top: float, bottom: float, ticks: Sequence[float], fmt: str) -> list[str]:
    out = []
    for t in ticks:
        x = scale(t)
        out.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 14:.1f}" text-anchor="middle" fill="#495057">'
                   f"{format(t, fmt)}</text>")
    return out


def _label(y: float, text: str, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (f'<text x="{LABEL_W - 8}" y="{y + 4:.1f}" text-anchor="end"{weight}>'
            f"{escape(text[:48])}</text>")


def _whisker(scale: Scale, y: float, lo: float, hi: float, colour: str, width: float) -> str:
    return (f'<line x1="{scale(lo):.1f}" y1="{y:.1f}" x2="{scale(hi):.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linecap="round"/>')


def _dot(scale: Scale, y: float, value: float, colour: str, r: float = 4.5, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<circle cx="{scale(value):.1f}" cy="{y:.1f}" r="{r}" fill="{colour}">{tip}</circle>'


def rates_plot(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per-condition outcome rates with their intervals, grouped by battery and item kind."""
    body: list[str] = []
    scale = Scale(0.0, 1.0, LABEL_W + PAD, LABEL_W + PLOT_W)
    y = PAD
    group = None
    plotted: list[tuple[float, Mapping[str, Any]]] = []
    for row in rows:
        key = f"{row['battery']} / {row['item_kind']}"
        if key != group:
            group = key
            y += ROW
            body.append(_label(y, key, bold=True))
        y += ROW
        plotted.append((y, row))
    height = y + 2 * ROW + PAD
    body[:0] = _axis(scale, PAD + ROW, y + ROW / 2, [0, 0.25, 0.5, 0.75, 1.0], ".0%")
    first_levels = {(r["battery"], r["item_kind"], r["axis"]): r["level"] for r in reversed(rows)}
    for y_row, row in plotted:
        watched = first_levels[(row["battery"], row["item_kind"], row["axis"])] == row["level"]
        colour = WATCHED if watched else UNWATCHED
        body.append(_label(y_row, f"{row['axis']} = {row['level']}  (n={row['n']})"))
        lo, hi = row["ci"]
        if _finite(lo, hi):
            body.append(_whisker(scale, y_row, lo, hi, colour, 2))
        if _finite(row["rate"]):
            body.append(_dot(scale, y_row, row["rate"], colour,
                             title=f"{row['rate']:.1%} [{lo:.1%}, {hi:.1%}]" if _finite(lo, hi) else ""))
    body.append(f'<text x="{LABEL_W + PAD}" y="{height - 6:.0f}" fill="#495057">rate of the outcome, '
                "with interval (dot: estimate)</text>")
    return _svg("plot-rates", "Per-condition rates with intervals", height, body)


def _gap_scale(values: Sequence[float], tolerated: float | None) -> Scale:
    finite = [abs(v) for v in values if _finite(v)]
    if tolerated:
        finite.append(tolerated * 1.5)
    reach = max([*finite, 0.05])
    reach = min(2.0, math.ceil(reach * 20) / 20)
    return Scale(-reach, reach, LABEL_W + PAD, LABEL_W + PLOT_W)


def _ticks(scale: Scale) -> list[float]:
    step = max(0.05, round(scale.hi / 2, 2))
    return [round(k * step, 4) for k in range(-int(scale.hi / step), int(scale.hi / step) + 1)]


def _tolerance(scale: Scale, tolerated: float | None, top: float, bottom: float) -> list[str]:
    if not tolerated:
        return []
    out = []
    for t in (-tolerated, tolerated):
        out.append(f'<line x1="{scale(t):.1f}" y1="{top:.1f}" x2="{scale(t):.1f}" y2="{bottom:.1f}" '
                   'stroke="#f59f00" stroke-dasharray="5 4" stroke-width="1.5"/>')
    return out


def forest_plot(rows: Sequence[Mapping[str, Any]], tolerated: float | None) -> str:
    """Paired gaps with intervals: thin = 1 - alpha, thick = family-corrected (gate family)."""
    pooled = [r for r in rows if not r["subset"]]
    values = [v for r in pooled for v in (*r["ci"], *r["corrected_ci"], r["gap"]) if v is not None]
    scale = _gap_scale(values, tolerated)
    top = PAD + ROW / 2
    bottom = top + ROW * (len(pooled) + 1)
    body = _axis(scale, top, bottom, _ticks(scale), "+.0%")
    body += _tolerance(scale, tolerated, top, bottom)
    body.append(f'<line x1="{scale(0):.1f}" y1="{top:.1f}" x2="{scale(0):.1f}" y2="{bottom:.1f}" stroke="#212529"/>')
    for i, row in enumerate(pooled):
        y = top + ROW * (i + 1)
        colour = CONFIRMATORY if row["family"] == "confirmatory" else EXPLORATORY
        body.append(f'<a href="#c-{anchor(row["id"])}">{_label(y, row["id"], row["family"] == "confirmatory")}</a>')
        lo, hi = row["ci"]
        if _finite(lo, hi):
            body.append(_whisker(scale, y, lo, hi, colour, 1.5))
        clo, chi = row["corrected_ci"]
        if row["family"] == "confirmatory" and _finite(clo, chi):
            body.append(_whisker(scale, y, clo, chi, colour, 5))
        if _finite(row["gap"]):
            body.append(_dot(scale, y, row["gap"], colour, title=f"{row['label']}: {row['gap']:+.1%}"))
    height = bottom + 3 * ROW
    legend = ["gap = first level − second; thin: interval at 1 − alpha",
              "red: gate family, thick = corrected interval" + ("; dashed: ± tolerated gap" if tolerated else "")]
    for i, text in enumerate(legend):
        body.append(f'<text x="{LABEL_W + PAD}" y="{height - 24 + 16 * i:.0f}" fill="#495057">{escape(text)}</text>')
    return _svg("plot-forest", "Forest plot of paired gaps", height, body)


def spread_plot(robustness: Sequence[Mapping[str, Any]], tolerated: float | None) -> str:
    """Each pooled gap (bar) with the gap in every cue-style / paraphrase cell (dots, coloured by style)."""
    cells_of = [(r, r["by_style_paraphrase"] or r["by_style"]) for r in robustness]
    values = [c["gap"] for _, cells in cells_of for c in cells if c["gap"] is not None]
    values += [r["pooled_gap"] for r in robustness if r["pooled_gap"] is not None]
    scale = _gap_scale(values, tolerated)
    styles = sorted({str(c.get("style")) for _, cells in cells_of for c in cells})
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(styles)}
    top = PAD + ROW / 2
    bottom = top + ROW * (len(robustness) + 1)
    body = _axis(scale, top, bottom, _ticks(scale), "+.0%")
    body += _tolerance(scale, tolerated, top, bottom)
    body.append(f'<line x1="{scale(0):.1f}" y1="{top:.1f}" x2="{scale(0):.1f}" y2="{bottom:.1f}" stroke="#212529"/>')
    for i, (row, cells) in enumerate(cells_of):
        y = top + ROW * (i + 1)
        body.append(_label(y, row["contrast"]))
        if _finite(row["pooled_gap"]):
            x = scale(row["pooled_gap"])
            body.append(f'<line x1="{x:.1f}" y1="{y - 8:.1f}" x2="{x:.1f}" y2="{y + 8:.1f}" stroke="#212529" '
                        'stroke-width="3"/>')
        for j, cell in enumerate(cells):
            if _finite(cell["gap"]):
                jitter = ((j % 5) - 2) * 2.0
                tag = ", ".join(f"{k}={cell[k]}" for k in ("style", "paraphrase") if k in cell)
                body.append(_dot(scale, y + jitter, cell["gap"], colours[str(cell.get("style"))], r=3.5,
                                 title=f"{tag}: {cell['gap']:+.1%} (n={cell['n_pairs']})"))
    height = bottom + 2 * ROW + PAD
    x = LABEL_W + PAD
    for s in styles:
        body.append(f'<circle cx="{x + 4}" cy="{height - 24:.0f}" r="4" fill="{colours[s]}"/>'
                    f'<text x="{x + 12}" y="{height - 20:.0f}">{escape(s)}</text>')
        x += 16 + 7 * len(s) + 12
    body.append(f'<text x="{LABEL_W + PAD}" y="{height - 4:.0f}" fill="#495057">bar: pooled gap; dots: one per '
                "cue style (and paraphrase)</text>")
    return _svg("plot-spread", "Robustness: gap by cue style and paraphrase", height, body)


def anchor(text: str) -> str:
    """A stable, HTML-safe anchor for a contrast or checklist id."""
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def interval_plot(plot_id: str, title: str, rows: Sequence[tuple[str, Any, Any, Any]], caption: str,
                  highlight: str | None = None) -> str:
    """Rates on [0, 1] with intervals, one row per level: (label, rate, low, high); `highlight` in orange."""
    scale = Scale(0.0, 1.0, LABEL_W + PAD, LABEL_W + PLOT_W)
    top = PAD + ROW / 2
    bottom = top + ROW * (len(rows) + 1)
    body = _axis(scale, top, bottom, [0, 0.25, 0.5, 0.75, 1.0], ".0%")
    for i, (label, rate, lo, hi) in enumerate(rows):
        y = top + ROW * (i + 1)
        marked = label.split("  ")[0].split(" / ")[0] == highlight
        colour = WATCHED if marked else UNWATCHED
        body.append(_label(y, label, bold=marked))
        if _finite(lo, hi):
            body.append(_whisker(scale, y, lo, hi, colour, 2))
        if _finite(rate):
            body.append(_dot(scale, y, rate, colour, title=f"{label}: {rate:.1%}"))
    height = bottom + 2 * ROW + PAD
    body.append(f'<text x="{LABEL_W + PAD}" y="{height - 6:.0f}" fill="#495057">{escape(caption)}</text>')
    return _svg(plot_id, title, height, body)


def bar_plot(plot_id: str, title: str, rows: Sequence[tuple[str, float, bool]], caption: str,
             threshold: float | None = None) -> str:
    """Horizontal bars from zero, one per row: (label, value >= 0, flagged); flagged bars in red."""
    reach = max([*(v for _, v, _ in rows if _finite(v)), threshold or 0.0, 1.0])
    scale = Scale(0.0, math.ceil(reach), LABEL_W + PAD, LABEL_W + PLOT_W)
    top = PAD + ROW / 2
    bottom = top + ROW * (len(rows) + 1)
    step = max(1, math.ceil(reach) // 5)
    body = _axis(scale, top, bottom, list(range(0, math.ceil(reach) + 1, step)), "d")
    if threshold is not None:
        x = scale(threshold)
        body.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#f59f00" '
                    'stroke-dasharray="5 4" stroke-width="1.5"/>')
    for i, (label, value, flagged) in enumerate(rows):
        y = top + ROW * (i + 1)
        body.append(_label(y, label, bold=flagged))
        if _finite(value):
            colour = CONFIRMATORY if flagged else UNWATCHED
            body.append(f'<rect x="{scale(0):.1f}" y="{y - 6:.1f}" width="{scale(value) - scale(0):.1f}" height="12" '
                        f'fill="{colour}"><title>{escape(label)}: {value:.2f}</title></rect>')
    height = bottom + 2 * ROW + PAD
    body.append(f'<text x="{LABEL_W + PAD}" y="{height - 6:.0f}" fill="#495057">{escape(caption)}</text>')
    return _svg(plot_id, title, height, body)
