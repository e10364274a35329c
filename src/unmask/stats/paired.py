"""Paired contrasts: the estimate, its cluster-bootstrap interval, the exact test and the detectable gap.

Conventions: a *pair* is two observations of the same base item that differ only in the
contrasted condition; a *cluster* is a base item (`pair_id`), which may contribute many pairs
(styles, paraphrases, epochs). Pairs inside a cluster are correlated, so intervals come from a
cluster bootstrap that resamples whole clusters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bootstrap import ClusterBootstrap, FloatArray, cluster_sums, percentile_interval
from .exact import mcnemar_exact, paired_t_p, wilcoxon_p
from .power import mcnemar_mde, normal_mde


@dataclass
class PairedResult:
    """One paired contrast: estimate, interval, test, and the gap the run could have missed."""

    n_pairs: int
    n_clusters: int
    binary: bool
    mean_a: float
    mean_b: float
    gap: float
    ci: tuple[float, float]
    level: float
    se: float
    test: str
    p_value: float
    mde: float
    mde_alpha: float
    discordant_a: int = 0
    """Binary only: pairs where a=1 and b=0 (McNemar's b)."""
    discordant_b: int = 0
    """Binary only: pairs where a=0 and b=1 (McNemar's c)."""
    design_effect: float = 1.0
    wilcoxon_p: float | None = None
    max_gap: float = 1.0
    boot: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def discordance(self) -> float:
        return (self.discordant_a + self.discordant_b) / self.n_pairs if self.n_pairs else math.nan

    def interval(self, level: float) -> tuple[float, float]:
        """An interval at another level from the same bootstrap (e.g. a corrected family level)."""
        return percentile_interval(self.boot, level)

    def mde_at(self, alpha: float, power: float = 0.8) -> float:
        """The minimum detectable effect recomputed at another alpha (e.g. Bonferroni alpha/m)."""
        if self.n_pairs == 0:
            return self.mde
        if self.binary:
            return mcnemar_mde(self.n_pairs, self.discordance, alpha=alpha, power=power,
                               design_effect=self.design_effect)
        return normal_mde(self.se, alpha=alpha, power=power, cap=self.max_gap)


@dataclass(frozen=True)
class PairedData:
    """The pair-level input of one contrast: differences, their clusters, and how to test them."""

    diffs: FloatArray
    clusters: NDArray[np.int64]
    binary: bool
    mean_a: float
    mean_b: float
    flips: tuple[int, int] = (0, 0)
    """Binary only: (pairs with a=1, b=0; pairs with a=0, b=1)."""
    max_gap: float = 1.0


def paired_data(a: ArrayLike, b: ArrayLike, clusters: ArrayLike, *, binary: bool | None = None) -> PairedData:
    """Pair-level data for mean(a - b); binary when every outcome is 0 or 1 (unless told)."""
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    if xa.shape != xb.shape:
        raise ValueError("a and b must be paired element by element")
    if binary is None:
        binary = bool(np.isin(xa, (0.0, 1.0)).all() and np.isin(xb, (0.0, 1.0)).all())
    flips = (int(np.sum((xa == 1) & (xb == 0))), int(np.sum((xa == 0) & (xb == 1)))) if binary else (0, 0)
    return PairedData(xa - xb, np.asarray(clusters, dtype=np.int64), binary,
                      float(xa.mean()) if xa.size else math.nan, float(xb.mean()) if xb.size else math.nan,
                      flips)


def interaction_data(
    a0: ArrayLike, a1: ArrayLike, b0: ArrayLike, b1: ArrayLike, clusters: ArrayLike
) -> PairedData:
    """Interaction of two axes: (a0 - a1) - (b0 - b1) within each matched quadruple.

    `a0, a1` are the first axis's levels at the second axis's first level; `b0, b1` the same at
    its second level. Tested with a paired t-test, since the difference takes up to five values.
    """
    first = np.asarray(a0, dtype=float) - np.asarray(a1, dtype=float)
    second = np.asarray(b0, dtype=float) - np.asarray(b1, dtype=float)
    return PairedData(first - second, np.asarray(clusters, dtype=np.int64), False,
                      float(first.mean()) if first.size else math.nan,
                      float(second.mean()) if second.size else math.nan, max_gap=2.0)


def analyse_pairs(
    items: Sequence[PairedData], bootstrap: ClusterBootstrap, *, level: float = 0.95, power: float = 0.8
) -> list[PairedResult]:
    """Estimate, interval, test and MDE for many contrasts over one set of clusters.

    The bootstrap runs once for all of them (one matrix product per chunk), which is what
    keeps a 100,000-sample report fast.
    """
    k = bootstrap.n_clusters
    sums = np.zeros((k, len(items)))
    counts = np.zeros((k, len(items)))
    for j, item in enumerate(items):
        sums[:, j], counts[:, j] = cluster_sums(item.diffs, item.clusters, k)
    boots = bootstrap.means(sums, counts) if items else []
    return [_summarise(item, boot, level, power) for item, boot in zip(items, boots, strict=True)]


def paired_difference(
    a: ArrayLike, b: ArrayLike, clusters: ArrayLike, bootstrap: ClusterBootstrap, *,
    level: float = 0.95, power: float = 0.8, binary: bool | None = None,
) -> PairedResult:
    """One paired difference mean(a - b): cluster-bootstrap interval, McNemar or t-test, MDE."""
    return analyse_pairs([paired_data(a, b, clusters, binary=binary)], bootstrap, level=level, power=power)[0]


def _summarise(item: PairedData, boot: FloatArray, level: float, power: float) -> PairedResult:
    alpha = 1 - level
    d = item.diffs
    n = int(d.size)
    if n == 0:
        return PairedResult(0, 0, item.binary, math.nan, math.nan, math.nan, (math.nan, math.nan), level,
                            math.nan, "none", 1.0, item.max_gap, alpha, max_gap=item.max_gap)
    n_clusters = int(np.unique(item.clusters).size)
    se = float(boot.std(ddof=1)) if boot.size > 1 else math.nan
    gap = float(d.mean())
    ci = percentile_interval(boot, level)
    if item.binary:
        b, c = item.flips
        discordance = (b + c) / n
        se_iid = math.sqrt(max(discordance - gap * gap, 0.0) / n)
        deff = max(1.0, (se / se_iid) ** 2) if se_iid > 0 and math.isfinite(se) else 1.0
        return PairedResult(
            n, n_clusters, True, item.mean_a, item.mean_b, gap, ci, level, se, "mcnemar_exact",
            mcnemar_exact(b, c), mcnemar_mde(n, discordance, alpha=alpha, power=power, design_effect=deff),
            alpha, discordant_a=b, discordant_b=c, design_effect=deff, boot=boot,
        )
    se_iid = float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    se_eff = max(se, se_iid) if math.isfinite(se_iid) and math.isfinite(se) else math.nan
    deff = max(1.0, (se / se_iid) ** 2) if se_iid > 0 and math.isfinite(se) else 1.0
    return PairedResult(
        n, n_clusters, False, item.mean_a, item.mean_b, gap, ci, level, se_eff, "paired_t", paired_t_p(d),
        normal_mde(se_eff, alpha=alpha, power=power, cap=item.max_gap), alpha,
        design_effect=deff, wilcoxon_p=wilcoxon_p(d), max_gap=item.max_gap, boot=boot,
    )
