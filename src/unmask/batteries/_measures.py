"""Helpers the batteries' analyses share: reading the report's rows, and pairing a second column.

A battery's primary outcome is paired once, by the report's contrast table. What a battery adds
(the likelihood of the right letter, a self-preservation action, a reply's text) is another column
of the same records, paired by the same engine (`evidence.pairing.pair_index`), never by a
pairing loop of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evidence.pairing import Encoded, PairIndex, answered, encode, pair_index
from ..evidence.records import SampleRecord
from ..stats import mcnemar_exact, paired_t_p
from .contract import Table

ROW_KEYS = ("id", "label", "levels", "item_kind", "family", "n_pairs", "n_clusters", "gap", "ci", "corrected_ci",
            "p", "p_adjusted", "adjustment", "mde")


def row_copy(row: Mapping[str, Any]) -> dict[str, Any]:
    """The key numbers of a contrast row, copied (never recomputed) into a battery's measures."""
    out = {k: row.get(k) for k in ROW_KEYS}
    levels = list(row.get("levels") or [])
    out |= {"name": row.get("label"), "a": levels[0] if levels else None, "b": levels[1] if len(levels) > 1 else None,
            "p_value": row.get("p"), "n_pairs": int(row.get("n_pairs") or 0)}
    return out


def main_row(rows: Sequence[Mapping[str, Any]], axis: str, a: str, b: str) -> list[Mapping[str, Any]]:
    """The pooled main-effect rows (one per item kind) of `a - b` on `axis`."""
    return [r for r in rows if r["kind"] == "main" and r["axes"] == [axis] and list(r["levels"]) == [a, b]
            and not r["subset"]]


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def number(x: Any) -> float | None:
    """A finite number from a report, else None (a missing or non-finite figure never passes a check)."""
    return float(x) if finite(x) else None


@dataclass
class Column:
    """Records of one battery, encoded once, with a way to pair any value column of them."""

    records: Sequence[SampleRecord]
    enc: Encoded

    @classmethod
    def of(cls, records: Sequence[SampleRecord]) -> Column:
        return cls(records, encode(records))

    def values(self, value: Callable[[SampleRecord], Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        out = np.full(len(self.records), np.nan)
        for i, r in enumerate(self.records):
            v = value(r)
            if finite(v):
                out[i] = float(v)
        return out

    def pairs(self, axis: str, a: str, b: str, eligible: np.ndarray[Any, np.dtype[np.bool_]] | None = None
              ) -> PairIndex:
        """Pairs of replies (scored or unscorable) by default: text measures need every answered pair."""
        return pair_index(self.enc, axis, a, b, answered(self.enc) if eligible is None else eligible)

    def paired_change(self, axis: str, a: str, b: str, value: Callable[[SampleRecord], Any]) -> dict[str, Any]:
        """mean(value at a - value at b) over pairs where both have the value, with an exact test."""
        vals = self.values(value)
        index = self.pairs(axis, a, b, ~np.isnan(vals) & (self.enc.cluster >= 0))
        x, y = vals[index.high], vals[index.low]
        if not x.size:
            return {"n_pairs": 0, "gap": None, "p": None}
        binary = bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
        p = (mcnemar_exact(int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())) if binary
             else paired_t_p(x - y))
        return {"n_pairs": int(x.size), "gap": float((x - y).mean()), "p": p}


def pts(x: Any) -> str:
    return f"{x * 100:+.1f} pts" if finite(x) else "n/a"


def pct(x: Any) -> str:
    return f"{x * 100:.1f}%" if finite(x) else "n/a"


def interval(pair: Any, signed: bool = False) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(finite(v) for v in pair):
        return "n/a"
    lo, hi = (f"{v * 100:+.1f}" if signed else f"{v * 100:.1f}%" for v in pair)
    return f"[{lo}, {hi}]"


def pval(x: Any) -> str:
    return f"{x:.3g}" if finite(x) else "n/a"


CONTRAST_HEAD = ("contrast", "items", "family", "pairs", "change", "interval", "corrected interval", "p", "adj. p")


def contrast_table(caption: str, rows: Sequence[Mapping[str, Any]],
                   extra: tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] | None = None) -> Table:
    """The battery's pooled contrast rows as the report computed them, plus any extra columns."""
    head = CONTRAST_HEAD + (tuple(extra[0].split("|")) if extra else ())
    body = [(r["label"], r["item_kind"], "gated" if r["family"] == "confirmatory" else "exploratory", r["n_pairs"],
             pts(r["gap"]), interval(r["ci"], True),
             interval(r["corrected_ci"], True) if r["family"] == "confirmatory" else "—",
             pval(r["p"]), f"{pval(r['p_adjusted'])} ({r['adjustment']})", *(extra[1](r) if extra else ()))
            for r in rows]
    return Table(caption, head, body, (3, 4, 5, 7, 8))
