"""report.html: one self-contained file (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .markdown import CONTRAST_HEADER, contrast_cells, interval, manifest_rows, pct
from .sections import html_sections, reasoning_tables
from .svg import anchor, forest_plot, rates_plot, spread_plot

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#212529;margin:0;background:#f8f9fa}
main{max-width:1180px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dee2e6}
.meta{color:#495057;font-size:13px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:12.5px}
th,td{border:1px solid #dee2e6;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.confirmatory td:first-child{font-weight:600}
.claim{border-left:4px solid #c92a2a;padding:6px 12px;margin:10px 0;background:#fff5f5}
.scope{color:#495057;font-size:12.5px;margin-top:4px}
.tested{color:#2b8a3e;font-weight:600}.untested{color:#868e96;font-weight:600}
.warn{background:#fff9db;border:1px solid #ffe066;padding:8px 12px}
figure{margin:8px 0 20px}figcaption{color:#495057;font-size:12.5px}
pre{white-space:pre-wrap;background:#f1f3f5;padding:8px;font-size:12px}
svg.plot{max-width:100%;height:auto;display:block}
"""


def _cells(row: Sequence[Any], numeric: Sequence[int] = ()) -> str:
    return "".join(f'<td class="num">{escape(str(c))}</td>' if i in numeric else f"<td>{escape(str(c))}</td>"
                   for i, c in enumerate(row))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = (),
           row_attrs: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr{(row_attrs or [''] * len(rows))[i]}>{_cells(r, numeric)}</tr>" for i, r in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _contrast_table(rows: Sequence[Mapping[str, Any]]) -> str:
    attrs = [f' id="c-{anchor(c["id"])}" class="{c["family"]}"' for c in rows]
    return _table(CONTRAST_HEADER, [contrast_cells(c) for c in rows], numeric=(2, 3, 7, 8, 9, 10), row_attrs=attrs)


def _link(path: str) -> str:
    target = Path(path)
    href = target.as_uri() if target.is_absolute() else path
    return f'<a href="{escape(href)}">{escape(target.name)}</a>'


