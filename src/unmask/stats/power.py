"""Power: the smallest gap a paired run could have detected, and the pairs a suite needs.

`mcnemar_power` / `mcnemar_mde` are the normal approximation (Connor 1987) the report uses for
minimum detectable effects; `exact_mcnemar_power` sums the exact test over the number of discordant
pairs and sizes the shipped suites, because at the small counts a CPU run can afford the
approximation is optimistic.
"""

from __future__ import annotations

import math
from functools import cache
from statistics import NormalDist

from .rates import z_quantile

_NORMAL = NormalDist()


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


@cache
def _critical(d: int, alpha: float) -> int:
    """Largest k with two-sided exact binomial p(k of d at 1/2) <= alpha; -1 when none."""
    from scipy.stats import binom  # slow to import: only suite sizing needs it

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
    from scipy.stats import binom

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
