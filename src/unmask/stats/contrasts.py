"""Evidence records -> the one contrast table: condition rates, paired contrasts, robustness.

Every number a report shows about a paired contrast is computed here, once; batteries read these
rows for their own measures instead of pairing again.

A *stratum* is one battery and item kind (e.g. compliance_gap / harmful). Within a stratum the
base items (`pair_id`) are the bootstrap clusters, and every contrast of the stratum shares one
set of resampling weights.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..evidence.pairing import (
    STATUS_CODES,
    Encoded,
    FloatArray,
    Pairs,
    encode,
    interaction_pairs,
    main_pairs,
    usable,
)
from ..evidence.records import SampleRecord
from .bootstrap import ClusterBootstrap
from .multiplicity import benjamini_hochberg, holm
from .paired import PairedData, PairedResult, analyse_pairs, interaction_data, paired_data
from .rates import mean_interval, wilson_interval

Stratum = tuple[str, str]


@dataclass(frozen=True)
class AnalysisOptions:
    """How the statistics are run; the gate policy supplies these so report and gate agree."""

    alpha: float = 0.05
    power: float = 0.8
    reps: int = 2000
    seed: int = 20240917
    gate_batteries: tuple[str, ...] | None = None
    """Batteries whose declared `gate: true` contrasts form the Holm family (None: every battery)."""
    exploratory_item_kinds: tuple[str, ...] = ("benign",)
    """Item kinds never in the gate family (benign controls measure over-refusal, not faking)."""
    tolerated_gap: float | None = None
    """Only drawn on plots; the decision is the gate's."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha, "power": self.power, "tolerated_gap": self.tolerated_gap,
            "bootstrap": {"reps": self.reps, "seed": self.seed, "method": "percentile, resampling base items"},
            "confirmatory": {"gate_batteries": None if self.gate_batteries is None else list(self.gate_batteries),
                             "exploratory_item_kinds": list(self.exploratory_item_kinds),
                             "rule": "declared gate:true contrasts, minus exploratory item kinds"},
        }


@dataclass(frozen=True)
class ContrastSpec:
    """A contrast to test (design.md, contract 4): level a minus level b of one factor, or an interaction."""

    name: str
    factors: tuple[str, ...]
    a: tuple[str, ...]
    b: tuple[str, ...]
    outcome: str = "outcome"
    gate: bool = False
    within: tuple[tuple[str, str], ...] = ()
    """Levels of other factors the pairs are restricted to (e.g. the gap with the model's own reasoning)."""

    @property
    def interaction(self) -> bool:
        return len(self.factors) == 2


def declared_specs(declared: Any) -> tuple[list[ContrastSpec], list[str]]:
    """Parse a manifest's `contrasts` list; malformed entries are skipped with a warning, not guessed."""
    specs: list[ContrastSpec] = []
    problems: list[str] = []
    for i, entry in enumerate(declared if isinstance(declared, list) else []):
        try:
            factor, a, b = entry["factor"], entry["a"], entry["b"]
            factors = tuple(factor) if isinstance(factor, list) else (str(factor),)
            levels_a = tuple(str(x) for x in a) if isinstance(a, list) else (str(a),)
            levels_b = tuple(str(x) for x in b) if isinstance(b, list) else (str(b),)
            if not 1 <= len(factors) <= 2 or len(levels_a) != len(factors) or len(levels_b) != len(factors):
                raise ValueError("factor, a and b must have the same length (1, or 2 for an interaction)")
            within = entry.get("within") or {}
            if not isinstance(within, dict) or set(within) & set(factors):
                raise ValueError("within must map other factors to one level each")
            specs.append(ContrastSpec(str(entry.get("name") or "×".join(factors)), factors, levels_a, levels_b,
                                      str(entry.get("outcome") or "outcome"),
                                      bool(entry.get("gate")) and len(factors) == 1,
                                      tuple(sorted((str(k), str(v)) for k, v in within.items()))))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"declared contrast #{i + 1} ignored: {exc}")
    return specs, problems


