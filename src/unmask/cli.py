"""The `unmask` command line: thin wrappers over Inspect's `eval_set` and unmask's report and gate."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

DEFAULT_SUITE = "main"
DEFAULT_LOG_DIR = "logs"


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
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from inspect_ai import eval_set

    from .local import DEFAULT_MODEL, llama_server
    from .suite import load_suite
    from .summary import print_summary
    from .tasks import tasks_for_suite

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
        if model in roles.values():
            raise InputError(f"model role bound to the target model {model!r}",
                             fix="bind judges to a different model than --model")
        tasks = tasks_for_suite(str(loaded.path), **task_args)
        success, logs = eval_set(
            tasks=tasks, log_dir=log_dir, model=model, model_args=model_args, model_roles=roles or None,
            limit=args.limit, epochs=args.epochs, max_connections=args.max_connections,
            display=args.display, retry_attempts=args.retry_attempts, metadata=run_metadata or None,
        )
    print_summary(logs)
    print(f"\nlogs: {log_dir}   next: unmask report {log_dir}")
    return 0 if success else 1


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve a bundled model on loopback for `inspect eval` (Ctrl-C stops)")
    p.add_argument("name", nargs="?", default=None, help="bundled model (default smollm2-135m-instruct)")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import time

    from .local import DEFAULT_MODEL, llama_server

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
    from .suite import load_suite, shipped_suites
    from .tasks import tasks_for_suite

    if not args.check:
        for name, path in shipped_suites().items():
            suite = load_suite(str(path)).suite
            print(f"{name:24} {suite.description}")
        return 0
    for item in args.check:
        loaded = load_suite(item)
        tasks = tasks_for_suite(str(loaded.path))
        counts = ", ".join(f"{t.name}={len(t.dataset)}" for t in tasks)
        total = sum(len(t.dataset) for t in tasks)
        print(f"{item}: ok — {total} samples ({counts}), sha256 {loaded.sha256[:12]}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .local import BUNDLED

    for name, model in BUNDLED.items():
        print(f"{name:24} {model.describe}  (package {model.package})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmask", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _subcommands():
        add(sub)
    return parser


Adder = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _subcommands() -> list[Adder]:
    adders: list[Adder] = [_add_run, _add_serve, _add_listing]
    from ._cli_report import register as report_commands
    from .organisms.cli import register as organism_commands

    return [*adders, report_commands, organism_commands]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except InputError as exc:
        print(f"unmask: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unmask: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (keeps the interpreter's final flush quiet)
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
