"""Linear probes and the metrics they are judged by, each beside its baselines.

A probe's score is a projection on a direction. It is reported with AUROC and with recall at a fixed
false-positive rate (1% by default) because a deployed monitor runs at a threshold, and an AUROC of 0.9
can hide a recall near zero there. Random directions of the same dimension are the floor a probe must
clear: in a few hundred dimensions the best of many random directions separates surprisingly well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if norm == 0:
        raise ValueError("zero direction: the two sides of the contrast have the same mean")
    return v / norm


def mean_difference(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Unit direction from the mean of `negative` to the mean of `positive` (rows are examples)."""
    return unit(positive.mean(axis=0) - negative.mean(axis=0))


def logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 500, lr: float = 0.5) -> np.ndarray:
    """Unit weight vector of an L2-regularised logistic regression on standardised features.

    Plain full-batch gradient descent: the problems here are a few hundred rows, and a dependency on
    scikit-learn for one fit is not worth it. The weights are mapped back to the raw feature space, so the
    direction applies to unstandardised activations like a mean-difference one.
    """
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mu) / sd
    w, b = np.zeros(z.shape[1]), 0.0
    t = y.astype(float)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= lr * (z.T @ (p - t) / len(t) + l2 * w)
        b -= lr * float((p - t).mean())
    return unit(w / sd)


def random_directions(dim: int, n: int, seed: int) -> np.ndarray:
    """`n` unit directions drawn uniformly on the sphere (rows)."""
    g = np.random.default_rng(seed).standard_normal((n, dim))
    return np.asarray(g / np.linalg.norm(g, axis=1, keepdims=True))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counted half (Mann-Whitney)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.01) -> float:
    """Share of positives above the threshold that lets at most `fpr` of negatives through.

    The threshold is the smallest negative score with at most floor(fpr × negatives) negatives strictly
    above it; with 50 negatives and fpr 1% that is the largest negative, so recall must beat every one.
    """
    pos, neg = scores[labels == 1], np.sort(scores[labels == 0])[::-1]
    if not len(pos) or not len(neg):
        return float("nan")
    allowed = int(np.floor(fpr * len(neg)))
    threshold = neg[allowed] if allowed < len(neg) else -np.inf
    return float((pos > threshold).mean())


@dataclass(frozen=True)
class Separation:
    """How well one score separates positives from negatives, with item-bootstrap intervals."""

    auroc: float
    auroc_ci: tuple[float, float]
    recall: float
    recall_ci: tuple[float, float]
    fpr: float
    n_pos: int
    n_neg: int


def separation(scores: np.ndarray, labels: np.ndarray, *, fpr: float = 0.01, reps: int = 1000, seed: int = 0,
               level: float = 0.95) -> Separation:
    """AUROC and recall at `fpr`, each with a percentile bootstrap interval (positives and negatives resampled
    apart, so every resample keeps both classes)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    boot_a, boot_r = [], []
    for _ in range(reps):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        boot_a.append(auroc(scores[idx], labels[idx]))
        boot_r.append(recall_at_fpr(scores[idx], labels[idx], fpr))
    q = [(1 - level) / 2, (1 + level) / 2]
    a_lo, a_hi = np.quantile(boot_a, q)
    r_lo, r_hi = np.quantile(boot_r, q)
    return Separation(auroc(scores, labels), (float(a_lo), float(a_hi)), recall_at_fpr(scores, labels, fpr),
                      (float(r_lo), float(r_hi)), fpr, len(pos), len(neg))


def best_random(acts: np.ndarray, labels: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """The best AUROC over `n` random directions, either sign: the floor a real probe must clear."""
    dirs = random_directions(acts.shape[1], n, seed)
    best = 0.5
    for d in dirs:
        a = auroc(acts @ d, labels)
        best = max(best, a, 1 - a)
    return best


def project(acts: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return np.asarray(acts @ direction, dtype=float)


def stack_labels(positive: Sequence[np.ndarray], negative: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of both classes and their 1/0 labels."""
    x = np.concatenate([np.asarray(positive), np.asarray(negative)])
    return x, np.concatenate([np.ones(len(positive), dtype=int), np.zeros(len(negative), dtype=int)])