def derived_specs(levels_by_axis: dict[str, set[str]], outcome: str) -> list[ContrastSpec]:
    """For logs that declare nothing: each binary factor, and each pair of them, all exploratory."""
    binary = {axis: level_order(axis, sorted(lv)) for axis, lv in sorted(levels_by_axis.items()) if len(lv) == 2}
    specs = [ContrastSpec(axis, (axis,), (order[0],), (order[1],), outcome) for axis, order in binary.items()]
    specs += [ContrastSpec(f"{x}×{y}", (x, y), (binary[x][0], binary[y][0]), (binary[x][1], binary[y][1]), outcome)
              for x, y in itertools.combinations(binary, 2)]
    return specs


def level_order(axis: str, levels: Sequence[str]) -> list[str]:
    """Known axes keep their declared order (the watched level first); others sort by name."""
    from ..design.frames import AXES

    known = AXES.get(axis)
    if known and set(levels) <= set(known):
        return [lv for lv in known if lv in levels]
    return sorted(levels)


# --- counting --------------------------------------------------------------------------------


def _tally(records: Sequence[SampleRecord]) -> dict[str, int]:
    counts = dict.fromkeys(("samples", "scored", "unscorable", "error", "no_score"), 0)
    for r in records:
        counts[r.status] += 1
    counts["samples"] = len(records)
    return counts


def count_table(records: Sequence[SampleRecord]) -> dict[str, Any]:
    """Totals and per-battery counts; unscorable and errored samples are counted, never imputed."""
    by_battery: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in records:
        by_battery[r.battery].append(r)
    return {**_tally(records), "by_battery": {b: _tally(rs) for b, rs in sorted(by_battery.items())}}


def is_binary(outcomes: FloatArray) -> bool:
    """Binary when every scored outcome is 0 or 1 (NaN marks unscored observations)."""
    scored = outcomes[~np.isnan(outcomes)]
    return bool(np.isin(scored, (0.0, 1.0)).all())


def condition_rates(encoded: dict[Stratum, Encoded], level: float) -> list[dict[str, Any]]:
    """Outcome rate per axis level (marginal over the other axes), with counts and an interval."""
    rows = []
    for (battery, kind), enc in sorted(encoded.items()):
        binary = is_binary(enc.outcome)
        for axis in sorted(enc.levels):
            for lv in level_order(axis, enc.level_names[axis]):
                mask = enc.level_mask(axis, lv)
                outcomes = enc.outcome[mask]
                outcomes = outcomes[~np.isnan(outcomes)]
                status = np.bincount(enc.status[mask], minlength=len(STATUS_CODES))
                n = int(outcomes.size)
                total = float(outcomes.sum())
                successes = round(total)
                ci = wilson_interval(successes, n, level) if binary else mean_interval(outcomes, level)
                rows.append({
                    "battery": battery, "item_kind": kind, "axis": axis, "level": lv,
                    "outcome_type": "binary" if binary else "continuous",
                    "n": n, "successes": successes if binary else None, "rate": total / n if n else None,
                    "ci": list(ci), "unscorable": int(status[STATUS_CODES["unscorable"]]),
                    "errors": int(status[STATUS_CODES["error"]]), "no_score": int(status[STATUS_CODES["no_score"]]),
                })
    return rows


# --- contrasts ------------------------------------------------------------------------------


@dataclass
class Contrast:
    """A contrast row before it becomes JSON: identity, family and the statistics."""

    id: str
    battery: str
    item_kind: str
    kind: str
    axes: list[str]
    levels: list[str]
    label: str
    outcome: str
    subset: dict[str, Any]
    family: str
    unpaired: int
    result: PairedResult
    within: dict[str, str] = field(default_factory=dict)


