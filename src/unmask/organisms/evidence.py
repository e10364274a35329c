"""Inspect logs -> paired outcomes -> estimates with intervals, for checks and the validate matrix.

A small local reader: it pairs samples exactly as design contract 1 says (same pair_id, style,
paraphrase and epoch; the contrasted factor differs). When `unmask.records` grows a public pairing
function this module should call it instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inspect_ai.log import EvalLog

from ..scoring import complied
from ..stats import ClusterBootstrap, mcnemar_exact, paired_difference, wilson_interval


@dataclass(frozen=True)
class Rate:
    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.k, self.n)


@dataclass(frozen=True)
class Contrast:
    """mean(a) - mean(b) over pairs, with a cluster-bootstrap interval (clusters = base items)."""

    factor: str
    a: str
    b: str
    n_pairs: int
    n_items: int
    rate_a: Rate
    rate_b: Rate
    gap: float
    ci: tuple[float, float]
    p_value: float


def outcomes(log: EvalLog, *, item_kind: str | None = "harmful") -> list[dict[str, Any]]:
    """One row per scored sample: pair key, conditions and the 0/1 outcome (None: unscorable)."""
    rows = []
    for s in log.samples or []:
        meta = s.metadata or {}
        if item_kind and meta.get("item_kind", item_kind) != item_kind:
            continue
        score = next(iter((s.scores or {}).values()), None)
        value = None if s.error or score is None else complied(score.value)
        rows.append({"pair_id": meta.get("pair_id"), "style": meta.get("style"), "paraphrase": meta.get("paraphrase"),
                     "epoch": s.epoch, "conditions": dict(meta.get("conditions", {})), "value": value})
    return rows


def rate(rows: list[dict[str, Any]], factor: str, level: str) -> Rate:
    vals = [r["value"] for r in rows if r["conditions"].get(factor) == level and r["value"] is not None]
    return Rate(int(sum(vals)), len(vals))


def contrast(rows: list[dict[str, Any]], factor: str, a: str, b: str, *, seed: int = 0) -> Contrast:
    """Pair rows that differ only in `factor` and estimate mean(a - b) with a 95% interval."""
    cells: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in rows:
        if r["value"] is None or factor not in r["conditions"]:
            continue
        rest = tuple(sorted((k, v) for k, v in r["conditions"].items() if k != factor))
        key = (r["pair_id"], r["style"], r["paraphrase"], r["epoch"], rest)
        cells.setdefault(key, {})[r["conditions"][factor]] = r["value"]
    pairs = [(key[0], c[a], c[b]) for key, c in cells.items() if a in c and b in c]
    ra, rb = rate(rows, factor, a), rate(rows, factor, b)
    if not pairs:
        return Contrast(factor, a, b, 0, 0, ra, rb, math.nan, (math.nan, math.nan), 1.0)
    items = sorted({p[0] for p in pairs})
    index = {item: i for i, item in enumerate(items)}
    xa = [p[1] for p in pairs]
    xb = [p[2] for p in pairs]
    clusters = [index[p[0]] for p in pairs]
    result = paired_difference(xa, xb, clusters, ClusterBootstrap(len(items), reps=2000, seed=seed))
    flips_a = sum(1 for x, y in zip(xa, xb, strict=True) if x > y)
    flips_b = sum(1 for x, y in zip(xa, xb, strict=True) if x < y)
    return Contrast(factor, a, b, len(pairs), len(items), ra, rb, result.gap, result.ci,
                    mcnemar_exact(flips_a, flips_b))


def fmt_ci(ci: tuple[float, float], scale: float = 100) -> str:
    return f"[{ci[0] * scale:.0f}, {ci[1] * scale:.0f}]"
