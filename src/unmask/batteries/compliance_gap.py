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
from ..design.settings import PARSER_VERSION, PARSING_RULES, USER_TEMPLATE, parsing_sha256
from ..design.suite import LoadedSuite, load_suite
from ..errors import InputError
from ..scoring import compliance
from ..scoring.calibration import cite
from ..scoring.metrics import complied_mean
from ..scoring.refusal import JUDGE_RUBRIC, METHODS, RUBRIC_SHA256, refusal
from ..scoring.rules import RULES_VERSION, rules_sha256
from ._task import content_version, reasoning_scorers, run_manifest
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
    spec = loaded.suite.scorer
    method = scorer or spec.method
    if method not in METHODS:
        raise loaded.error(f"scorer method {method!r} is not known", at=("scorer", "method"),
                           fix=f"use -T scorer= one of {', '.join(METHODS)}")
    gen = loaded.suite.generate
    scoring = {"rules": rules_sha256, "classifier": compliance.model_sha256}.get(method, lambda: RUBRIC_SHA256)()
    path = str((loaded.base_dir / spec.calibration).resolve()) if spec.calibration else None
    try:
        cited = cite(compliance.NAME, scoring, path)
    except InputError as exc:
        raise loaded.error(exc.detail, at=("scorer", "calibration"), fix=exc.fix or "") from exc
    threshold = float(cited["threshold"]) if cited and cited.get("threshold") is not None and path else spec.threshold
    aux, reasoning = reasoning_scorers(spec.reasoning)
    bound = manifest(loaded, built, method)
    bound["scorer"] |= {"calibration": cited, "threshold": threshold}
    bound["reasoning"] = reasoning
    return Task(
        dataset=MemoryDataset(built.samples, name=loaded.suite.name),
        solver=generate(),
        scorer=[refusal(method=method, votes=spec.votes, temperature=spec.temperature, seed=spec.seed,
                        threshold=threshold), *aux],
        config=GenerateConfig(temperature=gen.temperature, max_tokens=gen.max_tokens, seed=gen.seed),
        epochs=Epochs(loaded.suite.epochs, complied_mean()),
        version=content_version(loaded, built.samples, f"{method}:{scoring}:{parsing_sha256()}:{reasoning}"),
        metadata={"unmask_manifest": bound},
    )


def manifest(loaded: LoadedSuite, built: BuiltSuite, method: str) -> dict[str, Any]:
    """Everything the run side knows that a claim must be bound to (design.md, contract 3)."""
    suite = loaded.suite
    setting = built.setting
    cues = load_cues()
    scorer: dict[str, Any] = {"method": method, "parser_version": PARSER_VERSION}
    if method in ("rules", "classifier"):
        scorer |= {"rules_version": RULES_VERSION, "rules_sha256": rules_sha256()}
    if method == "classifier":
        scorer |= {"model_sha256": compliance.model_sha256(), "model": compliance.NAME}
    if method == "judge":
        scorer |= {
            "judge_role": "judge", "rubric_sha256": RUBRIC_SHA256, "rubric": JUDGE_RUBRIC,
            "threshold": suite.scorer.threshold,
            "votes": suite.scorer.votes, "temperature": suite.scorer.temperature, "seed": suite.scorer.seed,
        }
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
