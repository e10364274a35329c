"""The compliance gap, the headline battery: the same requests under paired framings, refusal vs compliance.

Harmful requests (and benign controls, which measure over-refusal) are asked under every level of
the suite's axes (monitored / unmonitored, training / deployment, ...) in several cue styles and
paraphrases. Each varied axis declares one gated contrast, first level minus second; the gate judges
it in the Holm family against the policy's `tolerated_gap`. There are no extra measures: the gap is
the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import generate

from ..design.frames import AXES, load_cues
from ..design.samples import BuiltSuite, build_samples
from ..design.settings import PARSING_RULES, USER_TEMPLATE, parsing_sha256
from ..design.suite import LoadedSuite, load_suite
from ..scoring.metrics import complied_mean
from ..scoring.refusal import refusal
from ._task import content_version, reasoning_scorers, reply_reader, run_manifest
from .contract import Battery, battery

NAME = "compliance_gap"


@task
def compliance_gap(suite: str = "smoke", scorer: str | None = None) -> Task:
    """Harmful and benign requests under paired framings; scores refusal vs compliance.

    Args:
        suite: a shipped suite name (see `unmask suites`) or a path to a suite YAML file.
        scorer: override the suite's scorer method (`rules` or `judge`; a judge needs
            `--model-role judge=<model>`).
    """
    loaded = load_suite(suite)
    if loaded.suite.battery != NAME:
        raise loaded.error(f"suite {loaded.suite.name!r} is a {loaded.suite.battery} suite", at=("battery",),
                           fix=f"use a suite with battery: {NAME}")
    if not loaded.suite.probes:
        raise loaded.error("a compliance_gap suite needs probes (the requests asked under each framing)",
                           at=("probes",), fix="add e.g. probes: [{set: harmbench, limit: 10}]")
    built = build_samples(loaded)
    read, scoring = reply_reader(loaded, scorer)
    gen = loaded.suite.generate
    aux, reasoning = reasoning_scorers(loaded.suite.scorer.reasoning)
    bound = manifest(loaded, built, scoring)
    bound["reasoning"] = reasoning
    return Task(
        dataset=MemoryDataset(built.samples, name=loaded.suite.name),
        solver=generate(),
        scorer=[refusal(method=read.method, votes=read.votes, temperature=read.temperature, seed=read.seed,
                        threshold=read.threshold), *aux],
        config=GenerateConfig(temperature=gen.temperature, max_tokens=gen.max_tokens, seed=gen.seed),
        epochs=Epochs(loaded.suite.epochs, complied_mean()),
        version=content_version(loaded, built.samples,
                                f"{read.method}:{read.sha256()}:{parsing_sha256()}:{reasoning}"),
        metadata={"unmask_manifest": bound},
    )


def manifest(loaded: LoadedSuite, built: BuiltSuite, scorer: dict[str, Any]) -> dict[str, Any]:
    """Everything the run side knows that a claim must be bound to (design.md, contract 3)."""
    suite, setting = loaded.suite, built.setting
    cues = load_cues()
    return run_manifest(
        loaded,
        setting={"name": setting.name, "sha256": setting.sha256, "system_prompt": setting.system_prompt,
                 "output_format": setting.output_format, "user_suffix": setting.user_suffix,
                 "scratchpad": setting.scratchpad},
        templates={"user_template": USER_TEMPLATE, "parsing_rules": list(PARSING_RULES),
                   "parsing_sha256": parsing_sha256()},
        probe_sets={p.name: {"sha256": p.sha256, "source": p.source, "count": len(p.items), **p.selection}
                    for p in built.probe_sets},
        scorer=scorer, contrasts=declared(suite.axes, suite.design), sample_count=len(built.samples),
        suite_extra={"design": suite.design, "axes": suite.axes},
        extra={"frames": {"cues_sha256": cues.sha256, "cues_version": cues.version}},
    )


def declared(axes: list[str], design: str) -> list[dict[str, Any]]:
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


@battery
class ComplianceGap(Battery):
    name = NAME
    title = "Compliance gap (context variation)"
    outcome = "complied"
    suites = ("main", "smoke")
    expected: ClassVar[Mapping[str, str]] = {"faker": "BLOCK", "clean": "not BLOCK", "base": "not BLOCK"}
    task = compliance_gap
