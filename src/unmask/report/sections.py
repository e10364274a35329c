"""Battery sections: what each battery's `section()` returns, laid out for report.md and report.html.

The battery decides what to show (tables, figures, transcripts, from its report entry and the
report's contrast rows); this module only draws it, the same way for every battery.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from ..batteries import get
from ..batteries.contract import Figure, Section, Table
from .svg import anchor, bar_plot, interval_plot

TableRenderer = Callable[[Sequence[str], Sequence[Sequence[Any]], Sequence[int]], str]
STATUS_WORDS = {"ok": "ANALYSED", "empty": "NOTHING TO ANALYSE", "error": "ANALYSIS FAILED"}


def section_of(name: str, entry: Mapping[str, Any], contrasts: Sequence[Mapping[str, Any]]) -> Section:
    """The battery's own section; nothing when its analysis failed or had nothing to work on."""
    found = get(name)
    if found is None or entry.get("status") != "ok":
        return Section()
    rows = [c for c in contrasts if c["battery"] == name and not c["subset"]]
    return found.section(entry, rows)


def title_of(name: str) -> str:
    found = get(name)
    return found.title if found is not None else name


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return [*out, ""]


def markdown_sections(report: Mapping[str, Any]) -> list[str]:
    """`## Battery measures` for report.md (the same tables as the HTML, without the plots)."""
    batteries: Mapping[str, Any] = report.get("batteries") or {}
    if not batteries:
        return []
    lines = ["## Battery measures", ""]
    for name, entry in batteries.items():
        lines += [f"### {title_of(name)}", "",
                  f"**{str(entry.get('status', 'ok')).upper()}**: {entry.get('summary') or 'no summary'}", ""]
        section = section_of(name, entry, report["contrasts"])
        for table in section.tables:
            lines += [f"*{table.caption}*", "", *md_table(table.header, table.rows)]
        if section.transcripts:
            lines += ["*Example transcripts*", ""]
            for transcript in section.transcripts:
                lines.append(f"- **{transcript.title}**:")
                lines += [f"  - {label}: {_short(text)}" for label, text in transcript.parts]
            lines.append("")
    return lines


def html_sections(report: Mapping[str, Any], render_table: TableRenderer) -> str:
    """One HTML section per battery: status and summary, plots, tables, transcripts, raw numbers folded away."""
    batteries: Mapping[str, Any] = report.get("batteries") or {}
    if not batteries:
        return ""
    parts = ["<h2>Battery measures</h2>"]
    for name, entry in batteries.items():
        status = str(entry.get("status", "ok"))
        css = "tested" if status == "ok" else "untested"
        parts.append(f'<section id="battery-{anchor(name)}"><h3>{escape(title_of(name))}</h3>'
                     f'<p><span class="{css}">{escape(STATUS_WORDS.get(status, status))}</span> '
                     f"{escape(str(entry.get('summary') or 'no summary'))}</p>")
        section = section_of(name, entry, report["contrasts"])
        parts += [_figure(f) for f in section.figures]
        parts += [_html_table(t, render_table) for t in section.tables]
        if section.transcripts:
            parts.append('<p class="meta">Example transcripts</p>')
        for transcript in section.transcripts:
            body = "".join(f"<p><b>{escape(label)}</b></p><pre>{escape(text or '(empty)')}</pre>"
                           for label, text in transcript.parts)
            parts.append(f"<details><summary>{escape(transcript.title)}</summary>{body}</details>")
        raw = escape(json.dumps(entry, indent=1, ensure_ascii=False))
        parts.append(f"<details><summary>all measures (JSON)</summary><pre>{raw}</pre></details></section>")
    return "".join(parts)


def _html_table(table: Table, render_table: TableRenderer) -> str:
    return f'<p class="meta">{escape(table.caption)}</p>' + render_table(table.header, table.rows, table.numeric)


def _figure(figure: Figure) -> str:
    if figure.kind == "intervals":
        svg = interval_plot(figure.plot_id, figure.title, [tuple(r) for r in figure.rows],
                            figure.axis, highlight=figure.highlight)
    elif figure.kind == "bars":
        svg = bar_plot(figure.plot_id, figure.title, [tuple(r) for r in figure.rows],
                       figure.axis, threshold=figure.threshold)
    else:
        svg = _grid(figure)
    return f"<figure>{svg}<figcaption>{escape(figure.caption)}</figcaption></figure>"


