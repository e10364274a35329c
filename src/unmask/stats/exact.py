"""Exact and small-sample tests: binomial and McNemar, paired t, Wilcoxon signed-rank."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


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


