"""How well a score separates two classes: AUROC and recall at a fixed false-positive rate, with intervals.

Both are reported because a deployed monitor runs at a threshold, and an AUROC of 0.9 can hide a recall near
zero at 1% false positives. Intervals come from a bootstrap over *groups* when rows share one (the same request
rendered under both levels, several styles and paraphrases): rows of one request are not independent, and
resampling them apart would make the interval too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["Separation", "auroc", "recall_at_fpr", "separation"]


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann-Whitney)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.01) -> float:
    """Share of positives above the threshold that lets at most `fpr` of negatives through.

    The threshold is the smallest negative score with at most floor(fpr × negatives) negatives strictly
    above it; with 50 negatives and fpr 1% that is the largest negative, so recall must beat every one.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    pos, neg = scores[labels == 1], np.sort(scores[labels == 0])[::-1]
    if not len(pos) or not len(neg):
        return float("nan")
    allowed = int(np.floor(fpr * len(neg)))
    threshold = neg[allowed] if allowed < len(neg) else -np.inf
    return float((pos > threshold).mean())


@dataclass(frozen=True)
class Separation:
    """How well one score separates positives from negatives, with bootstrap intervals."""

    auroc: float
    auroc_ci: tuple[float, float]
    recall: float
    recall_ci: tuple[float, float]
    fpr: float
    n_pos: int
    n_neg: int


def separation(scores: np.ndarray, labels: np.ndarray, *, groups: Sequence[str] | None = None, fpr: float = 0.01,
               reps: int = 1000, seed: int = 0, level: float = 0.95) -> Separation:
    """AUROC and recall at `fpr`, each with a percentile bootstrap interval.

    Without `groups`, positives and negatives are resampled apart (every resample keeps both classes); with
    them, whole groups are resampled, and a resample that lost a class is drawn again.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    rng = np.random.default_rng(seed)
    if groups is None:
        pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)

        def draw() -> np.ndarray:
            return np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
    else:
        keys = np.asarray(groups)
        members = [np.flatnonzero(keys == g) for g in dict.fromkeys(keys.tolist())]

        def draw() -> np.ndarray:
            while True:
                idx = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
                if 0 < labels[idx].sum() < len(idx):
                    return idx
    boot_a, boot_r = [], []
    for _ in range(reps):
        idx = draw()
        boot_a.append(auroc(scores[idx], labels[idx]))
        boot_r.append(recall_at_fpr(scores[idx], labels[idx], fpr))
    q = [(1 - level) / 2, (1 + level) / 2]
    a_lo, a_hi = np.quantile(boot_a, q)
    r_lo, r_hi = np.quantile(boot_r, q)
    return Separation(auroc(scores, labels), (float(a_lo), float(a_hi)), recall_at_fpr(scores, labels, fpr),
                      (float(r_lo), float(r_hi)), fpr, int((labels == 1).sum()), int((labels == 0).sum()))