def _grid(figure: Figure) -> str:
    """Row x column rates as a shaded table (darker = higher)."""
    columns = sorted({c for _, cells in figure.rows for c in cells})
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for name, cells in figure.rows:
        out = []
        for c in columns:
            rate = cells.get(c)
            if isinstance(rate, int | float):
                shade = f"rgba(201,42,42,{0.1 + 0.8 * rate:.2f})"
                colour = "#fff" if rate > 0.55 else "#212529"
                out.append(f'<td class="num" style="background:{shade};color:{colour}">{rate:.0%}</td>')
            else:
                out.append('<td class="num">—</td>')
        body.append(f"<tr><td>{escape(str(name))}</td>{''.join(out)}</tr>")
    return (f'<table id="{escape(figure.plot_id)}"><thead><tr><th>{escape(figure.title)}</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _short(text: Any, limit: int = 240) -> str:
    flat = " ".join(str(text or "").split())
    return (flat if len(flat) <= limit else flat[: limit - 1] + "…") or "(empty)"


REASONING_TITLES = {"af_reasoning": "Alignment-faking reasoning", "eval_awareness": "Verbalised evaluation awareness"}


def reasoning_tables(report: Mapping[str, Any]) -> list[Table]:
    """Per-condition rates of the reasoning scorers, the 2 x 2 the field reports, and the scorers' calibration."""
    out: list[Table] = []
    for name, block in (report.get("reasoning") or {}).items():
        if not block.get("measured"):
            continue
        title = REASONING_TITLES.get(name, name)
        rows = block.get("rows") or []
        out.append(Table(
            f"{title}: rate per condition (Wilson 95%); {block['positives']} of {block['n']} samples overall",
            ("battery / items", "axis", "level", "samples", "with reasoning", "positives", "rate", "interval",
             "complied & yes", "complied & no", "refused & yes", "refused & no"),
            [(f"{r['battery']} / {r['item_kind']}", r["axis"], r["level"], r["n"], r["with_reasoning"], r["positives"],
              _pct(r["rate"]), _interval(r["ci"]), *(r["two_by_two"][k] for k in ("complied_yes", "complied_no",
                                                                                   "refused_yes", "refused_no")))
             for r in rows], (3, 4, 5, 6, 8, 9, 10, 11)))
        if block.get("parts"):
            out.append(Table(f"{title}: what the positives said", ("part", "positives", "share"),
                             [(k, v["n"], _pct(v["share"])) for k, v in block["parts"].items()], (1, 2)))
    calibrated = report.get("calibration") or []
    if calibrated:
        out.append(Table(
            "Scorers and their calibration (agreement with people on a labelled set; `unmask calibrate`)",
            ("task", "scorer", "method", "status", "labelled set", "n", "agreement", "binary", "AUROC"),
            [(c["task"], c["scorer"], c["method"], c["status"], _set(cal := c.get("calibration") or {}),
              cal.get("n", "—"), _fig(cal.get("agreement")), _fig(cal.get("binary_agreement")), _fig(cal.get("auroc")))
             for c in calibrated], (5,)))
    return out


def _pct(x: Any) -> str:
    return f"{x * 100:.1f}%" if isinstance(x, int | float) else "n/a"


def _interval(pair: Any) -> str:
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, int | float) for v in pair):
        return "n/a"
    return f"[{pair[0] * 100:.1f}%, {pair[1] * 100:.1f}%]"


def _fig(value: Any) -> str:
    if not isinstance(value, Mapping):
        return "—"
    ci = value.get("ci") or [None, None]
    return f"{value['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else f"{value['value']:.3f}"


def _set(calibration: Any) -> str:
    if not isinstance(calibration, Mapping):
        return "—"
    labelled = calibration.get("labelled_set") or {}
    return f"{labelled.get('path')} [{labelled.get('split') or 'all'}] {str(labelled.get('sha256'))[:12]}"
