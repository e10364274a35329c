"""Statistics for paired context-variation evidence: plain arrays in, plain numbers out.

Nothing here knows about Inspect, suites or batteries, so any battery that can express its
evidence as paired outcomes (0/1 or floats in [0, 1]) grouped into base items can reuse it.

Conventions: a *pair* is two observations of the same base item that differ only in the
contrasted condition; a *cluster* is a base item (`pair_id`), which may contribute many pairs
(styles, paraphrases, epochs). Pairs inside a cluster are correlated, so intervals come from a
cluster bootstrap that resamples whole clusters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

_NORMAL = NormalDist()
_CACHE_LIMIT = 40_000_000
"""Largest bootstrap weight matrix (reps x clusters) kept in memory; larger ones are redrawn per use."""


def z_quantile(p: float) -> float:
    """Standard normal quantile."""
    return _NORMAL.inv_cdf(p)


# --- rates -----------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; stays inside [0, 1] and behaves at 0 and n."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    z = z_quantile(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def mean_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """Normal interval for the mean of continuous scores (used where Wilson does not apply)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    z = z_quantile(0.5 + level / 2)
    half = z * float(x.std(ddof=1)) / math.sqrt(x.size)
    return (float(x.mean()) - half, float(x.mean()) + half)


# --- tests -----------------------------------------------------------------------------------


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, by Lentz's continued fraction.

    Written here rather than imported because `scipy.special` / `scipy.stats` take one to two
    seconds to import, a large share of a report's time budget; tests check it against scipy.
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below the mean; use symmetry
        return 1.0 - regularized_beta(b, a, 1.0 - x)
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 100_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return math.exp(log_front) * fraction / a


def binomial_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X <= k) for X ~ Binomial(n, p), exactly (via the incomplete beta function)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(n - k, k + 1, 1.0 - p)


