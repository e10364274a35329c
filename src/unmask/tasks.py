"""Inspect tasks: what `inspect eval unmask/<task>` and `unmask run` execute."""

from __future__ import annotations

import hashlib
import inspect
import platform
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, TypeVar

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import generate

from . import __version__
from .errors import InputError
from .frames import AXES, load_cues
from .refusal import RULES_VERSION, rules_sha256
from .samples import BuiltSuite, build_samples
from .scoring import JUDGE_RUBRIC, RUBRIC_SHA256, complied_mean, refusal
from .settings import PARSER_VERSION, PARSING_RULES, USER_TEMPLATE, parsing_sha256
from .suite import LoadedSuite, load_suite

TaskBuilder = Callable[[LoadedSuite], Task]
_BUILDERS: dict[str, TaskBuilder] = {}
BuilderT = TypeVar("BuilderT", bound=Callable[..., Task])


def battery_task(battery: str) -> Callable[[BuilderT], BuilderT]:
    """Register how a battery turns a loaded suite into an Inspect task.

    Decorates either a builder taking the `LoadedSuite`, or a task function taking `suite: str` (put
    above `@task`), which is then called with the suite file's path. Returns what it decorates unchanged.
    """

    def register(fn: BuilderT) -> BuilderT:
        if "suite" in inspect.signature(fn).parameters:
            _BUILDERS[battery] = lambda loaded: fn(suite=str(loaded.path))
        else:
            _BUILDERS[battery] = fn
        return fn

    return register


def tasks_for_suite(name_or_path: str, **task_args: Any) -> list[Task]:
    """The Inspect tasks a suite runs: one per battery suite, several for a bundle such as `full`."""
    from . import batteries  # noqa: F401  (registers the other batteries' builders)

    loaded = load_suite(name_or_path)
    if loaded.suite.suites:
        return [t for child in loaded.suite.suites for t in tasks_for_suite(_child(loaded, child), **task_args)]
    battery = loaded.suite.battery
    if battery == "compliance_gap":
        return [compliance_gap(suite=str(loaded.path), **task_args)]
    if battery not in _BUILDERS:
        raise InputError(f"battery {battery!r} is not available in this build", path=loaded.path,
                         field="battery", fix="upgrade unmask or pick another battery")
    return [_BUILDERS[battery](loaded)]


def _child(parent: LoadedSuite, child: str) -> str:
    candidate = parent.base_dir / child
    return str(candidate) if candidate.suffix in (".yaml", ".yml") and candidate.exists() else child


@task
def compliance_gap(suite: str = "smoke", scorer: str | None = None) -> Task:
    """Harmful and benign requests under paired framings; scores refusal vs compliance.

    Args:
        suite: a shipped suite name (see `unmask suites`) or a path to a suite YAML file.
        scorer: override the suite's scorer method (`rules` or `judge`; a judge needs
            `--model-role judge=<model>`).
    """
    loaded = load_suite(suite)
    built = build_samples(loaded)
    spec = loaded.suite.scorer
    method = scorer or spec.method
    gen = loaded.suite.generate
    return Task(
        dataset=MemoryDataset(built.samples, name=loaded.suite.name),
        solver=generate(),
        scorer=refusal(method=method, votes=spec.votes, temperature=spec.temperature, seed=spec.seed),
        config=GenerateConfig(temperature=gen.temperature, max_tokens=gen.max_tokens, seed=gen.seed),
        epochs=Epochs(loaded.suite.epochs, complied_mean()),
        version=content_version(loaded, built, method),
        metadata={"unmask_manifest": run_manifest(loaded, built, method)},
    )


def content_version(loaded: LoadedSuite, built: BuiltSuite, method: str) -> str:
    """Task version = suite version + a hash of every rendered sample and the scoring rules.

    Inspect's eval-set matches logs to tasks by this version (among other things): a suite, cue or
    probe edit gets a fresh log instead of being mixed with old samples, while an upgrade that leaves
    the content alone still resumes.
    """
    digest = hashlib.sha256()
    for sample in built.samples:
        digest.update(str(sample.id).encode())
        for message in sample.input if isinstance(sample.input, list) else []:
            digest.update(message.text.encode())
    scoring = rules_sha256() if method == "rules" else RUBRIC_SHA256
    digest.update(f"{method}:{scoring}:{parsing_sha256()}".encode())
    return f"{loaded.suite.version}.{digest.hexdigest()[:12]}"


def run_manifest(loaded: LoadedSuite, built: BuiltSuite, method: str) -> dict[str, Any]:
    """Everything the run side knows that a claim must be bound to (design.md, contract 3)."""
    suite = loaded.suite
    setting = built.setting
    cues = load_cues()
    scorer: dict[str, Any] = {"method": method, "parser_version": PARSER_VERSION}
    if method == "rules":
        scorer |= {"rules_version": RULES_VERSION, "rules_sha256": rules_sha256()}
    else:
        scorer |= {
            "judge_role": "judge", "rubric_sha256": RUBRIC_SHA256, "rubric": JUDGE_RUBRIC,
            "votes": suite.scorer.votes, "temperature": suite.scorer.temperature, "seed": suite.scorer.seed,
        }
    return {
        "suite": {"name": suite.name, "version": suite.version, "sha256": loaded.sha256,
                  "path": str(loaded.path), "design": suite.design, "axes": suite.axes,
                  "styles": suite.styles, "paraphrases": suite.paraphrases, "epochs": suite.epochs,
                  "battery": suite.battery},
        "setting": {"name": setting.name, "sha256": setting.sha256, "system_prompt": setting.system_prompt,
                    "output_format": setting.output_format, "user_suffix": setting.user_suffix,
                    "scratchpad": setting.scratchpad},
        "templates": {"user_template": USER_TEMPLATE, "parsing_rules": list(PARSING_RULES),
                      "parsing_sha256": parsing_sha256()},
        "frames": {"cues_sha256": cues.sha256, "cues_version": cues.version},
        "probe_sets": {
            p.name: {"sha256": p.sha256, "source": p.source, "count": len(p.items), **p.selection}
            for p in built.probe_sets
        },
        "scorer": scorer,
        "generate": suite.generate.model_dump(),
        "declared": suite.declared.model_dump(),
        "versions": {"unmask": __version__, "inspect_ai": version("inspect_ai"),
                     "python": platform.python_version()},
        "sample_count": len(built.samples),
        "contrasts": declared_contrasts(suite.axes, suite.design),
    }


def declared_contrasts(axes: list[str], design: str) -> list[dict[str, Any]]:
    """One gated contrast per varied axis (first level minus second); interactions are exploratory."""
    out: list[dict[str, Any]] = [
        {"name": axis, "factor": axis, "a": AXES[axis][0], "b": AXES[axis][1], "outcome": "complied",
         "gate": True, "direction": "a_minus_b"}
        for axis in axes
    ]
    if design == "factorial":
        out += [
            {"name": f"{x}×{y}", "factor": [x, y], "a": [AXES[x][0], AXES[y][0]], "b": [AXES[x][1], AXES[y][1]],
             "outcome": "complied", "gate": False, "direction": "interaction"}
            for i, x in enumerate(axes) for y in axes[i + 1 :]
        ]
    return out
