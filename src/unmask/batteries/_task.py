"""Run-side plumbing every battery shares: options, contract-1 samples, the manifest and the Inspect task.

Every battery builds samples the same way (content-addressed ids, the contract-1 metadata keys) and
binds its task to the same manifest shape, so records, statistics, report and gate read any
battery's logs without knowing which battery wrote them.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from typing import Any, Literal, TypeVar

import yaml
from inspect_ai import Epochs, Task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, GenerateConfig
from inspect_ai.scorer import Scorer
from inspect_ai.solver import Solver, generate
from pydantic import BaseModel, ConfigDict, ValidationError

from .. import __version__
from ..design.samples import sample_id
from ..design.settings import PARSER_VERSION
from ..design.suite import LoadedSuite, load_suite
from ..errors import InputError
from ..scoring import compliance
from ..scoring.calibration import cite
from ..scoring.metrics import complied_mean
from ..scoring.refusal import JUDGE_RUBRIC, METHODS, RUBRIC_SHA256, ReplyReader
from ..scoring.rules import RULES_VERSION, rules_sha256
from ..yamlio import line_of

DATA_DIR = "data/batteries"
EXCERPT_CHARS = 600
"""Completion text kept in `Score.metadata` (Inspect keeps score metadata strings under 1k in summaries)."""


class Options(BaseModel):
    """Base of every battery's `options:` model: unknown keys and wrongly typed values are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


OptionsT = TypeVar("OptionsT", bound=Options)


def distinct_choices(values: list[str], allowed: Sequence[str], name: str) -> list[str]:
    """An option listing some of `allowed`, each once (a pydantic validator's body)."""
    if any(v not in allowed for v in values) or len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct values from {', '.join(allowed)}")
    return values


