"""Linear probes and the metrics they are judged by, each beside its baselines.

A probe's score is a projection on a direction. It is reported with AUROC and with recall at a fixed
false-positive rate (1% by default) because a deployed monitor runs at a threshold, and an AUROC of 0.9
can hide a recall near zero there. Random directions of the same dimension are the floor a probe must
clear: in a few hundred dimensions the best of many random directions separates surprisingly well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..stats.separation import Separation, auroc, recall_at_fpr, separation

__all__ = ["Separation", "auroc", "best_random", "length_scores", "logistic", "mean_difference", "project",
           "random_directions", "recall_at_fpr", "separation", "stack_labels", "text_only_scores", "unit"]


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


def length_scores(train_lengths: Sequence[int], train_labels: np.ndarray, test_lengths: Sequence[int]) -> np.ndarray:
    """The prompt-length probe: test lengths, signed so that the side longer in training scores higher.

    If the two levels' cues differ in length, a probe can separate them by reading how many tokens there
    are; this baseline says how far that alone goes.
    """
    lengths, labels = np.asarray(train_lengths, dtype=float), np.asarray(train_labels)
    sign = 1.0 if lengths[labels == 1].mean() >= lengths[labels == 0].mean() else -1.0
    return sign * np.asarray(test_lengths, dtype=float)


def text_only_scores(train_texts: Sequence[str], train_labels: np.ndarray, test_texts: Sequence[str]) -> np.ndarray:
    """The text-only classifier: word 1-2 gram tf-idf and a logistic regression, trained and tested on the same
    texts the probe reads. If it separates the test styles as well as the probe, the probe reads text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vectoriser.fit_transform(list(train_texts))
    fit = LogisticRegression(C=1.0, max_iter=2000).fit(x, np.asarray(train_labels))
    return np.asarray(fit.decision_function(vectoriser.transform(list(test_texts))), dtype=float)
