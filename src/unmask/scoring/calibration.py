"""How well a scorer agrees with people, measured on a labelled set, with bootstrap intervals.

`unmask calibrate` runs a scorer over a labelled JSONL and writes a calibration record: the labelled
set's sha256, the scorer's own hash (model weights or rubric), agreement, the confusion matrix,
AUROC, recall at 1% and 5% false-positive rate, and the threshold chosen on that set, each figure
with a 95% percentile bootstrap interval over records. A run cites the record (its manifest carries
it) and the report prints it beside the rates the scorer produced.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from ..errors import InputError
from ..yamlio import read_text

REPS = 2000
SEED = 20240917
FPRS = (0.01, 0.05)


@dataclass(frozen=True)
class Labelled:
    """A labelled set as read: records (with `split`), the file's sha256, and where it came from."""

    path: Path
    records: list[dict[str, Any]]
    sha256: str


def read_labelled(path: str | Path, *, required: Sequence[str], labels: Sequence[Any], split: str | None = None
                  ) -> Labelled:
    """Read a labelled JSONL; a bad line is an error naming file, line and field (exit 2)."""
    location = Path(path)
    if not location.is_file():
        raise InputError("labelled set not found", path=location, fix="check the path")
    raw = location.read_bytes()
    records = []
    seen: dict[str, int] = {}
    for number, line in enumerate(read_text(location).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not a JSON object ({exc.msg})", path=location, line=number,
                             fix="one JSON object per line") from exc
        if not isinstance(record, dict):
            raise InputError("not a JSON object", path=location, line=number, fix="one JSON object per line")
        for key in required:
            if key not in record or record[key] is None:
                raise InputError("missing", path=location, line=number, field=key,
                                 fix=f"every record needs {', '.join(required)}")
            if key != "label" and not isinstance(record[key], str):
                raise InputError(f"{type(record[key]).__name__}, not text", path=location, line=number, field=key,
                                 fix="write the text as a JSON string")
        if isinstance(record["label"], bool) or record["label"] not in labels:
            raise InputError(f"label {record['label']!r} is not one of {list(labels)}", path=location, line=number,
                             field="label", fix="use the labels docs/classifiers.md defines")
        for key in ("id", "split"):
            if key in record and not isinstance(record[key], str):
                raise InputError(f"{type(record[key]).__name__}, not text", path=location, line=number, field=key,
                                 fix="write it as a JSON string")
        if "id" in record:
            if record["id"] in seen:
                raise InputError(f"id {record['id']!r} is also on line {seen[record['id']]}", path=location,
                                 line=number, field="id", fix="give every record its own id")
            seen[record["id"]] = number
        if split is None or record.get("split", split) == split:
            records.append(record)
    if not records:
        raise InputError(f"no records{f' in split {split!r}' if split else ''}", path=location,
                         fix="check the file (and --split)")
    return Labelled(location, records, hashlib.sha256(raw).hexdigest())