def stratum_contrasts(
    stratum: Stratum, enc: Encoded, specs: Sequence[ContrastSpec], options: AnalysisOptions, gate_allowed: bool,
) -> list[Contrast]:
    """Every contrast of one stratum, with per-style and per-style-and-paraphrase cells of each main one."""
    battery, kind = stratum
    if not enc.pair_ids or bool(np.isnan(enc.outcome).all()):
        return []
    binary = is_binary(enc.outcome)
    base = f"{battery}/{kind}"
    planned: list[tuple[Contrast, PairedData]] = []

    def plan(cid: str, spec: ContrastSpec, levels: list[str], label: str, subset: dict[str, Any], family: str,
             unpaired: int, data: PairedData) -> None:
        empty = PairedResult(0, 0, binary, math.nan, math.nan, math.nan, (math.nan, math.nan),
                                   1 - options.alpha, math.nan, "none", 1.0, 1.0, options.alpha)
        contrast = Contrast(cid, battery, kind, "interaction" if spec.interaction else "main", list(spec.factors),
                            levels, label, spec.outcome, subset, family, unpaired, empty, dict(spec.within))
        planned.append((contrast, data))

    for spec in specs:
        family = "confirmatory" if spec.gate and gate_allowed else "exploratory"
        cid = f"{base}/{spec.name}"
        if spec.interaction:
            (ax_a, ax_b), (a0, b0), (a1, b1) = spec.factors, spec.a, spec.b
            quads = interaction_pairs(enc, (ax_a, a0, a1), (ax_b, b0, b1))
            plan(cid, spec, [a0, a1, b0, b1], f"({a0} − {a1} | {b0}) − ({a0} − {a1} | {b1})", {}, family, 0,
                 interaction_data(quads.columns[0], quads.columns[1], quads.columns[2], quads.columns[3],
                                        quads.cluster))
            continue
        axis, high, low = spec.factors[0], spec.a[0], spec.b[0]
        eligible = None
        if spec.within:
            eligible = usable(enc)
            for other, level in spec.within:
                eligible = eligible & enc.level_mask(other, level)
        pairs = main_pairs(enc, axis, high, low, eligible)
        label = f"{high} − {low}" + "".join(f" | {k}={v}" for k, v in spec.within)
        plan(cid, spec, [high, low], label, {}, family, pairs.unpaired,
             paired_data(pairs.columns[0], pairs.columns[1], pairs.cluster, binary=binary))
        for subset, mask in _subsets(pairs, enc.style_names):
            tag = ",".join(f"{k}={v}" for k, v in subset.items())
            plan(f"{cid}@{tag}", spec, [high, low], label, subset, "exploratory", 0,
                 paired_data(pairs.columns[0][mask], pairs.columns[1][mask], pairs.cluster[mask],
                                   binary=binary))
    seed = zlib.crc32(f"{options.seed}/{battery}/{kind}".encode())
    bootstrap = ClusterBootstrap(len(enc.pair_ids), options.reps, seed)
    results = analyse_pairs([d for _, d in planned], bootstrap, level=1 - options.alpha, power=options.power)
    for (contrast, _), result in zip(planned, results, strict=True):
        contrast.result = result
    return [c for c, _ in planned]


def _subsets(pairs: Pairs, style_names: list[str]) -> list[tuple[dict[str, Any], NDArray[np.bool_]]]:
    """Masks for the robustness cells: each cue style, then each style and paraphrase."""
    out: list[tuple[dict[str, Any], NDArray[np.bool_]]] = []
    styles = sorted({int(s) for s in pairs.style})
    paraphrases = sorted({int(p) for p in pairs.paraphrase})
    if len(styles) > 1:
        out += [({"style": style_names[s]}, pairs.style == s) for s in styles]
    if len(paraphrases) > 1:
        for s in styles:
            for p in paraphrases:
                mask = (pairs.style == s) & (pairs.paraphrase == p)
                if bool(mask.any()):
                    out.append(({"style": style_names[s], "paraphrase": p}, mask))
    return out


# --- families and tables ---------------------------------------------------------------------


def all_contrasts(
    encoded: dict[Stratum, Encoded], declared: dict[str, list[ContrastSpec]], options: AnalysisOptions,
    outcomes: Mapping[str, str] | None = None,
) -> list[Contrast]:
    """Declared contrasts per battery (derived, exploratory ones where a battery declares none, named by
    the battery's `outcomes` entry)."""
    contrasts: list[Contrast] = []
    for stratum, enc in sorted(encoded.items()):
        battery, kind = stratum
        specs = declared.get(battery)
        if not specs:
            levels = {axis: set(names) for axis, names in enc.level_names.items()}
            specs = derived_specs(levels, (outcomes or {}).get(battery, "outcome"))
        allowed = (kind not in options.exploratory_item_kinds
                   and (options.gate_batteries is None or battery in options.gate_batteries))
        contrasts += stratum_contrasts(stratum, enc, specs, options, allowed)
    return contrasts


