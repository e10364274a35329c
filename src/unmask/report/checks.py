"""Every number the gate reads from a report.json, checked before it is believed.

The report writer never produces NaN, a negative detectable gap, or a gap outside its own interval; a
file that holds one was edited or damaged, and the gate must not reason from it. Each check names the
field (`contrasts[3].mde`), so the one-line error says where to look. Consistency here is arithmetic the
writer guarantees: a binary gap equals its discordant pairs over the pairs, a family-corrected interval
contains the plain one, counts add up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

TOLERANCE = 1e-9


class Problems:
    """Collects `field: what is wrong` lines, stopping early would hide the others."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.lines.append(f"field '{field}': {message}")

    def number(self, value: Any, field: str, *, lo: float | None = None, hi: float | None = None,
               integer: bool = False, optional: bool = False) -> float | None:
        """The value if it is a finite number in [lo, hi] (an integer when asked); None after a complaint."""
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            self.add(field, f"{value!r} is not {'an integer' if integer else 'a number'}")
            return None
        if not math.isfinite(value):
            self.add(field, f"{value!r} is not finite")
            return None
        if (lo is not None and value < lo - TOLERANCE) or (hi is not None and value > hi + TOLERANCE):
            self.add(field, f"{value!r} lies outside [{lo}, {hi}]")
            return None
        return float(value)

    def interval(self, value: Any, field: str, *, bound: float, optional: bool = False
                 ) -> tuple[float, float] | None:
        if isinstance(value, list) and value == [None, None] and optional:
            return None
        if not isinstance(value, list) or len(value) != 2:
            self.add(field, f"{value!r} is not a [low, high] pair")
            return None
        lo = self.number(value[0], f"{field}[0]", lo=-bound, hi=bound)
        hi = self.number(value[1], f"{field}[1]", lo=-bound, hi=bound)
        if lo is None or hi is None:
            return None
        if lo > hi + TOLERANCE:
            self.add(field, f"low {lo} is above high {hi}")
            return None
        return (lo, hi)


def report_problems(report: Mapping[str, Any]) -> list[str]:
    """What makes this report unusable for a gate decision (empty when every number checks out)."""
    p = Problems()
    analysis = report.get("analysis") or {}
    p.number(analysis.get("alpha"), "analysis.alpha", lo=1e-12, hi=0.5)
    p.number(analysis.get("power"), "analysis.power", lo=0.5, hi=1.0)
    _counts(report, p)
    _inputs(report.get("inputs") or {}, p)
    for i, row in enumerate(report.get("contrasts") or []):
        _contrast(row, f"contrasts[{i}]", p)
    for i, row in enumerate(report.get("conditions") or []):
        _condition(row, f"conditions[{i}]", p)
    aware = report.get("eval_awareness") or {}
    if aware.get("measured"):
        p.number(aware.get("n"), "eval_awareness.n", lo=1, integer=True)
        p.number(aware.get("mean"), "eval_awareness.mean", lo=0.0, hi=1.0)
    for name, entry in (report.get("batteries") or {}).items():
        for field, value in _leaves(entry.get("measures") or {}, f"batteries.{name}.measures"):
            if isinstance(value, float) and not math.isfinite(value):
                p.add(field, f"{value!r} is not finite")
    return p.lines


def _counts(report: Mapping[str, Any], p: Problems) -> None:
    counts = report.get("counts") or {}
    keys = ("scored", "unscorable", "error", "no_score")
    parts = [p.number(counts.get(k), f"counts.{k}", lo=0, integer=True) for k in keys]
    total = p.number(counts.get("samples"), "counts.samples", lo=0, integer=True)
    if None not in parts and total is not None and sum(parts) != total:  # type: ignore[arg-type]
        p.add("counts.samples", f"{total:.0f} is not the sum of scored, unscorable, error and no_score "
                                f"({sum(parts):.0f})")  # type: ignore[arg-type]
    by_battery = counts.get("by_battery") or {}
    for key in ("samples", *keys):
        summed = 0.0
        for name, row in by_battery.items():
            value = p.number((row or {}).get(key), f"counts.by_battery.{name}.{key}", lo=0, integer=True)
            summed += value or 0.0
        if by_battery and isinstance(counts.get(key), int) and summed != counts[key]:
            p.add(f"counts.{key}", f"{counts[key]} differs from the batteries' sum ({summed:.0f})")


