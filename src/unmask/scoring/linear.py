"""A small text classifier that ships as numbers: hashed n-grams, TF-IDF weights and logistic regression.

Used by the offline scorers (compliance, alignment-faking reasoning, evaluation awareness). Hashing
(scikit-learn's HashingVectorizer: murmurhash3 with a fixed seed) needs no vocabulary file, so a model
is its configuration, the idf weights and the coefficients of the buckets training ever saw, stored
in one `.npz` with a JSON card beside it. No pickle: loading a model runs no code. Scoring 100,000
replies takes seconds to a few minutes on two cores, with no torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Channel:
    """One view of the text: which part of it, and which n-grams."""

    name: str
    analyzer: str
    """`word` or `char_wb`."""
    ngram: tuple[int, int]
    part: str = "all"
    """`all`, `head` (first `words` words) or `tail` (last `words` words)."""
    words: int = 30
    min_df: int = 2
    """n-grams seen in fewer training texts get no weight (a one-off phrase is noise, not a rule)."""

    def select(self, text: str) -> str:
        if self.part == "all":
            return text
        tokens = text.split()
        return " ".join(tokens[: self.words] if self.part == "head" else tokens[-self.words :])


N_FEATURES = 2**18
"""Buckets per channel: a few collisions among the n-grams of a few thousand training texts, a small file."""


@dataclass
class LinearModel:
    """Multinomial (or binary) logistic regression over TF-IDF of hashed n-gram channels."""

    channels: tuple[Channel, ...]
    classes: tuple[str, ...]
    idf: dict[str, tuple[NDArray[np.int64], NDArray[np.float32]]] = field(default_factory=dict)
    """channel -> (buckets seen in training, their idf)."""
    coef: sparse.csr_matrix = field(default_factory=lambda: sparse.csr_matrix((0, 0)))
    """(features, classes), sparse: channel blocks of N_FEATURES each, then the dense extras."""
    intercept: FloatArray = field(default_factory=lambda: np.zeros(0))
    extras: tuple[str, ...] = ()
    """Names of dense features appended after the text channels (e.g. rule flags)."""

    # --- features ---

    def _counts(self, channel: Channel, texts: Sequence[str]) -> sparse.csr_matrix:
        from sklearn.feature_extraction.text import HashingVectorizer

        vec = HashingVectorizer(analyzer=channel.analyzer, ngram_range=channel.ngram, n_features=N_FEATURES,
                                alternate_sign=False, norm=None, lowercase=True)
        matrix: sparse.csr_matrix = vec.transform([channel.select(t) for t in texts])
        matrix.data = 1.0 + np.log(matrix.data)  # sublinear term frequency
        return matrix

    def features(self, texts: Sequence[str], extras: NDArray[np.float64] | None = None) -> sparse.csr_matrix:
        blocks = []
        for channel in self.channels:
            counts = self._counts(channel, texts)
            buckets, idf = self.idf[channel.name]
            weights = np.zeros(N_FEATURES, dtype=np.float64)
            weights[buckets] = idf
            weighted = counts @ sparse.diags(weights)
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            blocks.append(sparse.diags(1.0 / norms) @ weighted)
        if self.extras:
            blocks.append(sparse.csr_matrix(extras if extras is not None else np.zeros((len(texts), len(self.extras)))))
        return sparse.hstack(blocks).tocsr()

    def fit_idf(self, texts: Sequence[str]) -> None:
        """Smoothed idf (as scikit-learn's) over the training texts; unseen buckets keep weight 0."""
        n = len(texts)
        for channel in self.channels:
            counts = self._counts(channel, texts)
            df = np.bincount(counts.indices, minlength=N_FEATURES)
            seen = np.flatnonzero(df >= channel.min_df)
            self.idf[channel.name] = (seen.astype(np.int64),
                                      (np.log((1 + n) / (1 + df[seen])) + 1).astype(np.float32))

    # --- the model ---

    def scores(self, x: sparse.csr_matrix) -> FloatArray:
        """Class probabilities, one row per text."""
        z = np.asarray((x @ self.coef).todense()) + self.intercept
        if len(self.classes) == 2 and self.coef.shape[1] == 1:
            p = 1 / (1 + np.exp(-z[:, 0]))
            return np.stack([1 - p, p], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: FloatArray = e / e.sum(axis=1, keepdims=True)
        return out

    def predict_proba(self, texts: Sequence[str], extras: NDArray[np.float64] | None = None) -> FloatArray:
        return self.scores(self.features(texts, extras))

    def fit(self, texts: Sequence[str], labels: Sequence[str], *, c: float = 8.0,
            extras: NDArray[np.float64] | None = None, class_weight: str | None = None) -> None:
        """Fit idf and weights on the training texts (scikit-learn's L-BFGS logistic regression)."""
        from sklearn.linear_model import LogisticRegression

        self.fit_idf(texts)
        x = self.features(texts, extras)
        clf = LogisticRegression(C=c, max_iter=5000, class_weight=class_weight)
        clf.fit(x, list(labels))
        self.classes = tuple(str(k) for k in clf.classes_)
        self.coef = sparse.csr_matrix(np.asarray(clf.coef_, dtype=np.float64).T)
        self.intercept = np.asarray(clf.intercept_, dtype=np.float64)

    # --- storage ---

    def save(self, path: Path, card: dict[str, Any]) -> None:
        """Write `<path>.npz` (numbers) and `<path>.json` (what it is, how it was made and measured)."""
        dense = self.coef.toarray()
        used = np.flatnonzero(np.any(dense != 0, axis=1))
        arrays: dict[str, Any] = {"used": used.astype(np.int64), "coef": dense[used].astype(np.float32),
                                  "intercept": self.intercept}
        for name, (buckets, idf) in self.idf.items():
            arrays[f"idf_buckets_{name}"] = buckets
            arrays[f"idf_{name}"] = idf
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        meta = {"channels": [vars(c) | {"ngram": list(c.ngram)} for c in self.channels], "classes": list(self.classes),
                "extras": list(self.extras), "n_features": N_FEATURES,
                "weights_sha256": hashlib.sha256(path.with_suffix(".npz").read_bytes()).hexdigest(), **card}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> tuple[LinearModel, dict[str, Any]]:
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        raw = path.with_suffix(".npz").read_bytes()
        if hashlib.sha256(raw).hexdigest() != meta["weights_sha256"]:
            raise ValueError(f"{path.with_suffix('.npz')} does not match the sha256 its card records")
        channels = tuple(Channel(c["name"], c["analyzer"], (c["ngram"][0], c["ngram"][1]), c["part"], c["words"],
                                 c["min_df"]) for c in meta["channels"])
        model = cls(channels, tuple(meta["classes"]), extras=tuple(meta["extras"]))
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as data:
            width = N_FEATURES * len(channels) + len(model.extras)
            used, values = data["used"], data["coef"].astype(np.float64)
            rows = np.repeat(used, values.shape[1])
            cols = np.tile(np.arange(values.shape[1]), len(used))
            model.coef = sparse.csr_matrix((values.ravel(), (rows, cols)), shape=(width, values.shape[1]))
            model.intercept = np.asarray(data["intercept"], dtype=np.float64)
            model.idf = {c.name: (data[f"idf_buckets_{c.name}"], data[f"idf_{c.name}"]) for c in channels}
        return model, meta