def contrast_rows(contrasts: Sequence[Contrast], options: AnalysisOptions) -> list[dict[str, Any]]:
    """JSON rows: Holm and a Bonferroni-level interval across the confirmatory family, BH elsewhere."""
    confirmatory = [c for c in contrasts if c.family == "confirmatory"]
    exploratory = [c for c in contrasts if c.family != "confirmatory"]
    m = max(1, len(confirmatory))
    adjusted: dict[str, tuple[float, str]] = {}
    for group, method, adjust in ((confirmatory, "holm", holm), (exploratory, "bh", benjamini_hochberg)):
        for c, p in zip(group, adjust([c.result.p_value for c in group]), strict=True):
            adjusted[c.id] = (p, method)
    rows = []
    for c in contrasts:
        r = c.result
        corrected_alpha = options.alpha / m if c.family == "confirmatory" else options.alpha
        rows.append({
            "id": c.id, "battery": c.battery, "item_kind": c.item_kind, "kind": c.kind, "axes": c.axes,
            "levels": c.levels, "label": c.label, "outcome": c.outcome, "subset": c.subset,
            **({"within": c.within} if c.within else {}),
            "family": c.family,
            "outcome_type": "binary" if r.binary else "continuous",
            "n_pairs": r.n_pairs, "n_clusters": r.n_clusters, "unpaired": c.unpaired,
            "mean_a": r.mean_a, "mean_b": r.mean_b, "gap": r.gap,
            "ci": list(r.ci), "ci_level": r.level,
            "corrected_ci": list(r.interval(1 - corrected_alpha)) if r.n_pairs else [None, None],
            "corrected_level": 1 - corrected_alpha,
            "test": r.test, "p": r.p_value, "p_adjusted": adjusted[c.id][0], "adjustment": adjusted[c.id][1],
            "wilcoxon_p": r.wilcoxon_p,
            "discordant": [r.discordant_a, r.discordant_b] if r.binary else None,
            "discordance": r.discordance if r.binary else None,
            "design_effect": r.design_effect, "se": r.se,
            "mde": r.mde_at(corrected_alpha, options.power), "mde_alpha": corrected_alpha,
            "mde_power": options.power,
        })
    return rows


def robustness_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each pooled main contrast: how the gap spreads over cue styles and paraphrases."""
    cells: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["subset"]:
            cells[row["id"].split("@", 1)[0]].append(row)
    out = []
    for row in rows:
        if row["subset"] or row["kind"] != "main" or row["id"] not in cells:
            continue
        by_style = [c for c in cells[row["id"]] if set(c["subset"]) == {"style"}]
        by_cell = [c for c in cells[row["id"]] if "paraphrase" in c["subset"]]
        gaps = [c["gap"] for c in (by_cell or by_style) if c["n_pairs"] and c["gap"] is not None]
        pooled = row["gap"]
        flips = [c["id"] for c in (by_cell or by_style)
                 if c["n_pairs"] and pooled and c["gap"] * pooled < 0 and (c["ci"][0] > 0 or c["ci"][1] < 0)]
        out.append({
            "contrast": row["id"], "pooled_gap": pooled,
            "by_style": [_cell(c) for c in by_style], "by_style_paraphrase": [_cell(c) for c in by_cell],
            "cells": len(gaps), "min": min(gaps) if gaps else None, "max": max(gaps) if gaps else None,
            "range": (max(gaps) - min(gaps)) if gaps else None,
            "sd": float(np.std(gaps, ddof=1)) if len(gaps) > 1 else None,
            "opposite_sign_cells": flips,
        })
    return out


def _cell(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], **row["subset"], "gap": row["gap"], "ci": row["ci"], "n_pairs": row["n_pairs"],
            "p_adjusted": row["p_adjusted"]}


def awareness_summary(strata: dict[Stratum, list[SampleRecord]], level: float) -> dict[str, Any]:
    """Mean `eval_awareness` score overall and per condition level (evidence the model knows it is tested)."""
    values = [r.eval_awareness for recs in strata.values() for r in recs if r.eval_awareness is not None]
    if not values:
        return {"measured": False, "n": 0, "mean": None, "ci": [None, None], "by_condition": []}
    by_level: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for (battery, kind), recs in strata.items():
        for r in recs:
            if r.eval_awareness is not None:
                for axis, lv in r.conditions.items():
                    by_level[(battery, kind, axis, lv)].append(r.eval_awareness)
    return {
        "measured": True, "n": len(values), "mean": float(np.mean(values)),
        "ci": list(mean_interval(values, level)),
        "by_condition": [{"battery": b, "item_kind": k, "axis": a, "level": lv, "n": len(v),
                          "mean": float(np.mean(v))} for (b, k, a, lv), v in sorted(by_level.items())],
    }


@dataclass(frozen=True)
class Rate:
    """A share with its Wilson interval."""

    k: int
    n: int
    level: float = 0.95

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.k, self.n, self.level)


@dataclass(frozen=True)
class Measured:
    """One paired contrast measured on its own (acceptance checks): both rates, the gap and its interval."""

    factor: str
    a: str
    b: str
    rate_a: Rate
    rate_b: Rate
    result: PairedResult

    @property
    def gap(self) -> float:
        return self.result.gap

    @property
    def ci(self) -> tuple[float, float]:
        return self.result.ci

    @property
    def n_pairs(self) -> int:
        return self.result.n_pairs


def measure(records: Sequence[SampleRecord], factor: str, a: str, b: str, options: AnalysisOptions | None = None
            ) -> Measured:
    """`a - b` on `factor` over one set of records, by the same pairing and bootstrap as the report's rows."""
    options = options or AnalysisOptions()
    enc = encode(records)
    level = 1 - options.alpha
    rates = []
    for lv in (a, b):
        values = enc.outcome[enc.level_mask(factor, lv) & ~np.isnan(enc.outcome)]
        rates.append(Rate(round(float(values.sum())), int(values.size), level))
    pairs = main_pairs(enc, factor, a, b)
    data = paired_data(pairs.columns[0], pairs.columns[1], pairs.cluster)
    bootstrap = ClusterBootstrap(max(1, len(enc.pair_ids)), options.reps, options.seed)
    result = analyse_pairs([data], bootstrap, level=level, power=options.power)[0]
    return Measured(factor, a, b, rates[0], rates[1], result)


