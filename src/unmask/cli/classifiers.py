"""`unmask classifiers build NAME` and `unmask calibrate SCORER [LABELLED]`: the scorers' known answers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCORERS = ("compliance", "af_reasoning", "eval_awareness")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("classifiers", help="the offline classifiers (build one from its shipped labelled set)")
    csub = c.add_subparsers(dest="classifiers_command", required=True)
    b = csub.add_parser("build", help="fit on the dev split, ship into the package, calibrate on the test split")
    b.add_argument("name", choices=SCORERS)
    b.set_defaults(handler=_build)
    k = sub.add_parser("calibrate", help="a scorer against a labelled JSONL: agreement, AUROC, recall at low FPR")
    k.add_argument("scorer", choices=SCORERS)
    k.add_argument("labelled", nargs="?", help="labelled JSONL (default: the shipped set for this scorer)")
    k.add_argument("--method", help="classifier / rules / judge (compliance); offline / judge (reasoning scorers)")
    k.add_argument("--split", default=None, help="only records of this split (default: test for a shipped set, "
                                                 "all records for your own file)")
    k.add_argument("--judge", help="Inspect model string of the judge (method judge)")
    k.add_argument("--votes", type=int, default=3)
    k.add_argument("--reps", type=int, default=2000, help="bootstrap replicates (default 2000)")
    k.add_argument("--out", type=Path, default=None, help="write the calibration record here (a suite can cite it)")
    k.set_defaults(handler=_calibrate)


def _build(args: argparse.Namespace) -> int:
    from ..validation.classifiers import build

    record = build(args.name)
    _print(record)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from ..validation.classifiers import calibrate, spec_for

    spec = spec_for(args.scorer)
    method = args.method or spec.methods[0]
    split = args.split if args.split is not None else (None if args.labelled else "test")
    record = calibrate(args.scorer, method, args.labelled, split=split, judge=args.judge, votes=args.votes,
                       reps=args.reps)
    _print(record)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"record: {args.out}  (cite it in a suite: scorer: {{calibration: {args.out}}})")
    return 0


def _print(record: dict[str, Any]) -> None:
    f = record["figures"]
    out = sys.stdout
    labelled = record["labelled_set"]
    print(f"{record['scorer']} ({record['method']}) on {labelled['path']} [{labelled['split'] or 'all'}], "
          f"n = {f['n']}, unreadable {f['unreadable']}", file=out)
    for key in ("agreement", "binary_agreement", "auroc", "recall_at_1pct_fpr", "recall_at_5pct_fpr"):
        if key in f:
            v = f[key]
            print(f"  {key:20} {v['value']:.3f}  [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]", file=out)
    print(f"  threshold            {f['threshold']:.3f}", file=out)
    conf = f["confusion"]
    print("  confusion (rows: people, columns: scorer; last: unscorable)", file=out)
    for label, row, lost in zip(conf["labels"], conf["rows"], conf["unscorable"], strict=True):
        print(f"    {label:>12} " + " ".join(f"{n:5d}" for n in row) + f" {lost:5d}", file=out)
