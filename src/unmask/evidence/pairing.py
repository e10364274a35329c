"""The one pairing engine: observations become integer columns once, and a contrast's pairs are a group-by.

Two observations pair for axis A when they share base item, cue style, paraphrase, epoch and every
other condition (design.md, contract 1). That shared part becomes one integer group key, so finding
every pair of a contrast is a few numpy operations instead of a Python loop per observation.

Everything that pairs goes through `pair_index`: the report's contrast rows (`main_pairs`,
`interaction_pairs`) and a battery's extra measures, which pair other columns of the same records
(a second scorer's value, the reply texts) by the indices it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .records import SampleRecord

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
STATUS_CODES = {"scored": 0, "unscorable": 1, "error": 2, "no_score": 3}


@dataclass
class Encoded:
    """One stratum's observations as columns; -1 marks an absent pair id or an axis a sample does not set."""

    outcome: FloatArray
    """NaN unless the sample was scored."""
    status: IntArray
    cluster: IntArray
    pair_ids: list[str]
    style: IntArray
    style_names: list[str]
    paraphrase: IntArray
    epoch: IntArray
    levels: dict[str, IntArray]
    level_names: dict[str, list[str]]

    def level_mask(self, axis: str, level: str) -> NDArray[np.bool_]:
        names = self.level_names.get(axis, [])
        if level not in names:
            return np.zeros(self.outcome.size, dtype=bool)
        mask: NDArray[np.bool_] = self.levels[axis] == names.index(level)
        return mask


def _codes(values: Sequence[str]) -> tuple[IntArray, list[str]]:
    names = sorted(set(values))
    lookup = {name: i for i, name in enumerate(names)}
    return np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values)), names


def encode(records: Sequence[SampleRecord]) -> Encoded:
    """Columns for one stratum (a battery and item kind)."""
    pair_ids = sorted({r.pair_id for r in records if r.pair_id is not None})
    lookup = {p: i for i, p in enumerate(pair_ids)}
    axes = sorted({axis for r in records for axis in r.conditions})
    levels: dict[str, IntArray] = {}
    level_names: dict[str, list[str]] = {}
    for axis in axes:
        names = sorted({r.conditions[axis] for r in records if axis in r.conditions})
        index = {name: i for i, name in enumerate(names)}
        levels[axis] = np.fromiter((index.get(r.conditions.get(axis, ""), -1) for r in records), dtype=np.int64,
                                   count=len(records))
        level_names[axis] = names
    style, style_names = _codes([r.style for r in records])
    scored = [r.status == "scored" and r.outcome is not None for r in records]
    return Encoded(
        outcome=np.fromiter((r.outcome if ok else np.nan for r, ok in zip(records, scored, strict=True)),
                            dtype=np.float64, count=len(records)),
        status=np.fromiter((STATUS_CODES[r.status] for r in records), dtype=np.int64, count=len(records)),
        cluster=np.fromiter((lookup.get(r.pair_id, -1) if r.pair_id is not None else -1 for r in records),
                            dtype=np.int64, count=len(records)),
        pair_ids=pair_ids, style=style, style_names=style_names,
        paraphrase=np.fromiter((r.paraphrase for r in records), dtype=np.int64, count=len(records)),
        epoch=np.fromiter((r.epoch for r in records), dtype=np.int64, count=len(records)),
        levels=levels, level_names=level_names,
    )


def _group(enc: Encoded, exclude: Sequence[str]) -> IntArray:
    """A group id per observation: equal ids share item, style, paraphrase, epoch and all other conditions."""
    columns = [enc.cluster + 1, enc.style, enc.paraphrase - enc.paraphrase.min(initial=0),
               enc.epoch - enc.epoch.min(initial=0)]
    columns += [enc.levels[a] + 1 for a in sorted(enc.levels) if a not in exclude]
    key = np.zeros(enc.outcome.size, dtype=np.int64)
    capacity = 1
    for column in columns:
        size = int(column.max(initial=0)) + 1
        if capacity * size >= 2**62:  # too many combinations for one integer: compress what we have first
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            capacity = int(key.max(initial=0)) + 1
        key = key * size + column
        capacity *= size
    return np.unique(key, return_inverse=True)[1].astype(np.int64).ravel()


