"""The per-sample table (`samples.parquet` or `samples.csv`), so analysts can load the evidence with pandas."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..evidence.records import AWARENESS_SCORER, SampleRecord

TABLE_COLUMNS = ("log", "task", "model", "sample_id", "epoch", "battery", "pair_id", "probe_set", "item_kind",
                 "style", "paraphrase", "setting", "scorer", "label", "outcome", "status", "error",
                 "eval_awareness")


def table_rows(records: Sequence[SampleRecord]) -> tuple[list[str], list[list[Any]]]:
    """Rows for analysts: one per record, each condition axis as `cond_<axis>`, each other scorer by name."""
    axes = sorted({axis for r in records for axis in r.conditions})
    extras = sorted(set().union(*(r.extra_scores.keys() for r in records)) - {AWARENESS_SCORER, *TABLE_COLUMNS})
    columns = [*TABLE_COLUMNS[:9], *(f"cond_{a}" for a in axes), *TABLE_COLUMNS[9:], *extras]
    rows = [
        [r.log, r.task, r.model, r.sample_id, r.epoch, r.battery, r.pair_id, r.probe_set, r.item_kind,
         *(r.conditions.get(a) for a in axes), r.style, r.paraphrase, r.setting, r.scorer, r.label, r.outcome,
         r.status, r.error, r.eval_awareness, *(r.extra_scores.get(name) for name in extras)]
        for r in records
    ]
    return columns, rows


def write_table(records: Sequence[SampleRecord], directory: str | Path, fmt: str = "auto") -> Path:
    """Write `samples.parquet` (when pyarrow is importable and fmt allows) or `samples.csv`."""
    columns, rows = table_rows(records)
    out_dir = Path(directory)
    if fmt in ("auto", "parquet"):
        try:
            import pyarrow as pa  # type: ignore[import-not-found,unused-ignore]
            import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            if fmt == "parquet":
                raise InputError("Parquet output needs pyarrow",
                                 fix="pip install pyarrow, or use --table csv") from None
        else:
            path = out_dir / "samples.parquet"
            table = pa.Table.from_arrays([pa.array([row[i] for row in rows]) for i in range(len(columns))],
                                         names=columns)
            pq.write_table(table, path)
            return path
    path = out_dir / "samples.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path
