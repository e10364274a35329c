"""Exact power of the paired McNemar test, used to choose the shipped suites' sample counts.

`stats.mcnemar_power` is the normal approximation (what the report uses for minimum detectable effects);
the suite defaults come from the exact test, summed over the number of discordant pairs, because
at the small counts a CPU run can afford the approximation is optimistic.
"""

from __future__ import annotations

from functools import cache

from scipy.stats import binom


@cache
def _critical(d: int, alpha: float) -> int:
    """Largest k with two-sided exact binomial p(k of d at 1/2) <= alpha; -1 when none."""
    best = -1
    for k in range(d // 2 + 1):
        if min(1.0, 2 * float(binom.cdf(k, d, 0.5))) <= alpha:
            best = k
        else:
            break
    return best


def exact_mcnemar_power(n_pairs: int, delta: float, discordance: float, alpha: float = 0.05) -> float:
    """P(exact McNemar rejects) with n pairs, true gap `delta` and discordance q (q >= |delta|).

    Discordant pairs D ~ Bin(n, q); given D, pairs favouring `a` ~ Bin(D, (q + delta) / 2q).
    """
    q = max(discordance, abs(delta))
    if n_pairs <= 0 or q <= 0:
        return 0.0
    share = (q + abs(delta)) / (2 * q)
    total = 0.0
    for d in range(n_pairs + 1):
        weight = float(binom.pmf(d, n_pairs, q))
        if weight < 1e-12:
            continue
        k = _critical(d, alpha)
        if k < 0:
            continue
        # reject when min(b, d - b) <= k: b <= k or b >= d - k
        reject = float(binom.cdf(k, d, share)) + float(binom.sf(d - k - 1, d, share))
        total += weight * min(1.0, reject)
    return total


def pairs_needed(delta: float, discordance: float, *, alpha: float = 0.05, power: float = 0.8,
                 limit: int = 5000) -> int:
    """Smallest pair count whose exact McNemar power reaches `power` (scanning upward; power is not monotone)."""
    for n in range(2, limit):
        if exact_mcnemar_power(n, delta, discordance, alpha) >= power and \
                exact_mcnemar_power(n + 1, delta, discordance, alpha) >= power:
            return n
    return limit


def detectable_gap(n_pairs: int, discordance: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest gap (to 0.01) the exact test finds with `power` at n pairs; 1.0 when none does."""
    for step in range(1, 101):
        delta = step / 100
        if exact_mcnemar_power(n_pairs, delta, max(discordance, delta), alpha) >= power:
            return delta
    return 1.0