def _inputs(inputs: Mapping[str, Any], p: Problems) -> None:
    p.number(inputs.get("missing_samples"), "inputs.missing_samples", lo=0, integer=True)
    p.number(inputs.get("duplicates_dropped"), "inputs.duplicates_dropped", lo=0, integer=True)
    p.number(inputs.get("skipped_files", 0), "inputs.skipped_files", lo=0, integer=True)


def _contrast(row: Mapping[str, Any], at: str, p: Problems) -> None:
    bound = 2.0 if row.get("kind") == "interaction" else 1.0
    n = p.number(row.get("n_pairs"), f"{at}.n_pairs", lo=0, integer=True)
    clusters = p.number(row.get("n_clusters"), f"{at}.n_clusters", lo=0, integer=True)
    if n is not None and clusters is not None and clusters > n:
        p.add(f"{at}.n_clusters", f"{clusters:.0f} items cannot hold only {n:.0f} pairs")
    p.number(row.get("p"), f"{at}.p", lo=0.0, hi=1.0)
    p_adj = p.number(row.get("p_adjusted"), f"{at}.p_adjusted", lo=0.0, hi=1.0)
    raw = row.get("p")
    if p_adj is not None and isinstance(raw, int | float) and p_adj < raw - TOLERANCE:
        p.add(f"{at}.p_adjusted", f"{p_adj} is below the unadjusted p {raw}")
    if not n:
        if row.get("gap") is not None:
            p.add(f"{at}.gap", "a gap without any pair")
        return
    gap = p.number(row.get("gap"), f"{at}.gap", lo=-bound, hi=bound)
    ci = p.interval(row.get("ci"), f"{at}.ci", bound=bound)
    corrected = p.interval(row.get("corrected_ci"), f"{at}.corrected_ci", bound=bound)
    p.number(row.get("mde"), f"{at}.mde", lo=0.0, hi=bound)
    p.number(row.get("corrected_level"), f"{at}.corrected_level", lo=0.5, hi=1.0)
    if ci and corrected and (corrected[0] > ci[0] + TOLERANCE or corrected[1] < ci[1] - TOLERANCE):
        p.add(f"{at}.corrected_ci", f"{list(corrected)} does not contain the uncorrected interval {list(ci)}")
    if gap is not None and corrected and not corrected[0] - TOLERANCE <= gap <= corrected[1] + TOLERANCE:
        p.add(f"{at}.gap", f"{gap} lies outside its own interval {list(corrected)}")
    means = (row.get("mean_a"), row.get("mean_b"))
    if row.get("kind") == "main" and gap is not None and all(isinstance(m, int | float) for m in means) \
            and abs(means[0] - means[1] - gap) > 1e-6:  # type: ignore[operator]
        p.add(f"{at}.gap", f"{gap} is not mean_a - mean_b ({means[0]} - {means[1]})")
    flips = row.get("discordant")
    if row.get("outcome_type") == "binary" and row.get("kind") == "main" and gap is not None:
        if not (isinstance(flips, list) and len(flips) == 2 and all(isinstance(f, int) and f >= 0 for f in flips)):
            p.add(f"{at}.discordant", f"{flips!r} is not two counts of discordant pairs")
        elif sum(flips) > n:
            p.add(f"{at}.discordant", f"{flips} discordant pairs out of only {n:.0f}")
        elif abs((flips[0] - flips[1]) / n - gap) > 1e-6:
            p.add(f"{at}.gap", f"{gap} does not match its discordant pairs {flips} over {n:.0f} pairs")


def _condition(row: Mapping[str, Any], at: str, p: Problems) -> None:
    n = p.number(row.get("n"), f"{at}.n", lo=0, integer=True)
    if not n:
        return
    rate = p.number(row.get("rate"), f"{at}.rate", lo=0.0 if row.get("outcome_type") == "binary" else None,
                    hi=1.0 if row.get("outcome_type") == "binary" else None)
    if row.get("outcome_type") == "binary":
        k = p.number(row.get("successes"), f"{at}.successes", lo=0, hi=n, integer=True)
        if k is not None and rate is not None and abs(k / n - rate) > 1e-6:
            p.add(f"{at}.rate", f"{rate} is not {k:.0f} of {n:.0f}")


def _leaves(value: Any, at: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{at}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{at}[{i}]")
    else:
        yield at, value