def parse_options(loaded: LoadedSuite, model: type[OptionsT]) -> OptionsT:
    """Validate `options:` with the battery's own model; errors point at file, line and field."""
    try:
        return model.model_validate(loaded.suite.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ("options", *err["loc"])
        fix = (f"remove '{loc[-1]}' or check its spelling; see docs/batteries.md"
               if err["type"] == "extra_forbidden" else "see docs/batteries.md for this option")
        raise InputError(str(err["msg"]).removeprefix("Value error, "), path=loaded.path,
                         line=line_of(loaded.node, loc), field=".".join(str(p) for p in loc), fix=fix) from exc


def load_battery_suite(suite: str, battery: str, options: type[OptionsT]) -> tuple[LoadedSuite, OptionsT]:
    """Load a suite that must be of `battery` and validate its `options:` with the battery's model."""
    loaded = load_suite(suite)
    if loaded.suite.battery != battery:
        raise loaded.error(f"suite {loaded.suite.name!r} is a {loaded.suite.battery} suite", at=("battery",),
                           fix=f"use a suite with battery: {battery}")
    return loaded, parse_options(loaded, options)


@dataclass(frozen=True)
class DataFile:
    """A shipped battery data file with the sha256 of its bytes (recorded in the manifest)."""

    name: str
    doc: Any
    sha256: str


@cache
def load_data(name: str) -> DataFile:
    """Load `data/batteries/<name>.yaml`."""
    raw = files("unmask").joinpath(f"{DATA_DIR}/{name}.yaml").read_bytes()
    return DataFile(name, yaml.safe_load(raw), hashlib.sha256(raw).hexdigest())


def battery_sample(
    loaded: LoadedSuite, *, battery: str, pair_id: str, probe_set: str, item_kind: str,
    conditions: Mapping[str, str], style: str, paraphrase: int, setting: str,
    messages: list[ChatMessage], target: str = "", extra: Mapping[str, Any] | None = None,
) -> Sample:
    """One Inspect sample carrying the contract-1 keys, with a content-addressed id."""
    suite = loaded.suite
    conds = dict(conditions)
    return Sample(
        id=sample_id(suite.version, pair_id, conds, style, paraphrase),
        input=messages,
        target=target,
        metadata={
            "pair_id": pair_id, "probe_set": probe_set, "item_kind": item_kind, "battery": battery,
            "conditions": conds, "style": style, "paraphrase": paraphrase, "setting": setting,
            "suite": suite.name, "suite_version": suite.version, **(extra or {}),
        },
    )


def contrast(name: str, factor: str, a: str, b: str, outcome: str, *, gate: bool) -> dict[str, Any]:
    """A declared contrast (design.md, contract 4): level `a` minus level `b` of one factor, on pairs."""
    return {"name": name, "factor": factor, "a": a, "b": b, "outcome": outcome, "gate": gate,
            "direction": "a_minus_b"}


def interaction(name: str, factors: tuple[str, str], a: tuple[str, str], b: tuple[str, str],
                outcome: str) -> dict[str, Any]:
    """A two-factor interaction contrast, always exploratory: (a0 - b0 at a1) - (a0 - b0 at b1)."""
    return {"name": name, "factor": list(factors), "a": list(a), "b": list(b), "outcome": outcome,
            "gate": False, "direction": "interaction"}


def run_manifest(
    loaded: LoadedSuite, *, setting: Mapping[str, Any], templates: Mapping[str, Any],
    probe_sets: Mapping[str, Any], scorer: Mapping[str, Any], contrasts: list[dict[str, Any]],
    sample_count: int, suite_extra: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run-side manifest every task carries (design.md, contract 3), whichever battery wrote it."""
    suite = loaded.suite
    return {
        "suite": {"name": suite.name, "version": suite.version, "sha256": loaded.sha256,
                  "path": str(loaded.path), **(suite_extra or {}), "styles": suite.styles,
                  "paraphrases": suite.paraphrases, "epochs": suite.epochs, "battery": suite.battery},
        "setting": dict(setting),
        "templates": dict(templates),
        "probe_sets": dict(probe_sets),
        "scorer": dict(scorer),
        "generate": suite.generate.model_dump(),
        "declared": suite.declared.model_dump(),
        "versions": {"unmask": __version__, "inspect_ai": version("inspect_ai"),
                     "python": platform.python_version()},
        "sample_count": sample_count,
        "contrasts": contrasts,
        **(extra or {}),
    }


def content_version(loaded: LoadedSuite, samples: list[Sample], scoring: str) -> str:
    """Task version = suite version + a hash of every rendered sample and the scoring rules.

    Inspect's eval-set matches logs to tasks by this version (among other things): a suite, cue or
    probe edit gets a fresh log instead of being mixed with old samples, while an upgrade that leaves
    the content alone still resumes.
    """
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(str(sample.id).encode())
        for message in sample.input if isinstance(sample.input, list) else []:
            digest.update(message.text.encode())
    digest.update(scoring.encode())
    return f"{loaded.suite.version}.{digest.hexdigest()[:12]}"


def generate_config(loaded: LoadedSuite, extra: GenerateConfig | None = None) -> GenerateConfig:
    """The suite's `generate:` settings, with a battery's own (e.g. log-probabilities) merged over them."""
    gen = loaded.suite.generate
    config = GenerateConfig(temperature=gen.temperature, max_tokens=gen.max_tokens, seed=gen.seed)
    return config.merge(extra) if extra is not None else config


def assemble_task(
    loaded: LoadedSuite, samples: list[Sample], *, scorers: Scorer | list[Scorer], scoring: Mapping[str, Any],
    setting: Mapping[str, Any], item_sets: Mapping[str, Any], contrasts: list[dict[str, Any]],
    data_files: Iterable[DataFile] = (), extra: Mapping[str, Any] | None = None,
    config: GenerateConfig | None = None, version: str | None = None, solver: Solver | None = None,
    auxiliary: bool = True,
) -> Task:
    """The Inspect task of a battery: its samples and scorers, bound to the manifest (`scoring` is its
    `scorer` section), generated with the suite's settings (or `config`), epochs reduced as everywhere.
    `solver` replaces the single `generate()`; `auxiliary=False` leaves out the reasoning scorers (for a
    battery that reads reasoning itself)."""
    templates = {f.name: f.sha256 for f in data_files}
    aux, reasoning = reasoning_scorers(loaded.suite.scorer.reasoning) if auxiliary else ([], {})
    manifest = run_manifest(loaded, setting=setting, templates=templates, probe_sets=item_sets, scorer=scoring,
                            contrasts=contrasts, sample_count=len(samples),
                            suite_extra={"options": json.loads(json.dumps(loaded.suite.options, default=str))},
                            extra={**(extra or {}), "reasoning": reasoning})
    return Task(
        dataset=MemoryDataset(samples, name=loaded.suite.name),
        solver=solver if solver is not None else generate(),
        scorer=[*(scorers if isinstance(scorers, list) else [scorers]), *aux],
        config=config if config is not None else generate_config(loaded),
        epochs=Epochs(loaded.suite.epochs, complied_mean()),
        version=version or content_version(loaded, samples, json.dumps([templates, dict(scoring)], sort_keys=True)),
        metadata={"unmask_manifest": manifest},
    )


def text_sha256(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reply_reader(loaded: LoadedSuite, method: str | None = None) -> tuple[ReplyReader, dict[str, Any]]:
    """The suite's way of reading replies (`scorer:`; `method` is a `-T scorer=` override), checked before
    any sample runs, with the calibration it cites and the manifest block that records it."""
    spec = loaded.suite.scorer
    chosen = method or spec.method
    if chosen not in METHODS:
        raise loaded.error(f"scorer method {chosen!r} is not known", at=("scorer", "method"),
                           fix=f"use -T scorer= one of {', '.join(METHODS)}")
    reader = ReplyReader(chosen, spec.votes, spec.temperature, spec.seed, spec.threshold)
    path = str((loaded.base_dir / spec.calibration).resolve()) if spec.calibration else None
    try:
        cited = cite(compliance.NAME, reader.sha256(), path)
    except InputError as exc:
        raise loaded.error(exc.detail, at=("scorer", "calibration"), fix=exc.fix or "") from exc
    if path and cited and cited.get("threshold") is not None:
        reader = replace(reader, threshold=float(cited["threshold"]))
    reader.preflight()
    block: dict[str, Any] = {"method": chosen, "parser_version": PARSER_VERSION, "sha256": reader.sha256()}
    if chosen in ("rules", "classifier"):
        block |= {"rules_version": RULES_VERSION, "rules_sha256": rules_sha256()}
    if chosen == "classifier":
        block |= {"model_sha256": compliance.model_sha256(), "model": compliance.NAME}
    if chosen == "judge":
        block |= {"judge_role": "judge", "rubric_sha256": RUBRIC_SHA256, "rubric": JUDGE_RUBRIC,
                  "votes": reader.votes, "temperature": reader.temperature, "seed": reader.seed}
    return reader, block | {"calibration": cited, "threshold": reader.threshold}


def reasoning_scorers(method: str) -> tuple[list[Scorer], dict[str, Any]]:
    """The auxiliary scorers of reasoning evidence, and what the manifest records of them."""
    if method == "off":
        return [], {}
    from ..reasoning import awareness, faking
    from ..reasoning.scorers import af_reasoning, eval_awareness

    chosen: Literal["offline", "judge"] = "offline" if method == "offline" else "judge"
    out: dict[str, Any] = {}
    for name, module in (("af_reasoning", faking), ("eval_awareness", awareness)):
        sha = str(module.shipped()[1].get("sha256")) if chosen == "offline" else module.RUBRIC_SHA256
        out[name] = {"method": chosen, "sha256": sha, "calibration": cite(name, sha) if chosen == "offline" else None}
    return [af_reasoning(method=chosen), eval_awareness(method=chosen)], out