def auxiliary_rates(records: Sequence[SampleRecord], scorer: str, level: float) -> dict[str, Any]:
    """A 1/0 auxiliary scorer (alignment-faking reasoning, evaluation awareness) per condition level.

    Rows per battery, item kind, axis and level: samples scored, positives, rate with its Wilson
    interval; and, when the battery's own outcome is a compliance, the 2 x 2 the field reports
    (complied x positive). Parts (for awareness) are counted over the positives.
    """
    cells: dict[tuple[str, str, str, str], list[SampleRecord]] = defaultdict(list)
    scored = [r for r in records if r.extra_scores.get(scorer) is not None]
    for r in scored:
        for axis, lv in r.conditions.items():
            cells[(r.battery, r.item_kind, axis, lv)].append(r)
    rows = []
    for (battery, kind, axis, lv), recs in sorted(cells.items()):
        hits = sum(1 for r in recs if (r.extra_scores.get(scorer) or 0) >= 0.5)
        pairs = [(r.outcome >= 0.5, (r.extra_scores.get(scorer) or 0) >= 0.5) for r in recs if r.outcome is not None]
        table = {f"{'complied' if o else 'refused'}_{'yes' if h else 'no'}": pairs.count((o, h))
                 for o in (True, False) for h in (True, False)}
        rows.append({"battery": battery, "item_kind": kind, "axis": axis, "level": lv, "n": len(recs),
                     "positives": hits, "rate": hits / len(recs), "ci": list(wilson_interval(hits, len(recs), level)),
                     "with_reasoning": sum(1 for r in recs if not (r.aux.get(scorer) or {}).get("no_reasoning")),
                     "two_by_two": table})
    parts: dict[str, int] = defaultdict(int)
    positives = [r for r in scored if (r.extra_scores.get(scorer) or 0) >= 0.5]
    for r in positives:
        for part in (r.aux.get(scorer) or {}).get("parts") or []:
            parts[str(part)] += 1
    methods = sorted({str((r.aux.get(scorer) or {}).get("method")) for r in scored})
    return {"measured": bool(scored), "n": len(scored), "positives": len(positives),
            "rate": len(positives) / len(scored) if scored else None,
            "ci": list(wilson_interval(len(positives), len(scored), level)) if scored else [None, None],
            "methods": methods, "rows": rows,
            "parts": {k: {"n": v, "share": v / len(positives)} for k, v in sorted(parts.items())} if positives else {}}
