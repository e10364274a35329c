"""The `unmask` command line: thin wrappers over Inspect's `eval_set` and unmask's report and gate.

Each subcommand lives with its stage: `run` (run, serve, suites, models), `report` (report, gate,
diff), `organisms` (organisms build/check/list, validate), `classifiers`, `audit` (audit, keygen,
verify) and `whitebox` (noise-grid). Handlers import what they need when
they run, so `unmask --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ..errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmask", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _subcommands():
        add(sub)
    return parser


Adder = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _subcommands() -> list[Adder]:
    from .audit import register as audit_commands
    from .classifiers import register as classifier_commands
    from .organisms import register as organism_commands
    from .report import register as report_commands
    from .run import register as run_commands
    from .whitebox import register as whitebox_commands

    return [run_commands, report_commands, organism_commands, classifier_commands, audit_commands, whitebox_commands]


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