@dataclass
class Pairs:
    """Matched observations of one contrast (columns in contrast order) and the cell each came from."""

    columns: list[FloatArray]
    cluster: IntArray
    style: IntArray
    paraphrase: IntArray
    unpaired: int = 0


def _partner(group: IntArray, mask: NDArray[np.bool_], outcome: FloatArray, n_groups: int) -> FloatArray:
    """For every group, the outcome of its observation selected by `mask` (NaN where there is none)."""
    values = np.full(n_groups, np.nan)
    chosen = mask & ~np.isnan(outcome)
    values[group[chosen]] = outcome[chosen]
    return values


def usable(enc: Encoded) -> NDArray[np.bool_]:
    """Observations that can enter a pair on the primary outcome: scored, with a base item."""
    mask: NDArray[np.bool_] = ~np.isnan(enc.outcome) & (enc.cluster >= 0)
    return mask


def answered(enc: Encoded) -> NDArray[np.bool_]:
    """Observations with a reply (scored or unscorable) and a base item: what text measures pair."""
    mask: NDArray[np.bool_] = (enc.status <= STATUS_CODES["unscorable"]) & (enc.cluster >= 0)
    return mask


@dataclass
class PairIndex:
    """Matched observations of `high - low` on one axis, as indices into the encoded records."""

    high: IntArray
    low: IntArray
    unpaired: int


def pair_index(enc: Encoded, axis: str, high: str, low: str, eligible: NDArray[np.bool_] | None = None
               ) -> PairIndex:
    """Pairs for `high - low` of one axis among `eligible` observations (default: `usable`), all else equal.

    When one cell holds several observations at `low` (a malformed log), the last one is its partner.
    """
    ok = usable(enc) if eligible is None else eligible
    group = _group(enc, [axis])
    n_groups = int(group.max(initial=-1)) + 1
    at_high = enc.level_mask(axis, high) & ok
    at_low = enc.level_mask(axis, low) & ok
    partner = np.full(n_groups, -1, dtype=np.int64)
    partner[group[at_low]] = np.flatnonzero(at_low)
    highs = np.flatnonzero(at_high)
    lows = partner[group[highs]]
    keep = lows >= 0
    n = int(keep.sum())
    return PairIndex(highs[keep], lows[keep], int(at_high.sum()) - n + int(at_low.sum()) - n)


def main_pairs(enc: Encoded, axis: str, high: str, low: str, eligible: NDArray[np.bool_] | None = None) -> Pairs:
    """Pairs for `high - low` of one axis on the primary outcome, with everything else held equal."""
    index = pair_index(enc, axis, high, low, eligible)
    h, lo = index.high, index.low
    return Pairs([enc.outcome[h], enc.outcome[lo]], enc.cluster[h], enc.style[h], enc.paraphrase[h],
                 unpaired=index.unpaired)


def interaction_pairs(enc: Encoded, first: tuple[str, str, str], second: tuple[str, str, str]) -> Pairs:
    """Quadruples for an interaction: outcomes at (a0,b0), (a1,b0), (a0,b1), (a1,b1), all else equal."""
    (ax_a, a0, a1), (ax_b, b0, b1) = first, second
    group = _group(enc, [ax_a, ax_b])
    n_groups = int(group.max(initial=-1)) + 1
    usable = ~np.isnan(enc.outcome) & (enc.cluster >= 0)
    cells = [_partner(group, enc.level_mask(ax_a, la) & enc.level_mask(ax_b, lb) & usable, enc.outcome, n_groups)
             for la, lb in ((a0, b0), (a1, b0), (a0, b1), (a1, b1))]
    anchor = enc.level_mask(ax_a, a0) & enc.level_mask(ax_b, b0) & usable
    values = [cell[group] for cell in cells]
    matched = anchor & np.all([~np.isnan(v) for v in values], axis=0)
    return Pairs([v[matched] for v in values], enc.cluster[matched], enc.style[matched], enc.paraphrase[matched])
