"""Batteries: every kind of evidence unmask gathers, each one module (or package) behind one contract.

Importing this package registers every shipped battery (`contract.registered()`); `tasks_for_suite`
turns any suite, or a bundle of suites, into the Inspect tasks its batteries run. To add a battery,
write one module with a `@battery`-decorated `Battery` subclass and import it below (docs/design.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..design.suite import LoadedSuite, load_suite, resolve_suite_path
from ..errors import InputError
from .contract import Battery, BatteryData, get, registered

# Registration order is the order reports list batteries and checklist items.
# isort: off
from . import compliance_gap, sandbagging, hidden_goals, trigger_scan, modification, reasoning_perturbation
from . import noise_injection, steering, context_probe, defection_probe
# isort: on

if TYPE_CHECKING:
    from inspect_ai import Task

__all__ = [
    "Battery",
    "BatteryData",
    "compliance_gap",
    "context_probe",
    "defection_probe",
    "get",
    "hidden_goals",
    "modification",
    "noise_injection",
    "reasoning_perturbation",
    "registered",
    "sandbagging",
    "steering",
    "tasks_for_suite",
    "trigger_scan",
]


def tasks_for_suite(name_or_path: str, **task_args: Any) -> list[Task]:
    """The Inspect tasks a suite runs: one per battery suite, several for a bundle such as `full`.

    Everything `unmask run` would reject is rejected here too (an unknown battery, a bundle that
    includes itself, two samples with one id), so `unmask suites FILE` catches it before a run.
    """
    loaded = load_suite(name_or_path)
    if not loaded.suite.suites:
        return _tasks(loaded, task_args, ())
    # In a bundle, `-T key=value` goes to every battery that takes `key` (e.g. `scorer` to those that read
    # replies for compliance), and a key that no battery of the bundle takes is an error.
    tasks = _tasks(loaded, task_args, (), bundle=True)
    taken = {key for battery in _batteries_of(loaded, ()) for key in battery.task_parameters()}
    unknown = sorted(set(task_args) - taken)
    if unknown:
        raise InputError(f"no battery of bundle {loaded.suite.name!r} takes the argument {unknown[0]!r}",
                         field=f"-T {unknown[0]}", fix=f"use one of: {', '.join(sorted(taken)) or '(none)'}")
    return tasks


def _batteries_of(loaded: LoadedSuite, parents: tuple[Path, ...]) -> list[Battery]:
    if not loaded.suite.suites:
        found = get(loaded.suite.battery)
        return [found] if found is not None else []
    here = loaded.path.resolve()
    if here in parents:
        return []
    return [b for i in range(len(loaded.suite.suites))
            for b in _batteries_of(_child(loaded, i), (*parents, here))]


def _tasks(loaded: LoadedSuite, task_args: dict[str, Any], parents: tuple[Path, ...], bundle: bool = False
           ) -> list[Task]:
    here = loaded.path.resolve()
    if here in parents:
        raise loaded.error("this bundle includes itself (directly or through another bundle)", at=("suites",),
                           fix="remove the suite from its own `suites:` list")
    if loaded.suite.suites:
        return [t for i in range(len(loaded.suite.suites))
                for t in _tasks(_child(loaded, i), task_args, (*parents, here), bundle)]
    found = get(loaded.suite.battery)
    if found is None:
        names = ", ".join(b.name for b in registered())
        raise loaded.error(f"unknown battery {loaded.suite.battery!r}", at=("battery",), fix=f"use one of: {names}")
    args = {k: v for k, v in task_args.items() if k in found.task_parameters()} if bundle else task_args
    tasks = found.tasks(loaded, **args)
    for task in tasks:
        ids = [s.id for s in task.dataset]
        if len(set(ids)) != len(ids):
            raise loaded.error(f"two samples of task {task.name} share an id (a design cell is listed twice)",
                               at=(), fix="list each style, paraphrase, probe and level once")
    return tasks


def _child(parent: LoadedSuite, index: int) -> LoadedSuite:
    """The bundle's `suites[index]`: a path beside the bundle or a shipped name. One that names nothing
    is an error at the bundle's line (the child has no file to point at)."""
    child = parent.suite.suites[index]
    candidate = parent.base_dir / child
    name = str(candidate) if candidate.suffix in (".yaml", ".yml") and candidate.exists() else child
    try:
        resolve_suite_path(name)
    except InputError as exc:
        raise parent.error(f"included suite {child!r} not found ({exc.detail})", at=("suites", index),
                           fix=exc.fix or "name a shipped suite or a YAML file beside this bundle") from None
    return load_suite(name)