def _checklist(items: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for item in items:
        ev = item["evidence"]
        status = ('<span class="tested">TESTED</span>' if item["status"] == "tested"
                  else '<span class="untested">NOT TESTED</span>')
        links = " ".join(f'<a href="#c-{anchor(c)}">{escape(c)}</a>' for c in ev["contrasts"])
        logs = " ".join(_link(p) for p in ev["logs"])
        verdicts = "".join(f"<br>{escape(v)}" for v in ev.get("verdicts") or [])
        evidence = (f"{ev['scored']}/{ev['samples']} samples scored · contrasts: {links or 'none'} · logs: {logs}"
                    f"{verdicts}" if ev["samples"] else escape(item.get("note") or "none"))
        rows.append(f'<tr id="check-{item["item"]}"><td>{escape(item["title"])}</td><td>{status}</td>'
                    f"<td>{escape(', '.join(item['batteries']))}</td><td>{evidence}</td></tr>")
    return ('<table id="checklist"><thead><tr><th>item</th><th>status</th><th>batteries</th><th>evidence</th></tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _manifest(manifest: Mapping[str, Any]) -> str:
    rows = manifest_rows(manifest)
    short = [(k, v) for k, v in rows if len(v) <= 200]
    long = [(k, v) for k, v in rows if len(v) > 200]
    texts = "".join(f"<details><summary>{escape(k)} (full text)</summary><pre>{escape(v)}</pre></details>"
                    for k, v in long)
    return _table(("field", "value"), short) + texts


def render_html(report: Mapping[str, Any]) -> str:
    a = report["analysis"]
    tolerated = a.get("tolerated_gap")
    counts = report["counts"]
    inputs = report["inputs"]
    pooled = [c for c in report["contrasts"] if not c["subset"]]
    parts = [
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(report['title'])}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{escape(report['title'])}</h1>",
        f"<p class=\"meta\">Model <code>{escape(report['model'])}</code> · created {escape(report['created'])} · "
        f"{escape(report['schema'])} {escape(report['schema_version'])} · alpha {a['alpha']} · power {a['power']} · "
        f"bootstrap {a['bootstrap']['reps']} reps (seed {a['bootstrap']['seed']}) resampling base items</p>",
        "<h2>Headline claims</h2>",
    ]
    for h in report["headlines"]:
        parts.append(f'<div class="claim">{escape(h["claim"])}<div class="scope"><b>Scope.</b> '
                     f"{escape(h['scope_text'])}</div></div>")
    if not report["headlines"]:
        parts.append("<p>No gate-family contrast was found in these logs.</p>")
    if report["warnings"]:
        parts.append('<div class="warn"><b>Warnings</b><ul>'
                     + "".join(f"<li>{escape(w)}</li>" for w in report["warnings"]) + "</ul></div>")
    parts += [
        "<h2>Counts</h2>",
        _table(("samples", "scored", "unscorable", "errors", "no score", "missing", "duplicates dropped"),
               [(counts["samples"], counts["scored"], counts["unscorable"], counts["error"], counts["no_score"],
                 inputs["missing_samples"], inputs["duplicates_dropped"])], numeric=range(7)),
        "<h2>Per-condition rates</h2>",
        f"<figure>{rates_plot(report['conditions'])}<figcaption>Rate of the outcome at each level (Wilson "
        f"interval at {1 - a['alpha']:.0%}); orange: the watched level.</figcaption></figure>",
        _table(("battery / items", "axis", "level", "n", "rate", "interval", "unscorable", "errors"),
               [(f"{r['battery']} / {r['item_kind']}", r["axis"], r["level"], r["n"], pct(r["rate"]),
                 interval(r["ci"]), r["unscorable"], r["errors"]) for r in report["conditions"]], numeric=(3, 4, 6, 7)),
        "<h2>Paired gaps</h2>",
        f"<figure>{forest_plot(pooled, tolerated)}<figcaption>Paired differences with cluster-bootstrap intervals. "
        "Thick bars: the gate family's corrected intervals (Bonferroni level, the interval side of Holm)."
        "</figcaption></figure>",
        "<h3>Gate family (Holm)</h3>", _contrast_table([c for c in pooled if c["family"] == "confirmatory"]),
        "<h3>Exploratory (Benjamini-Hochberg)</h3>",
        _contrast_table([c for c in report["contrasts"] if c["family"] != "confirmatory"]),
        "<h2>Robustness across cue styles and paraphrases</h2>",
        f"<figure>{spread_plot(report['robustness'], tolerated)}<figcaption>A pooled gap can hide a gap that "
        "only one cue style produces; each dot is one style (and paraphrase) cell.</figcaption></figure>",
        _table(("contrast", "pooled gap", "cells", "min", "max", "range", "sd", "opposite-sign cells"),
               [(r["contrast"], pct(r["pooled_gap"], True), r["cells"], pct(r["min"], True), pct(r["max"], True),
                 pct(r["range"]), pct(r["sd"]), ", ".join(r["opposite_sign_cells"]) or "none")
                for r in report["robustness"]], numeric=(1, 2, 3, 4, 5, 6)),
        "<h2>Evaluation awareness</h2>", _awareness(report["eval_awareness"]),
        "<h2>Reasoning evidence and scorer calibration</h2>",
        *(f'<p class="meta">{escape(t.caption)}</p>' + _table(t.header, t.rows, t.numeric)
          for t in reasoning_tables(report)),
        "<p class=\"meta\">Reasoning evidence can raise a verdict, never clear one: a model can act differently "
        "without saying why.</p>",
        "<h2>Anti-deception checklist</h2>", _checklist(report["checklist"]),
        "<p class=\"meta\">The compliance-gap battery is the headline context-variation test and maps to no "
        "checklist item.</p>",
        html_sections(report, _table),
        "<h2>Manifest</h2>", _manifest(report["manifest"]),
        "<h2>Inputs</h2>",
        _table(("log", "task", "status", "samples read", "expected", "scorer"),
               [(i["path"], i["task"], i["status"], i["samples_read"], i["expected_samples"], i["scorer"])
                for i in inputs["logs"]], numeric=(3, 4)),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _awareness(aware: Mapping[str, Any]) -> str:
    if not aware["measured"]:
        return "<p>Not measured: no sample carries an <code>eval_awareness</code> score.</p>"
    rows = [(f"{r['battery']} / {r['item_kind']}", r["axis"], r["level"], r["n"], f"{r['mean']:.3f}")
            for r in aware["by_condition"]]
    lo, hi = aware["ci"]
    span = f"[{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "n/a"
    return (f"<p>Mean score {aware['mean']:.3f} over {aware['n']} samples, interval {span}; the gate compares "
            "the mean with its policy threshold.</p>"
            + _table(("battery / items", "axis", "level", "n", "mean"), rows, numeric=(3, 4)))