def binomial_two_sided_p(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n trials against p = 1/2.

    Under p = 1/2 the distribution is symmetric, so the two-sided p is twice the smaller tail.
    """
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf(min(k, n - k), n))


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar test: only discordant pairs carry information (b: 1->0 flips, c: 0->1)."""
    return binomial_two_sided_p(b, b + c)


def student_t_two_sided_p(t: float, df: float) -> float:
    """Two-sided p of a t statistic: I_{df/(df+t^2)}(df/2, 1/2)."""
    if not math.isfinite(t):
        return 0.0
    return min(1.0, regularized_beta(df / 2.0, 0.5, df / (df + t * t)))


def paired_t_p(diffs: ArrayLike) -> float:
    """Two-sided one-sample t-test of paired differences against 0 (continuous scores)."""
    d = np.asarray(diffs, dtype=float)
    if d.size < 2:
        return 1.0
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0 else 0.0
    t = float(d.mean()) / (float(d.std(ddof=1)) / math.sqrt(d.size))
    return student_t_two_sided_p(t, d.size - 1)


def wilcoxon_p(diffs: ArrayLike) -> float:
    """Two-sided Wilcoxon signed-rank p (normal approximation with tie correction; zeros dropped).

    Reported next to the t-test as a check that does not assume normal differences.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    magnitudes = np.abs(d)
    order = np.argsort(magnitudes, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1)
    _, inverse, counts = np.unique(magnitudes, return_inverse=True, return_counts=True)
    rank_sums = np.bincount(inverse, weights=ranks)
    ranks = (rank_sums / counts)[inverse]  # average ranks for ties
    w_plus = float(ranks[d > 0].sum())
    mean = n * (n + 1) / 4.0
    variance = n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(counts**3 - counts)) / 48.0
    if variance <= 0:
        return 1.0
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


# --- multiple comparisons --------------------------------------------------------------------


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values: family-wise error control without independence."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(x) for x in adjusted]


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), for exploratory tables."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(x) for x in adjusted]


# --- power -----------------------------------------------------------------------------------


def mcnemar_power(delta: float, n_pairs: float, discordance: float, alpha: float = 0.05) -> float:
    """Approximate power of the two-sided McNemar test (Connor 1987) for a true gap `delta`.

    The discordance under the alternative is at least |delta|: a gap needs that many flips.
    """
    delta = abs(delta)
    if n_pairs <= 0 or delta == 0:
        return alpha
    q = max(discordance, delta)
    z_a = z_quantile(1 - alpha / 2)
    spread = q - delta * delta
    lead = math.sqrt(n_pairs) * delta - z_a * math.sqrt(q)
    if spread <= 0:
        return 1.0 if lead > 0 else 0.0
    return _NORMAL.cdf(lead / math.sqrt(spread))


def mcnemar_mde(
    n_pairs: float, discordance: float, *, alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0
) -> float:
    """Smallest gap the paired test detects with `power`, given the observed discordance.

    `design_effect` (>= 1) shrinks the pair count to an effective count when pairs share base
    items. Returns 1.0 when no gap in [0, 1] reaches the power (the run could miss anything).
    """
    n_eff = n_pairs / max(1.0, design_effect)
    if n_eff <= 0 or mcnemar_power(1.0, n_eff, discordance, alpha) < power:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if mcnemar_power(mid, n_eff, discordance, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def normal_mde(se: float, *, alpha: float = 0.05, power: float = 0.8, cap: float = 1.0) -> float:
    """Minimum detectable effect for a roughly normal estimate with standard error `se`."""
    if not math.isfinite(se):
        return cap
    return min(cap, (z_quantile(1 - alpha / 2) + z_quantile(power)) * se)


# --- cluster bootstrap -----------------------------------------------------------------------


class ClusterBootstrap:
    """Resampling weights over a fixed set of clusters, shared by every contrast on those clusters.

    Replicate r draws n_clusters clusters with replacement; `weights[r, k]` counts how often
    cluster k was drawn. Chunks are seeded by (seed, chunk index), so results do not depend on
    whether the matrix was cached, and a fixed seed makes reports reproducible.
    """

    chunk_rows = 250

    def __init__(self, n_clusters: int, reps: int = 2000, seed: int = 0) -> None:
        if n_clusters < 1 or reps < 1:
            raise ValueError("need at least one cluster and one replicate")
        self.n_clusters = n_clusters
        self.reps = reps
        self.seed = seed
        self._cached: list[NDArray[np.float32]] | None = None
        if reps * n_clusters <= _CACHE_LIMIT:
            self._cached = list(self._draw())

    def _draw(self) -> Iterator[NDArray[np.float32]]:
        k = self.n_clusters
        for index, start in enumerate(range(0, self.reps, self.chunk_rows)):
            rows = min(self.chunk_rows, self.reps - start)
            rng = np.random.default_rng([self.seed, index])
            picks = rng.integers(0, k, size=(rows, k)) + (np.arange(rows) * k)[:, None]
            counts = np.bincount(picks.ravel(), minlength=rows * k).reshape(rows, k)
            yield counts.astype(np.float32)

    def _chunks(self) -> Iterator[NDArray[np.float32]]:
        return iter(self._cached) if self._cached is not None else self._draw()

    def means(self, cluster_sums: ArrayLike, cluster_counts: ArrayLike) -> list[FloatArray]:
        """Bootstrap distributions of ratio means (sum over pairs / number of pairs), many at once.

        Columns of the (clusters x contrasts) inputs are separate contrasts; one matrix product
        per chunk serves them all. Replicates that drew no cluster with data are dropped
        (possible only for sparse subsets).
        """
        sums = np.asarray(cluster_sums, dtype=np.float32).reshape(self.n_clusters, -1)
        counts = np.asarray(cluster_counts, dtype=np.float32).reshape(self.n_clusters, -1)
        both = np.concatenate([sums, counts], axis=1)
        width = sums.shape[1]
        parts = []
        for w in self._chunks():
            parts.append((w @ both).astype(np.float64))
        stacked = np.concatenate(parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = stacked[:, :width] / stacked[:, width:]
        return [col[np.isfinite(col)] for col in ratios.T]


def percentile_interval(boot: ArrayLike, level: float) -> tuple[float, float]:
    """Percentile interval of a bootstrap distribution."""
    b = np.asarray(boot, dtype=float)
    if b.size == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2
    lo, hi = np.quantile(b, [tail, 1 - tail])
    return (float(lo), float(hi))


def cluster_sums(values: ArrayLike, clusters: ArrayLike, n_clusters: int) -> tuple[FloatArray, FloatArray]:
    """Per-cluster sums and counts of pair-level values; clusters are integer codes 0..n-1."""
    v = np.asarray(values, dtype=float)
    c = np.asarray(clusters, dtype=np.int64)
    sums: FloatArray = np.bincount(c, weights=v, minlength=n_clusters).astype(np.float64)
    counts: FloatArray = np.bincount(c, minlength=n_clusters).astype(np.float64)
    return sums, counts


# --- paired contrasts ------------------------------------------------------------------------


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
