"""The cluster bootstrap: resampling base items, shared by every contrast on the same items."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
_CACHE_LIMIT = 40_000_000
"""Largest bootstrap weight matrix (reps x clusters) kept in memory; larger ones are redrawn per use."""


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


