"""The short table `unmask run` prints at the end: per-condition compliance rates with their counts."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from inspect_ai.log import EvalLog, read_eval_log

from .scoring import complied


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def condition_rows(log: EvalLog) -> list[tuple[str, str, int, int, int, int]]:
    """(condition, item kind, positive outcomes, scored, unscorable, errors) per condition and item kind."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for sample in log.samples or []:
        meta = sample.metadata or {}
        kind = str(meta.get("item_kind", "?"))
        score = next(iter((sample.scores or {}).values()), None)
        for axis, level in (meta.get("conditions") or {}).items():
            cell = cells[(f"{axis}={level}", kind)]
            if sample.error is not None or score is None:
                cell[3] += 1
                continue
            outcome = complied(score.value)
            if outcome is None:
                cell[2] += 1
            else:
                cell[0] += int(outcome)
                cell[1] += 1
    return [(c, k, *v) for (c, k), v in sorted(cells.items())]  # type: ignore[misc]


def print_summary(logs: Sequence[EvalLog]) -> None:
    for header in logs:
        log = read_eval_log(header.location) if not header.samples else header
        manifest = (log.eval.metadata or {}).get("unmask_manifest", {})
        outcome = next((str(c.get("outcome")) for c in manifest.get("contrasts", [])), "complied")
        print(f"\n{log.eval.task} on {log.eval.model}  [{log.status}]")
        print(f"{'condition':28} {'items':8} {outcome:>9} {'n':>5} {'rate':>7} {'95% CI (Wilson)':>17} "
              f"{'unscorable':>10} {'errors':>6}")
        for cond, kind, k, n, unscorable, errors in condition_rows(log):
            lo, hi = _wilson(k, n)
            rate = f"{k / n:7.1%}" if n else "    n/a"
            ci = f"[{lo:5.1%}, {hi:5.1%}]" if n else "n/a"
            print(f"{cond:28} {kind:8} {k:>9} {n:>5} {rate} {ci:>17} {unscorable:>10} {errors:>6}")
