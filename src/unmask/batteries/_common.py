"""Shared plumbing for the batteries: options, contract-1 samples, the manifest and record access.

Every battery builds samples the same way (content-addressed ids, the contract-1 metadata keys) and
binds its task to the same manifest shape as the compliance gap, so records, statistics, report and
gate read battery logs without knowing which battery wrote them.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from typing import Any, TypeVar

import yaml
from inspect_ai import Epochs, Task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, GenerateConfig
from inspect_ai.scorer import SampleScore, Scorer
from inspect_ai.solver import generate
from pydantic import BaseModel, ConfigDict, ValidationError

from .. import __version__
from ..errors import InputError
from ..samples import sample_id
from ..scoring import complied, complied_mean
from ..suite import LoadedSuite, line_of, load_suite

DATA_DIR = "data/batteries"
EXCERPT_CHARS = 600
"""Completion text kept in `Score.metadata` (Inspect keeps score metadata strings under 1k in summaries)."""


class Options(BaseModel):
    """Base of every battery's `options:` model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=Options)


def parse_options(loaded: LoadedSuite, model: type[OptionsT]) -> OptionsT:
    """Validate `options:` with the battery's own model; errors point at file, line and field."""
    try:
        return model.model_validate(loaded.suite.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ("options", *err["loc"])
        try:
            node = yaml.compose(loaded.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            node = None
        fix = (f"remove '{loc[-1]}' or check its spelling; see docs/batteries.md"
               if err["type"] == "extra_forbidden" else "see docs/batteries.md for this option")
        raise InputError(str(err["msg"]).removeprefix("Value error, "), path=loaded.path,
                         line=line_of(node, loc), field=".".join(str(p) for p in loc), fix=fix) from exc


def load_battery_suite(suite: str, battery: str, options: type[OptionsT]) -> tuple[LoadedSuite, OptionsT]:
    """Load a suite that must be of `battery` and validate its `options:` with the battery's model."""
    loaded = load_suite(suite)
    if loaded.suite.battery != battery:
        raise InputError(f"suite {loaded.suite.name!r} is a {loaded.suite.battery} suite", path=loaded.path,
                         field="battery", fix=f"use a suite with battery: {battery}")
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


def battery_manifest(
    loaded: LoadedSuite, *, setting: Mapping[str, Any], item_sets: Mapping[str, Any],
    scorer: Mapping[str, Any], contrasts: list[dict[str, Any]], sample_count: int,
    data_files: Iterable[DataFile] = (), extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contract-3 manifest in the compliance gap's shape, plus the battery's contrasts."""
    suite = loaded.suite
    return {
        "suite": {"name": suite.name, "version": suite.version, "sha256": loaded.sha256,
                  "path": str(loaded.path), "battery": suite.battery, "epochs": suite.epochs,
                  "paraphrases": suite.paraphrases, "styles": suite.styles,
                  "options": json.loads(json.dumps(suite.options, default=str))},
        "setting": dict(setting),
        "templates": {f.name: f.sha256 for f in data_files},
        "probe_sets": dict(item_sets),
        "scorer": dict(scorer),
        "generate": suite.generate.model_dump(),
        "declared": suite.declared.model_dump(),
        "versions": {"unmask": __version__, "inspect_ai": version("inspect_ai"),
                     "python": platform.python_version()},
        "sample_count": sample_count,
        "contrasts": contrasts,
        **(extra or {}),
    }


def generate_config(loaded: LoadedSuite, extra: GenerateConfig | None = None) -> GenerateConfig:
    """The suite's `generate:` settings, with a battery's own (e.g. log-probabilities) merged over them."""
    gen = loaded.suite.generate
    config = GenerateConfig(temperature=gen.temperature, max_tokens=gen.max_tokens, seed=gen.seed)
    return config.merge(extra) if extra is not None else config


def assemble_task(
    loaded: LoadedSuite, samples: list[Sample], *, scorers: Scorer | list[Scorer], scoring: Mapping[str, Any],
    setting: Mapping[str, Any], item_sets: Mapping[str, Any], contrasts: list[dict[str, Any]],
    data_files: Iterable[DataFile] = (), extra: Mapping[str, Any] | None = None,
    config: GenerateConfig | None = None,
) -> Task:
    """The Inspect task of a battery: its samples and scorers, bound to the manifest (`scoring` is its
    `scorer` section), generated with the suite's settings (or `config`), epochs reduced as everywhere."""
    manifest = battery_manifest(loaded, setting=setting, item_sets=item_sets, scorer=scoring, contrasts=contrasts,
                                sample_count=len(samples), data_files=data_files, extra=extra)
    return Task(
        dataset=MemoryDataset(samples, name=loaded.suite.name),
        solver=generate(),
        scorer=scorers,
        config=config if config is not None else generate_config(loaded),
        epochs=Epochs(loaded.suite.epochs, complied_mean()),
        version=loaded.suite.version,
        metadata={"unmask_manifest": manifest},
    )


def scorable_mean(scores: list[SampleScore]) -> float:
    """Mean outcome over the scorable samples (nan when none is); for the batteries' rate metrics."""
    values = [v for s in scores if (v := complied(s.score.value)) is not None]
    return sum(values) / len(values) if values else float("nan")


def mean_by(scores: list[SampleScore], *factors: str, labelled: bool = False) -> dict[str, float]:
    """Mean scorable outcome per level of each factor in the sample's conditions, keyed by the level
    (or `factor=level` when `labelled`; unlabelled, samples without the factor are left out)."""
    groups: dict[str, list[float]] = {}
    for s in scores:
        value = complied(s.score.value)
        conds = (s.sample_metadata or {}).get("conditions", {})
        if value is None:
            continue
        for factor in factors:
            level = conds.get(factor)
            if labelled:
                groups.setdefault(f"{factor}={level}", []).append(value)
            elif level:
                groups.setdefault(str(level), []).append(value)
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}


def text_sha256(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- reading records (analysis side) ---------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


@dataclass(frozen=True)
class Row:
    """One observation as the analyses need it; built from a records.py dict or SampleRecord."""

    pair_id: str
    conditions: dict[str, str]
    outcome: float | None
    completion: str
    battery: str
    style: str = ""
    paraphrase: int = 0
    epoch: int = 1
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def key_without(self, factor: str) -> tuple[Any, ...]:
        """What two observations must share to be a pair for `factor` (design.md, contract 1)."""
        rest = tuple(sorted((k, v) for k, v in self.conditions.items() if k != factor))
        return (self.pair_id, self.style, self.paraphrase, self.epoch, rest)


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


def rows(records: Iterable[Any], battery: str) -> list[Row]:
    """Records of one battery as rows; completion falls back to the score metadata's excerpt."""
    out: list[Row] = []
    for r in records:
        if _get(r, "battery") != battery or not _get(r, "pair_id"):
            continue
        meta = _get(r, "score_metadata") or _get(r, "metadata") or {}
        completion = _get(r, "completion") or (meta.get("completion") if isinstance(meta, Mapping) else "") or ""
        outcome = _get(r, "outcome")
        extra = {k: _get(r, k) for k in ("eval_awareness", "likelihood", "self_preservation", "sample_id")
                 if _get(r, k) is not None}
        out.append(Row(
            pair_id=str(_get(r, "pair_id")), conditions=dict(_get(r, "conditions") or {}),
            outcome=None if outcome is None else float(outcome), completion=str(completion),
            battery=battery, style=str(_get(r, "style") or ""), paraphrase=int(_get(r, "paraphrase") or 0),
            epoch=int(_get(r, "epoch") or 1), meta=dict(meta) if isinstance(meta, Mapping) else {}, extra=extra,
        ))
    return out


def pairs(data: Sequence[Row], factor: str, a: str, b: str) -> list[tuple[Row, Row]]:
    """Matched (a, b) observations for one factor: same item, style, paraphrase, epoch, other conditions."""
    by_key: dict[tuple[Any, ...], dict[str, Row]] = {}
    for row in data:
        level = row.conditions.get(factor)
        if level in (a, b):
            by_key.setdefault(row.key_without(factor), {})[level] = row
    return [(cell[a], cell[b]) for cell in by_key.values() if a in cell and b in cell]


def words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens (how replies are compared and markers found)."""
    return _WORD.findall(text.lower())


def log_records(paths: Iterable[str]) -> list[dict[str, Any]]:
    """Plain per-sample dicts from Inspect logs (primary score and its metadata), for `analyse` calls
    outside the report (tests, `unmask validate`). The report passes records.py's records instead."""
    from inspect_ai.log import read_eval_log_sample_summaries

    from ..records import find_logs, interpret_score

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for path in find_logs(list(paths)):  # sorted by name, so a resumed run's newer log wins
        for s in read_eval_log_sample_summaries(str(path)):
            meta = s.metadata or {}
            scores = s.scores or {}
            first = next(iter(scores.values()), None)
            outcome = None if first is None or s.error else interpret_score(first.value)[1]
            out[(str(s.id), s.epoch)] = {
                "pair_id": meta.get("pair_id"), "conditions": meta.get("conditions") or {},
                "battery": meta.get("battery"), "style": meta.get("style"), "paraphrase": meta.get("paraphrase"),
                "epoch": s.epoch, "sample_id": str(s.id), "outcome": outcome,
                "score_metadata": dict(first.metadata or {}) if first is not None else {},
                "scores": {k: interpret_score(v.value)[1] for k, v in scores.items()},
            }
    return list(out.values())


def paired_contrast(data: Sequence[Row], factor: str, a: str, b: str, *, value: Any = None,
                    level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """mean(a - b) over matched pairs with a cluster-bootstrap interval (clusters: items) and an exact test.

    `value(row)` picks the number compared (default: the primary outcome); pairs missing it are dropped.
    """
    import math

    from .. import stats

    pick = value or (lambda r: r.outcome)
    matched = [(pick(x), pick(y), x.pair_id) for x, y in pairs(data, factor, a, b)]
    matched = [(p, q, c) for p, q, c in matched if p is not None and q is not None]
    if not matched:
        return {"n_pairs": 0, "gap": math.nan, "ci": (math.nan, math.nan), "p_value": 1.0}
    codes = {pid: i for i, pid in enumerate(dict.fromkeys(c for _, _, c in matched))}
    boot = stats.ClusterBootstrap(len(codes), reps=2000, seed=seed)
    res = stats.paired_difference([p for p, _, _ in matched], [q for _, q, _ in matched],
                                  [codes[c] for _, _, c in matched], boot, level=level)
    return {"n_pairs": res.n_pairs, "n_items": res.n_clusters, "mean_a": res.mean_a, "mean_b": res.mean_b,
            "gap": res.gap, "ci": res.ci, "p_value": res.p_value, "test": res.test, "mde": res.mde}
