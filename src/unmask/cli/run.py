"""`unmask run`, `serve`, `suites` and `models`: running suites through Inspect, and what `run` prints after."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

DEFAULT_SUITE = "main"
DEFAULT_LOG_DIR = "logs"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_run(sub)
    _add_serve(sub)
    _add_listing(sub)


def _key_values(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """Parse Inspect-style `-T key=value` options; values are read as YAML scalars, like Inspect does."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} {pair!r} is not key=value", fix=f"write {flag} name=value")
        out[key.strip()] = yaml.safe_load(value) if value else ""
    return out


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run a suite (Inspect eval-set: rerun the same command to resume)")
    p.add_argument("suite", nargs="?", default=DEFAULT_SUITE, help="shipped suite name or YAML path")
    p.add_argument("--model", help="Inspect model string; default: the embedded SmolLM2-135M-Instruct")
    p.add_argument("--local-model", default=None,
                   help="bundled model to serve on loopback when --model is absent (see `unmask models`)")
    p.add_argument("--limit", type=int, help="run at most this many samples")
    p.add_argument("--epochs", type=int, help="epochs per sample (overrides the suite)")
    p.add_argument("--log-dir", default=None, help=f"eval-set log directory (default {DEFAULT_LOG_DIR}/<suite>)")
    p.add_argument("--max-connections", type=int, help="concurrent requests to the model")
    p.add_argument("-T", dest="task_args", action="append", default=[], metavar="KEY=VALUE", help="task arg")
    p.add_argument("-M", dest="model_args", action="append", default=[], metavar="KEY=VALUE", help="model arg")
    p.add_argument("--model-role", action="append", default=[], metavar="ROLE=MODEL",
                   help="bind a model role, e.g. judge=openai/gpt-4o-mini")
    p.add_argument("--display", default=None, choices=["full", "rich", "plain", "log", "none"],
                   help="Inspect display (progress bar); default: Inspect's choice")
    p.add_argument("--retry-attempts", type=int, default=None, help="eval-set retry attempts")
    p.add_argument("--access", choices=["black_box", "logprobs", "grey_box", "white_box"],
                   help="the access you have to the model (recorded in the manifest; the report states what it "
                        "supports). Default: white_box for the embedded model, not recorded otherwise")
    p.add_argument("--runner", help="who ran it (declared, recorded with the access)")
    p.add_argument("--retry-on-error", type=int, default=3, metavar="N",
                   help="retry a sample up to N times when its model call fails (default 3), so one bad provider "
                        "response costs one sample, not the task")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inspect_ai import eval_set

    from ..batteries import tasks_for_suite
    from ..design.suite import load_suite
    from ..models.bundled import DEFAULT_MODEL
    from ..models.server import llama_server

    task_args = _key_values(args.task_args, "-T")
    model_args = _key_values(args.model_args, "-M")
    roles = {k: str(v) for k, v in _key_values(args.model_role, "--model-role").items()}
    loaded = load_suite(args.suite)  # validate before starting anything
    log_dir = args.log_dir or str(Path(DEFAULT_LOG_DIR) / loaded.suite.name)
    with ExitStack() as stack:
        model = args.model
        run_metadata: dict[str, Any] = {}
        if model is None:
            server = stack.enter_context(llama_server(args.local_model or DEFAULT_MODEL))
            os.environ.update(server.env())
            model = server.inspect_model
            # Bind the claim to the exact weights served, not only to a model name.
            run_metadata = {"weights_sha256": server.weights_sha256, "weights_file": server.weights.name,
                            "local_model": server.model.name, "served_by": "llama.cpp (llama-cpp-python server)"}
            print(f"unmask: serving {server.model.describe} on {server.base_url} "
                  f"(sha256 {server.weights_sha256[:12]}…)", file=sys.stderr)
        else:
            from ..models.provider import weights_metadata

            run_metadata = weights_metadata(model)
        if args.access or args.model is None:
            from ..evidence.access import declared

            run_metadata["access"] = declared(args.access or "white_box", args.runner,
                                              how="declared with --access" if args.access
                                              else "the embedded model: unmask serves its weights")
        if model in roles.values():
            raise InputError(f"model role bound to the target model {model!r}",
                             fix="bind judges to a different model than --model")
        tasks = tasks_for_suite(str(loaded.path), **task_args)
        for line in cost_lines(tasks):
            print(f"unmask: {line}", file=sys.stderr)
        success, logs = eval_set(
            tasks=tasks, log_dir=log_dir, model=model, model_args=model_args, model_roles=roles or None,
            limit=args.limit, epochs=args.epochs, max_connections=args.max_connections,
            display=args.display, retry_attempts=args.retry_attempts, metadata=run_metadata or None,
            retry_on_error=args.retry_on_error or None,
        )
    print_summary([log.location for log in logs])
    print(f"\nlogs: {log_dir}   next: unmask report {log_dir}")
    return 0 if success else 1


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve a bundled model on loopback for `inspect eval` (Ctrl-C stops)")
    p.add_argument("name", nargs="?", default=None, help="bundled model (default smollm2-135m-instruct)")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import time

    from ..models.bundled import DEFAULT_MODEL
    from ..models.server import llama_server

    with llama_server(args.name or DEFAULT_MODEL, port=args.port) as server:
        for k, v in server.env().items():
            print(f"export {k}={v}")
        print(f"# then: inspect eval unmask/compliance_gap --model {server.inspect_model}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _add_listing(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("suites", help="list shipped suites, or check suite files")
    p.add_argument("check", nargs="*", help="suite files to validate and count")
    p.set_defaults(handler=_suites)
    m = sub.add_parser("models", help="list bundled local models")
    m.set_defaults(handler=_models)


def _suites(args: argparse.Namespace) -> int:
    from ..batteries import tasks_for_suite
    from ..design.suite import load_suite, shipped_suites

    if not args.check:
        for name, path in shipped_suites().items():
            suite = load_suite(str(path)).suite
            print(f"{name:24} {suite.description}")
        return 0
    for item in args.check:
        loaded = load_suite(item)
        tasks = tasks_for_suite(str(loaded.path))
        sizes = [(t.name, len(t.dataset), t.epochs or 1) for t in tasks]
        counts = ", ".join(f"{name}={n}" + (f"x{epochs}" if epochs > 1 else "") for name, n, epochs in sizes)
        total = sum(n * epochs for _, n, epochs in sizes)
        print(f"{item}: ok — {total} samples ({counts}), sha256 {loaded.sha256[:12]}")
        for line in cost_lines(tasks):
            print(f"  {line}")
    return 0


def cost_lines(tasks: list[Any]) -> list[str]:
    """The model calls a task makes beyond one per sample, as its manifest states them (stated up front)."""
    out = []
    for t in tasks:
        cost = ((t.metadata or {}).get("unmask_manifest") or {}).get("scorer", {}).get("cost")
        if cost:
            out.append(f"{t.name}: {cost['samples']} samples x up to {cost['generations_per_sample']} generations "
                       f"= at most {cost['generations']} model calls")
    return out


def _models(args: argparse.Namespace) -> int:
    from ..models.bundled import BUNDLED

    for name, model in BUNDLED.items():
        print(f"{name:24} {model.describe}  (package {model.package})")
    return 0


def print_summary(log_paths: Sequence[str]) -> None:
    """Per-condition rates with counts and Wilson intervals, per log: the report's condition rows, printed."""
    from ..evidence.logs import read_log
    from ..evidence.pairing import encode
    from ..stats.contrasts import condition_rates

    for path in log_paths:
        info, records = read_log(path)
        manifest = info.manifest or {}
        outcome = next((str(c.get("outcome")) for c in manifest.get("contrasts", [])), "complied")
        print(f"\n{info.task} on {info.model}  [{info.status}]")
        print(f"{'condition':28} {'items':8} {outcome:>9} {'n':>5} {'rate':>7} {'95% CI (Wilson)':>17} "
              f"{'unscorable':>10} {'errors':>6}")
        by_kind: dict[str, list[Any]] = {}
        for r in records:
            by_kind.setdefault(r.item_kind, []).append(r)
        rows = [row for kind, recs in sorted(by_kind.items())
                for row in condition_rates({(info.task, kind): encode(recs)}, 0.95)]
        for row in sorted(rows, key=lambda r: (f"{r['axis']}={r['level']}", r["item_kind"])):
            n, rate = row["n"], row["rate"]
            lo, hi = row["ci"]
            shown = f"{rate:7.1%}" if n else "    n/a"
            ci = f"[{lo:5.1%}, {hi:5.1%}]" if n else "n/a"
            k = row["successes"] if row["successes"] is not None else f"{(rate or 0) * n:.1f}"
            print(f"{row['axis'] + '=' + row['level']:28} {row['item_kind']:8} {k:>9} {n:>5} {shown} {ci:>17} "
                  f"{row['unscorable']:>10} {row['errors'] + row['no_score']:>6}")
