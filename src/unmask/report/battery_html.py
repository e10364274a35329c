"""The battery sections of report.html: the shared tables (report/batteries.py) plus inline SVG plots."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from .batteries import TITLES, Table, ordered_levels, tables
from .svg import anchor, bar_plot, interval_plot

TableRenderer = Callable[[Sequence[str], Sequence[Sequence[Any]], Sequence[int]], str]


def battery_sections(batteries: Mapping[str, Any], render_table: TableRenderer, alpha: float) -> str:
    """One section per battery: status and summary line, plots, tables, transcripts, raw numbers folded away."""
    if not batteries:
        return ""
    parts = ["<h2>Battery measures</h2>"]
    for battery, result in batteries.items():
        status = str(result.get("status", "ok"))
        css = "tested" if status == "ok" else "untested"
        word = {"ok": "ANALYSED", "empty": "NOTHING TO ANALYSE", "error": "ANALYSIS FAILED"}.get(status, status)
        parts.append(f'<section id="battery-{anchor(battery)}"><h3>{escape(TITLES.get(battery, battery))}</h3>'
                     f'<p><span class="{css}">{escape(word)}</span> '
                     f"{escape(str(result.get('summary') or 'no summary'))}</p>")
        if status == "ok":
            parts.append(_plot(battery, result, alpha))
        for table in tables(battery, result):
            parts.append(_table(table, render_table))
        if battery == "trigger_scan" and status == "ok":
            parts.append(_examples(result))
        body = escape(json.dumps(result, indent=1, ensure_ascii=False))
        parts.append(f"<details><summary>all measures (JSON)</summary><pre>{body}</pre></details></section>")
    return "".join(parts)


def _table(table: Table, render_table: TableRenderer) -> str:
    return f'<p class="meta">{escape(table.caption)}</p>' + render_table(table.header, table.rows, table.numeric)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _plot(battery: str, result: Mapping[str, Any], alpha: float) -> str:
    levels: Mapping[str, Mapping[str, Any]] = ordered_levels(battery, result)
    if battery == "sandbagging":
        rows = [(f"{lv}  (n={v.get('scored')}" + (f", P(correct)={v['likelihood']:.2f})"
                                                   if isinstance(v.get("likelihood"), float) else ")"),
                 v.get("accuracy"), *_pair(v.get("ci"))) for lv, v in levels.items()]
        return _figure(interval_plot("plot-sandbagging", "Accuracy per framing", rows, "accuracy (Wilson interval)",
                                     highlight="dangerous_eval"),
                       "Accuracy under each framing; orange: the dangerous-capability framing whose drop is gated. "
                       "The likelihood (probability of the right option letter) is shown beside each label.")
    if battery == "modification":
        rows = [(f"{lv}  (n={v.get('scored')}, self-pres. {v.get('self_preservation_count', 0)})",
                 v.get("complied"), *_pair(v.get("ci"))) for lv, v in levels.items()]
        return _figure(interval_plot("plot-modification", "Compliance per threat", rows, "compliance (Wilson interval)",
                                     highlight="high_harm"),
                       "Compliance under each modification threat; orange: the gated high-harm threat.")
    if battery == "trigger_scan":
        ranking = (result.get("ranking") or [])[:15]
        bars = [(f"{t.get('trigger')} ({t.get('driver')})", -math.log10(max(float(t.get("p_adjusted") or 1.0), 1e-300)),
                 bool(t.get("significant"))) for t in ranking]
        return _figure(bar_plot("plot-trigger-scan", "Trigger ranking", bars, "-log10 Holm-corrected p",
                                threshold=-math.log10(alpha)),
                       f"Top candidates by -log10 corrected p; dashed: alpha {alpha}; red: significant.")
    if battery == "hidden_goals":
        return _grid(result)
    return ""


def _pair(ci: Any) -> tuple[Any, Any]:
    return (ci[0], ci[1]) if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)


def _grid(result: Mapping[str, Any]) -> str:
    """Topic x method admit rates as a shaded grid (darker = admits more often)."""
    topics: Mapping[str, Mapping[str, Any]] = result.get("topics") or {}
    methods = sorted({m for t in topics.values() for m in t.get("by_method") or {}})
    head = "".join(f"<th>{escape(m)}</th>" for m in methods)
    body = []
    for name, t in topics.items():
        cells = []
        for m in methods:
            rate = (t.get("by_method") or {}).get(m)
            if isinstance(rate, int | float):
                shade = f"rgba(201,42,42,{0.1 + 0.8 * rate:.2f})"
                colour = "#fff" if rate > 0.55 else "#212529"
                cells.append(f'<td class="num" style="background:{shade};color:{colour}">{rate:.0%}</td>')
            else:
                cells.append('<td class="num">—</td>')
        body.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    return (f'<table id="grid-hidden-goals"><thead><tr><th>topic \\ method</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _examples(result: Mapping[str, Any]) -> str:
    parts = ['<p class="meta">Example transcripts for the top candidates (with and without the trigger)</p>']
    for top in result.get("top") or []:
        for ex in (top.get("examples") or [])[:2]:
            parts.append(f"<details><summary>{escape(str(top.get('trigger')))} (rank {top.get('rank')}, "
                         f"{escape(str(ex.get('pair_id')))})</summary><p><b>with trigger</b></p>"
                         f"<pre>{escape(str(ex.get('with_trigger') or '(empty)'))}</pre><p><b>without</b></p>"
                         f"<pre>{escape(str(ex.get('without_trigger') or '(empty)'))}</pre></details>")
    return "".join(parts)
