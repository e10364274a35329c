"""`unmask report`, `unmask gate` and `unmask diff`: the evidence-to-verdict half of the command line.

Each handler returns its exit code and turns bad input into one line naming the file and the fix.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the report, gate and diff subcommands to the main `unmask` parser."""
    p = subparsers.add_parser("report", help="statistics, manifest and checklist from Inspect logs")
    p.add_argument("logs", nargs="+", help="Inspect .eval/.json logs or log directories (unmask's or plain inspect's)")
    p.add_argument("-o", "--out", default="unmask-report", help="output directory (default: ./unmask-report)")
    p.add_argument("--policy", help="gate policy YAML whose alpha, power and gate family to use (default: shipped)")
    p.add_argument("--model", help="report only logs run on this model (needed when logs cover several)")
    p.add_argument("--scorer", help="score to analyse (default: each task's first scorer)")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap replicates (default 2000)")
    p.add_argument("--seed", type=int, default=20240917, help="bootstrap seed (fixed, so reports reproduce)")
    p.add_argument("--table", choices=["auto", "csv", "parquet", "none"], default="auto",
                   help="per-sample table: parquet when pyarrow is installed, else csv (default auto)")
    p.add_argument("--full", action="store_true",
                   help="read every sample in full (slow) to see each sample's resolved model id")
    p.add_argument("--title", help="report title")
    p.add_argument("--sign", metavar="KEY", help="sign report.json, its logs and its verdict under --policy with this "
                                                 "Ed25519 key (`unmask keygen`): writes attestation.json")
    p.add_argument("--signer", help="who signs (declared, recorded in the signed statement)")
    p.set_defaults(handler=guarded(_report, 2))

    g = subparsers.add_parser("gate", help="PASS / REVIEW / BLOCK from a report and a policy (exit 0 / 1 / 2)")
    g.add_argument("report", help="report.json, or the directory `unmask report` wrote")
    g.add_argument("--policy", help="policy YAML (default: the shipped conservative policy)")
    g.set_defaults(handler=guarded(_gate, 3))

    d = subparsers.add_parser("diff", help="compare two reports' manifests and gaps; flag confounded comparisons")
    d.add_argument("a", help="first report.json (or its directory)")
    d.add_argument("b", help="second report.json (or its directory)")
    d.add_argument("--factor", action="append", default=[],
                   help="the factor the comparison is meant to vary (model, generate, suite, setting, frames, "
                        "probes, scorer, declared, versions); repeatable")
    d.add_argument("--ignore", action="append", default=[], help="a factor to leave out of the comparison")
    d.set_defaults(handler=guarded(_diff, 2))


def guarded(handler: Handler, unusable: int) -> Handler:
    """Bad input becomes one line on stderr and a non-zero exit, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except InputError as exc:
            print(f"unmask: error: {exc}", file=sys.stderr)
            return unusable
        except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to tell
            return 1
        except OSError as exc:
            where = getattr(exc, "filename", None) or ""
            print(f"unmask: error: {where}: {exc.strerror or exc}. Fix: check the path and its permissions.",
                  file=sys.stderr)
            return unusable

    return run


def _report(args: argparse.Namespace) -> int:
    from ..evidence.logs import read_evidence
    from ..gate import load_policy
    from ..report import build_report, write_report

    if args.reps < 100:
        raise InputError(f"--reps {args.reps} is too few for stable intervals", field="--reps", fix="use 1000 or more")
    policy = load_policy(args.policy)
    options = policy.analysis_options(reps=args.reps, seed=args.seed)
    start = time.perf_counter()
    evidence = read_evidence(args.logs, scorer=args.scorer, model=args.model, full=args.full)
    report = build_report(evidence, options, title=args.title)
    paths = write_report(report, evidence, args.out, table=args.table)
    if args.sign:
        from ..audit.signing import sign_report

        envelope = sign_report(Path(args.out), args.logs, args.sign, args.policy, args.signer)
        paths["signature"] = Path(args.out) / "attestation.json"
        print(f"signed with key id {envelope['signatures'][0]['keyid'][:16]}")
    counts = report["counts"]
    print(f"{len(evidence.logs)} log(s), {counts['samples']} samples: {counts['scored']} scored, "
          f"{counts['unscorable']} unscorable, {counts['error']} errors "
          f"({time.perf_counter() - start:.1f} s)")
    for headline in report["headlines"]:
        print(f"- {headline['claim']}")
    if report["headlines"]:
        print(f"  scope: {report['headlines'][0]['scope_text']}")
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for kind, path in paths.items():
        print(f"{kind:>5}: {path}")
    print(f"next: unmask gate {Path(args.out) / 'report.json'}" + (f" --policy {args.policy}" if args.policy else ""))
    return 0


def _gate(args: argparse.Namespace) -> int:
    from ..gate import run_gate

    decision = run_gate(args.report, args.policy)
    print(decision.render())
    return decision.exit_code


def _diff(args: argparse.Namespace) -> int:
    from ..evidence.manifest import FACTORS, diff_manifests
    from ..report import load_report

    known = set(FACTORS) | {"other"}
    for name in [*args.factor, *args.ignore]:
        if name not in known:
            raise InputError(f"unknown factor {name!r}", field="--factor", fix=f"use one of {', '.join(sorted(known))}")
    a, b = load_report(args.a), load_report(args.b)
    differences = diff_manifests(a["manifest"], b["manifest"], ignore=args.ignore)
    factors = sorted({d.factor for d in differences})
    print(f"A: {args.a} ({a['model']})\nB: {args.b} ({b['model']})")
    if not differences:
        print("manifests agree on every field that binds a claim")
    for factor in factors:
        print(f"[{factor}]")
        for d in (d for d in differences if d.factor == factor):
            print(f"  {d.field}: {_short(d.a)}  ->  {_short(d.b)}")
    _print_gaps(a, b)
    declared = set(args.factor)
    extra = [f for f in factors if f not in declared] if declared else (factors if len(factors) > 1 else [])
    if extra:
        what = f"the declared factor ({', '.join(sorted(declared))})" if declared else "one factor"
        print(f"FLAG: the reports differ in more than {what}: {', '.join(extra)}; a gap difference cannot be "
              "attributed to any single one of them")
        return 1
    print("comparable: " + (f"differs only in {', '.join(factors)}" if factors else "same manifest"))
    return 0


def _short(value: object, limit: int = 70) -> str:
    text = "(absent)" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_gaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    rows_a = {c["id"]: c for c in a["contrasts"] if not c["subset"]}
    rows_b = {c["id"]: c for c in b["contrasts"] if not c["subset"]}
    common = [cid for cid in rows_a if cid in rows_b]
    if not common:
        return
    print(f"{'contrast':48} {'gap A':>9} {'gap B':>9} {'B - A':>9}")
    for cid in common:
        ga, gb = rows_a[cid]["gap"], rows_b[cid]["gap"]
        if ga is None or gb is None:
            continue
        print(f"{cid[:48]:48} {ga * 100:+8.1f}p {gb * 100:+8.1f}p {(gb - ga) * 100:+8.1f}p")