def auroc(scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN without both classes."""
    pos, neg = scores[positive], scores[~positive]
    if not pos.size or not neg.size:
        return math.nan
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(order.size)
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < values.size:  # average ranks over ties
        j = i
        while j + 1 < values.size and values[j + 1] == values[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def recall_at_fpr(scores: NDArray[np.float64], positive: NDArray[np.bool_], fpr: float) -> float:
    """Share of positives above the threshold that lets at most `fpr` of the negatives through."""
    neg = np.sort(scores[~positive])[::-1]
    if not neg.size or not positive.any():
        return math.nan
    allowed = math.floor(fpr * neg.size)
    cut = neg[allowed] if allowed < neg.size else -math.inf
    return float((scores[positive] > cut).mean())


def best_threshold(scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> float:
    """The cut that maximises binary agreement (ties: the one nearest 0.5)."""
    candidates = np.unique(np.concatenate([scores, [0.5]]))
    agreement = [((scores >= t) == positive).mean() for t in candidates]
    top = max(agreement)
    return float(min((t for t, a in zip(candidates, agreement, strict=True) if a == top), key=lambda t: abs(t - 0.5)))


def figures(truth: Sequence[Any], predicted: Sequence[Any], score: Sequence[float | None],
            positive: Callable[[Any], bool], labels: Sequence[Any], threshold: float | None = None,
            reps: int = REPS, seed: int = SEED) -> dict[str, Any]:
    """Agreement, confusion, AUROC and recall at fixed FPR, with bootstrap intervals over records.

    `score` is the scorer's probability that a record is positive (None: the scorer could not read it;
    such records count as disagreements and are left out of AUROC).
    """
    truth_a = np.array(truth, dtype=object)
    pred_a = np.array(predicted, dtype=object)
    s = np.array([math.nan if v is None else float(v) for v in score])
    pos = np.array([positive(t) for t in truth_a])
    pred_pos = np.array([positive(p) if p in labels else False for p in pred_a])
    readable = ~np.isnan(s)
    t = threshold if threshold is not None else best_threshold(s[readable], pos[readable]) if readable.any() else 0.5

    def stats(idx: NDArray[np.int64]) -> dict[str, float]:
        ok = readable[idx]
        return {"agreement": float((truth_a[idx] == pred_a[idx]).mean()),
                "binary_agreement": float((pos[idx] == pred_pos[idx]).mean()),
                "auroc": auroc(s[idx][ok], pos[idx][ok]),
                **{f"recall_at_{int(f * 100)}pct_fpr": recall_at_fpr(s[idx][ok], pos[idx][ok], f) for f in FPRS}}

    point = stats(np.arange(len(truth_a)))
    rng = np.random.default_rng(seed)
    draws = [stats(rng.integers(0, len(truth_a), len(truth_a))) for _ in range(reps)]
    out: dict[str, Any] = {"n": len(truth_a), "unreadable": int((~readable).sum()), "threshold": t}
    for key, value in point.items():
        column = np.array([d[key] for d in draws], dtype=float)
        column = column[~np.isnan(column)]
        lo, hi = (np.quantile(column, [0.025, 0.975]) if column.size else (math.nan, math.nan))
        out[key] = {"value": value, "ci": [float(lo), float(hi)]}
    out["confusion"] = {"labels": [str(x) for x in labels],
                        "rows": [[int(((truth_a == a) & (pred_a == b)).sum()) for b in labels] for a in labels],
                        "unscorable": [int(((truth_a == a) & ~np.isin(pred_a, list(labels))).sum()) for a in labels]}
    return out


def record(scorer: str, method: str, scorer_sha256: str, labelled: Labelled, split: str | None,
           result: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The calibration record a run cites."""
    body = {"kind": "unmask.calibration", "version": 1, "scorer": scorer, "method": method,
            "scorer_sha256": scorer_sha256, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "unmask": __version__,
            "labelled_set": {"path": labelled.path.name, "sha256": labelled.sha256, "split": split,
                             "n": len(labelled.records)},
            "threshold": result["threshold"], "figures": dict(result), **(extra or {})}
    body["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


def load_record(path: str | Path, *, scorer: str, scorer_sha256: str) -> dict[str, Any]:
    """A calibration record a suite cites, checked to be for this scorer as it is now."""
    location = Path(path)
    try:
        data = json.loads(location.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the calibration record ({exc})", path=location,
                         fix="write one with `unmask calibrate`") from exc
    if not isinstance(data, dict) or data.get("kind") != "unmask.calibration":
        raise InputError("not an unmask calibration record", path=location, fix="write one with `unmask calibrate`")
    body = {k: v for k, v in data.items() if k != "sha256"}
    if hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() != data.get("sha256"):
        raise InputError("the record's sha256 does not match its content (edited?)", path=location,
                         fix="recalibrate with `unmask calibrate`")
    if data.get("scorer") != scorer or data.get("scorer_sha256") != scorer_sha256:
        raise InputError(f"the record calibrates {data.get('scorer')} by {data.get('method')} (sha256 "
                         f"{str(data.get('scorer_sha256'))[:12]}), not the {scorer} scorer this run uses (sha256 "
                         f"{scorer_sha256[:12]})", path=location, field="scorer_sha256",
                         fix="calibrate the scorer this run uses (`unmask calibrate`)")
    return data


def shipped_record(name: str) -> dict[str, Any] | None:
    """The calibration record shipped beside an offline classifier (built with it), or None."""
    from importlib.resources import files

    location = Path(str(files("unmask").joinpath(f"data/classifiers/{name}.calibration.json")))
    if not location.is_file():
        return None
    data: dict[str, Any] = json.loads(location.read_text(encoding="utf-8"))
    return data


def summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a manifest carries of a calibration record: enough to judge the scorer, and its hash."""
    figures = record.get("figures") or {}
    return {"sha256": record.get("sha256"), "scorer": record.get("scorer"), "method": record.get("method"),
            "scorer_sha256": record.get("scorer_sha256"), "labelled_set": record.get("labelled_set"),
            "threshold": record.get("threshold"),
            **{k: figures[k] for k in ("n", "agreement", "binary_agreement", "auroc", "recall_at_1pct_fpr",
                                       "recall_at_5pct_fpr") if k in figures}}


def cite(name: str, scorer_sha256: str, path: str | Path | None = None) -> dict[str, Any] | None:
    """The record a run cites: the suite's own (checked), else the shipped one when it calibrates this scorer."""
    if path is not None:
        return summary(load_record(path, scorer=name, scorer_sha256=scorer_sha256))
    record = shipped_record(name)
    if record is None or record.get("scorer_sha256") != scorer_sha256:
        return None
    return summary(record)
