"""`unmask whitebox noise-grid --model NAME`: fixes the noise-injection battery's σ grid on a reference model.

Needs the `whitebox` extra. The white-box detectors themselves are batteries (`unmask run noise_injection`,
`steering`, `context_probe`, `defection_probe`); this command only calibrates, before any model under test is
measured.
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
    n = wsub.add_parser("noise-grid", help="the σ grid of the noise-injection battery, calibrated on a reference "
                                          "model (up to where its neutral accuracy halves)")
    n.add_argument("--items", type=int, default=32, help="held-out known items (default 32)")
    n.add_argument("--model", default="base", choices=("base", *ORGANISMS),
                   help="the reference model: base (the bundled model) or an organism")
    n.add_argument("--out", type=Path, default=None, help="write the JSON record here")
    n.set_defaults(handler=_noise)


def _load(name: str) -> tuple[Any, Any, dict[str, Any]]:
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
    model.eval()
    organism = None if name == "base" else name
    from ..models.adapters import model_string

    return model, tok, weights_metadata(model_string(organism))


def _noise(args: argparse.Namespace) -> int:
    from ..models.adapters import model_string
    from ..models.provider import weights_metadata
    from ..whitebox import noise_sandbagging as ns
    from ..whitebox.units import load_merged

    name = model_string(None if args.model == "base" else args.model)
    model, tok = load_merged(name)  # the same merged weights the noise-injection battery noises
    weights = weights_metadata(name)
    grid = ns.calibrate_grid(model, tok, ns.test_items(args.items))
    print(f"sigmas: [{', '.join(f'{s:g}' for s in grid)}]   # calibrated on {args.model}; put under `options:` "
          "of a noise_injection suite")
    _write(args.out, {"detector": "noise_injection_grid", "model": args.model, "weights": weights,
                      "items": args.items, "sigmas": list(grid)})
    return 0


def _write(path: Path | None, record: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str))
    print(f"written: {path}", file=sys.stderr)
