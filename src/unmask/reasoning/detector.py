"""Sentence detectors: find the sentences that carry a criterion, then judge the whole text.

A reasoning trace is long and the evidence is one or two sentences, so each criterion has a sentence
model (hashed n-grams, fitted on the sentences people quoted as evidence); a text's score for the
criterion is its best sentence, and that sentence is the quote shown with it. A text-level model
reads the whole trace, and a small combiner (fitted on out-of-fold scores, so it learns how far to
trust each part on text it has not seen) turns them into one probability.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..scoring.linear import Channel, LinearModel
from .text import Sentence, overlaps, sentences

SENTENCE_CHANNELS = (Channel("words", "word", (1, 3)), Channel("chars", "char_wb", (3, 5), min_df=3))
TEXT_CHANNELS = (Channel("words", "word", (1, 3)), Channel("chars", "char_wb", (3, 5), min_df=3),
                 Channel("tail", "word", (1, 3), part="tail", words=80))
FOLDS = 5


def logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    out: NDArray[np.float64] = np.log(q / (1 - q))
    return out


@dataclass(frozen=True)
class Example:
    """A labelled text: its label and, per criterion, the character spans people quoted as its evidence."""

    text: str
    label: int
    spans: dict[str, list[tuple[int, int]]]


@dataclass
class Detector:
    criteria: tuple[str, ...]
    sentence_models: dict[str, LinearModel] = field(default_factory=dict)
    text_model: LinearModel | None = None
    combiner: list[float] = field(default_factory=list)
    """Intercept, then one weight per criterion logit, then the text-model logit."""

    # --- reading ---

    def criterion_scores(self, parts: Sequence[Sequence[Sentence]]) -> tuple[NDArray[np.float64], list[list[int]]]:
        """(texts x criteria) best-sentence probabilities, and the index of that sentence in each text."""
        flat = [s.text for ss in parts for s in ss]
        owner = np.array([i for i, ss in enumerate(parts) for _ in ss], dtype=np.int64)
        best = np.zeros((len(parts), len(self.criteria)))
        where = [[-1] * len(self.criteria) for _ in parts]
        if not flat:
            return best, where
        offsets = np.cumsum([0, *[len(ss) for ss in parts]])
        for k, name in enumerate(self.criteria):
            p = self.sentence_models[name].predict_proba(flat)[:, 1]
            for i in range(len(parts)):
                lo, hi = offsets[i], offsets[i + 1]
                if hi > lo:
                    j = int(np.argmax(p[lo:hi]))
                    best[i, k], where[i][k] = float(p[lo + j]), j
        del owner
        return best, where

    def probability(self, texts: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64], list[list[int]],
                                                         list[list[Sentence]]]:
        """(probability per text, criterion scores, best-sentence indices, the sentences)."""
        parts = [sentences(t) for t in texts]
        crit, where = self.criterion_scores(parts)
        assert self.text_model is not None
        whole = self.text_model.predict_proba(list(texts))[:, 1]
        z = self.combiner[0] + logit(crit) @ np.array(self.combiner[1: 1 + len(self.criteria)]) \
            + self.combiner[-1] * logit(whole)
        empty = np.array([not t.strip() for t in texts])
        p = np.where(empty, 0.0, 1 / (1 + np.exp(-z)))
        return p, crit, where, parts

    # --- fitting ---

    def fit(self, examples: Sequence[Example], *, c: float = 8.0) -> None:
        folds = np.arange(len(examples)) % FOLDS
        oof_crit = np.zeros((len(examples), len(self.criteria)))
        oof_text = np.zeros(len(examples))
        for f in range(FOLDS):
            train = [e for e, k in zip(examples, folds, strict=True) if k != f]
            held = [i for i, k in enumerate(folds) if k == f]
            part = Detector(self.criteria)
            part._fit_parts(train, c)
            texts = [examples[i].text for i in held]
            crit, _ = part.criterion_scores([sentences(t) for t in texts])
            assert part.text_model is not None
            oof_crit[held] = crit
            oof_text[held] = part.text_model.predict_proba(texts)[:, 1]
        self._fit_parts(examples, c)
        from sklearn.linear_model import LogisticRegression

        x = np.hstack([logit(oof_crit), logit(oof_text)[:, None]])
        combiner = LogisticRegression(C=1.0, max_iter=2000).fit(x, [e.label for e in examples])
        self.combiner = [float(combiner.intercept_[0]), *map(float, combiner.coef_[0])]

    def _fit_parts(self, examples: Sequence[Example], c: float) -> None:
        sents: list[str] = []
        marks: dict[str, list[int]] = {name: [] for name in self.criteria}
        for e in examples:
            for s in sentences(e.text):
                sents.append(s.text)
                for name in self.criteria:
                    marks[name].append(int(any(overlaps(s, a, b) for a, b in e.spans.get(name, []))))
        for name in self.criteria:
            model = LinearModel(SENTENCE_CHANNELS, ("0", "1"))
            model.fit(sents, [str(m) for m in marks[name]], c=c, class_weight="balanced")
            self.sentence_models[name] = model
        self.text_model = LinearModel(TEXT_CHANNELS, ("0", "1"))
        self.text_model.fit([e.text for e in examples], [str(e.label) for e in examples], c=c / 2)

    # --- storage ---

    def save(self, directory: Path, card: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, model in self.sentence_models.items():
            model.save(directory / f"sentence_{name}", {"role": f"sentence model for {name}"})
        assert self.text_model is not None
        self.text_model.save(directory / "text", {"role": "text model"})
        (directory / "detector.json").write_text(json.dumps(
            {"criteria": list(self.criteria), "combiner": self.combiner, **card}, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> tuple[Detector, dict[str, Any]]:
        card = json.loads((directory / "detector.json").read_text(encoding="utf-8"))
        detector = cls(tuple(card["criteria"]), combiner=list(card["combiner"]))
        for name in detector.criteria:
            detector.sentence_models[name] = LinearModel.load(directory / f"sentence_{name}")[0]
        detector.text_model = LinearModel.load(directory / "text")[0]
        return detector, card


def spans_of(text: str, quotes: Sequence[str]) -> list[tuple[int, int]]:
    """Where each quote sits in the text (a quote that is not there is left out, never guessed)."""
    out = []
    for q in quotes:
        i = text.find(q)
        if i >= 0:
            out.append((i, i + len(q)))
    return out


def nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x
