"""report.md: the same content as report.html, as tables a reviewer can diff and paste."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .sections import markdown_sections, md_table, reasoning_tables


def pct(value: Any, signed: bool = False) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}%"


def interval(pair: Sequence[Any], signed: bool = False) -> str:
    lo, hi = pair
    return "n/a" if lo is None or hi is None else f"[{pct(lo, signed)}, {pct(hi, signed)}]"


def pval(value: Any) -> str:
    return "n/a" if not isinstance(value, int | float) else (f"{value:.2g}" if value < 0.001 else f"{value:.3f}")


_table = md_table


CONTRAST_HEADER = ("contrast", "levels", "pairs (items)", "gap (pts)", "interval", "corrected interval", "test",
                   "p", "adj. p", "MDE (pts)", "unpaired")


def contrast_cells(c: Mapping[str, Any]) -> list[Any]:
    corrected = interval(c["corrected_ci"], True) if c["family"] == "confirmatory" else "—"
    return [c["id"], c["label"], f"{c['n_pairs']} ({c['n_clusters']})", pct(c["gap"], True),
            interval(c["ci"], True), corrected, c["test"], pval(c["p"]), f"{pval(c['p_adjusted'])} ({c['adjustment']})",
            pct(c["mde"], True).lstrip("+"), c.get("unpaired", 0)]


def render_markdown(report: Mapping[str, Any]) -> str:
    a = report["analysis"]
    counts = report["counts"]
    inputs = report["inputs"]
    lines = [f"# {report['title']}", "",
             f"Model `{report['model']}` · created {report['created']} · schema {report['schema']} "
             f"{report['schema_version']} · alpha {a['alpha']} · power {a['power']} · bootstrap "
             f"{a['bootstrap']['reps']} reps, seed {a['bootstrap']['seed']}", ""]
    access = report.get("access") or {}
    if access:
        lines += [f"Access: **{access.get('level') or 'not recorded'}**"
                  + (f" (declared by {', '.join(access['runners'])})" if access.get("runners") else "")
                  + f": supports {access.get('supports')}.", ""]
    lines += ["## Headline claims", ""]
    for h in report["headlines"] or [{"claim": "No gate-family contrast was found in these logs.", "scope_text": ""}]:
        lines += [f"- {h['claim']}", f"  - *Scope:* {h['scope_text']}" if h["scope_text"] else ""]
    lines += ["", "## Counts", ""]
    lines += _table(("samples", "scored", "unscorable", "errors", "no score", "missing", "duplicates dropped"),
                    [(counts["samples"], counts["scored"], counts["unscorable"], counts["error"], counts["no_score"],
                      inputs["missing_samples"], inputs["duplicates_dropped"])])
    lines += _table(("battery", "samples", "scored", "unscorable", "errors", "no score"),
                    [(b, c["samples"], c["scored"], c["unscorable"], c["error"], c["no_score"])
                     for b, c in counts["by_battery"].items()])
    lines += ["## Per-condition rates", ""]
    lines += _table(("battery / items", "axis", "level", "n", "rate", "interval", "unscorable", "errors"),
                    [(f"{r['battery']} / {r['item_kind']}", r["axis"], r["level"], r["n"], pct(r["rate"]),
                      interval(r["ci"]), r["unscorable"], r["errors"]) for r in report["conditions"]])
    pooled = [c for c in report["contrasts"] if not c["subset"]]
    lines += ["## Paired contrasts: gate family (Holm)", ""]
    lines += _table(CONTRAST_HEADER, [contrast_cells(c) for c in pooled if c["family"] == "confirmatory"])
    lines += ["## Paired contrasts: exploratory (Benjamini-Hochberg)", ""]
    lines += _table(CONTRAST_HEADER, [contrast_cells(c) for c in pooled if c["family"] != "confirmatory"])
    lines += ["## Robustness across cue styles and paraphrases", ""]
    lines += _table(("contrast", "pooled gap", "cells", "min", "max", "range", "sd", "opposite-sign cells"),
                    [(r["contrast"], pct(r["pooled_gap"], True), r["cells"], pct(r["min"], True), pct(r["max"], True),
                      pct(r["range"]), pct(r["sd"]), ", ".join(r["opposite_sign_cells"]) or "none")
                     for r in report["robustness"]])
    for r in report["robustness"]:
        if r["by_style"]:
            lines += [f"**{r['contrast']}** by cue style:", ""]
            lines += _table(("style", "gap", "interval", "pairs", "adj. p (BH)"),
                            [(c["style"], pct(c["gap"], True), interval(c["ci"], True), c["n_pairs"],
                              pval(c["p_adjusted"])) for c in r["by_style"]])
    aware = report["eval_awareness"]
    lines += ["## Evaluation awareness", ""]
    lines += ([f"Mean `eval_awareness` score {aware['mean']:.3f} over {aware['n']} samples "
               f"(interval {aware['ci'][0]:.3f} to {aware['ci'][1]:.3f}).", ""] if aware["measured"]
              else ["Not measured: no sample carries an `eval_awareness` score.", ""])
    lines += ["## Reasoning evidence and scorer calibration", ""]
    for table in reasoning_tables(report):
        lines += [f"*{table.caption}*", "", *md_table(table.header, table.rows)]
    lines += ["Reasoning evidence can raise a verdict, never clear one: a model can act differently without saying "
              "why (docs/classifiers.md).", ""]
    lines += ["## Anti-deception checklist", ""]
    lines += _table(("item", "status", "batteries", "evidence"),
                    [(i["title"], i["status"].upper(), ", ".join(i["batteries"]),
                      _evidence(i)) for i in report["checklist"]])
    lines += ["The compliance-gap battery is the headline context-variation test and maps to no checklist item.", ""]
    lines += markdown_sections(report)
    lines += _manifest(report["manifest"])
    if report["warnings"]:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def _evidence(item: Mapping[str, Any]) -> str:
    ev = item["evidence"]
    if not ev["samples"]:
        return item.get("note") or "none"
    verdicts = "".join(f"; {v}" for v in ev.get("verdicts") or [])
    return (f"{ev['scored']}/{ev['samples']} samples scored; logs: {', '.join(ev['logs'])}; "
            f"contrasts: {', '.join(ev['contrasts']) or 'none'}{verdicts}")


MANIFEST_ROWS = ("model", "resolved_model_ids", "weights_sha256", "adapters_sha256", "run_metadata", "tasks", "suite",
                 "setting",
                 "templates", "frames", "probe_sets", "scorer", "model_roles", "generate", "declared", "versions")


def manifest_rows(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) pairs for the manifest tables; long texts stay whole so the prompt can be read."""
    from ..evidence.manifest import flatten

    rows = []
    for key in MANIFEST_ROWS:
        value = manifest.get(key)
        flat = flatten(value, key) if isinstance(value, Mapping) else {key: value}
        for field, item in flat.items():
            rows.append((field, "not recorded" if item in (None, "", [], {}) else str(item)))
    return rows


def _manifest(manifest: Mapping[str, Any]) -> list[str]:
    lines = ["## Manifest", ""]
    lines += _table(("field", "value"), [(k, v if len(v) < 160 else v[:157] + "…") for k, v in manifest_rows(manifest)])
    for field, value in manifest_rows(manifest):
        if len(value) >= 160:
            lines += [f"`{field}` (full text):", "", "```text", value, "```", ""]
    return lines
