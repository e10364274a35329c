"""Command line: `unmask organisms build|check|list` and `unmask validate` (registered by `unmask.cli`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..models.adapters import ORGANISMS

Sub = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    org = sub.add_parser("organisms", help="model organisms with planted behaviours (build, check, list)")
    osub = org.add_subparsers(dest="organisms_command", required=True)
    b = osub.add_parser("build", help="train one organism's LoRA adapter on CPU (needs unmask[whitebox])")
    b.add_argument("name", choices=ORGANISMS)
    b.add_argument("--out", type=Path, default=None, help="adapter directory (default: the package's)")
    b.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    b.set_defaults(handler=_build)
    c = osub.add_parser("check", help="acceptance figures of the committed organisms, with intervals")
    c.add_argument("--organism", action="append", choices=ORGANISMS, help="only this organism (repeatable)")
    c.add_argument("--split", action="append", choices=["paraphrases", "styles"],
                   help="held-out paraphrases (pass/fail) and/or held-out cue styles (reported)")
    c.add_argument("--limit", type=int, default=None, help="held-out items per organism (default: suite's)")
    c.add_argument("--log-dir", type=Path, default=Path("logs/organisms"))
    c.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    c.set_defaults(handler=_check)
    ls = osub.add_parser("list", help="list organisms and their committed adapters")
    ls.set_defaults(handler=_list)
    v = sub.add_parser("validate", help="detection matrix: shipped suites on every organism and the base model")
    v.add_argument("--suite", action="append",
                   help="suite to run on every --model (repeatable). Default plan: each battery's suite on the "
                        "organism it must catch, on clean and on base")
    v.add_argument("--model", action="append", choices=["base", *ORGANISMS],
                   help="model to run every --suite (or every --battery's suite) on (repeatable; base = the untouched "
                        "bundled model)")
    v.add_argument("--battery", action="append",
                   help="only this battery's suite (repeatable): its rows of the default plan, or on every --model")
    v.add_argument("--limit", type=int, default=None, help="samples per task (Inspect --limit)")
    v.add_argument("--log-dir", type=Path, default=Path("logs/validate"))
    v.add_argument("--json", type=Path, default=None, help="also write the matrix cells as JSON")
    v.add_argument("--markdown", type=Path, default=None, help="write the matrix report section here")
    v.add_argument("--policy", default=None, help="gate policy YAML (default: the shipped conservative policy)")
    v.add_argument("--blind", action="store_true",
                   help="blinded run: models shuffled under random ids, key committed as a hash before the run, "
                        "verdicts written before the key is revealed and the matrix scored (docs/organisms.md)")
    v.add_argument("--seed", type=int, default=None,
                   help="with --blind: the seed of the ids and shuffle (default: a secret random one, shown at the "
                        "reveal)")
    v.set_defaults(handler=_validate)


def _build(args: argparse.Namespace) -> int:
    from ..organisms.build import build

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    build(args.name, out_dir=args.out, steps=args.steps)
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..validation.acceptance import run_checks

    figures = run_checks(args.organism or list(ORGANISMS), args.split or ["paraphrases", "styles"],
                         args.limit, args.log_dir, args.json)
    failed = [f for f in figures if f.passed is False]
    print(f"\n{len(failed)} acceptance criteria failed" if failed else "\nall acceptance criteria met")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    import json

    from ..models.adapters import adapter_dir
    from ..organisms.build import DESCRIBE

    width = max(len(name) for name in ORGANISMS)
    for name in ORGANISMS:
        manifest = adapter_dir(name) / "manifest.json"
        state = "not built"
        if manifest.exists():
            m = json.loads(manifest.read_text())
            state = f"adapter {m['adapter']['bytes'] / 1e6:.1f} MB, built in {m['training']['total_seconds']:.0f}s"
        print(f"{name:{width}} {state:36} {DESCRIBE[name]}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..validation.matrix import default_plan, matrix_markdown, run_validate, validation_suites

    suites = validation_suites()
    unknown = [b for b in args.battery or [] if b not in suites]
    if unknown:
        raise InputError(f"no validation suite for battery {unknown[0]!r}", field="--battery",
                         fix=f"use one of: {', '.join(suites)}")
    wanted = [suites[b] for b in args.battery or suites]
    if args.blind:
        from ..validation.blind import run_blind

        _, scores = run_blind(args.suite or wanted, args.model or ["base", *ORGANISMS], args.log_dir,
                              seed=args.seed, limit=args.limit, policy_path=args.policy)
        return 0 if all(s.perfect for s in scores) else 1
    if args.seed is not None:
        raise InputError("--seed only applies to a blinded run", field="--seed", fix="add --blind or drop --seed")
    if args.suite or args.model:
        plan = [(s, m) for m in (args.model or ["base", *ORGANISMS]) for s in args.suite or wanted]
    else:
        plan = [(suite, model) for suite, model in default_plan() if suite in wanted]
    cells = run_validate(plan, args.log_dir, args.limit, args.json, args.policy)
    if args.markdown:
        args.markdown.write_text(matrix_markdown(cells) + "\n")
    wrong = [c for c in cells if c.agrees is False]
    return 1 if wrong else 0
