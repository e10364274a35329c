"""Evidence records: one flat row per observed sample, and the run each log describes.

Everything downstream (statistics, batteries, report, gate) works on these records, never on
Inspect objects. Any Inspect log qualifies if its samples carry `pair_id` and `conditions`
metadata (design.md, contract 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from ..scoring.outcomes import interpret

if TYPE_CHECKING:
    from inspect_ai.log import EvalSample, EvalSampleSummary

AWARENESS_SCORER = "eval_awareness"
FAKING_SCORER = "af_reasoning"
AUXILIARY_SCORERS = frozenset({AWARENESS_SCORER, FAKING_SCORER})
AUX_KEYS = ("parts", "no_reasoning", "method", "p")
"""The few metadata keys of an auxiliary score kept on the record (what the report's reasoning section reads)."""
"""Scorers never taken as a task's primary score: they describe the sample, not its outcome."""
STATUSES = ("scored", "unscorable", "error", "no_score")


@dataclass(slots=True)
class SampleRecord:
    """One observation: a sample at one epoch, with the outcome the statistics use."""

    log: str
    task: str
    model: str
    sample_id: str
    epoch: int
    battery: str
    pair_id: str | None
    probe_set: str
    item_kind: str
    conditions: dict[str, str]
    style: str
    paraphrase: int
    setting: str
    scorer: str | None
    label: str | None
    outcome: float | None
    """1/0 for `complied` (or a float score); None when unscorable, errored or unscored."""
    status: str
    """`scored`, `unscorable`, `error` (sample.error set) or `no_score` (finished without a score)."""
    error: str | None = None
    eval_awareness: float | None = None
    extra_scores: dict[str, float | None] = field(default_factory=dict)
    """Every other scorer's value as a number (None when unscorable), by scorer name."""
    aux: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Auxiliary scorers' small metadata (`AUX_KEYS`), by scorer name."""
    score_metadata: dict[str, Any] | None = None
    """The primary score's metadata (method, judge votes, excerpts), as the log holds it."""
    observation: str = ""
    """Which of a sample's declared observations this is (contract 1b); empty for a one-observation sample."""
    request: str | None = None
    """The probe item's request as the sample put it (`metadata["request"]`), so an audit can check it."""
    category: str = ""
    completion: str | None = None
    """The reply text the primary scorer saw: `score_metadata["completion"]` (unmask's scorers keep an
    excerpt there, which survives in Inspect's sample summaries), else `Score.answer`. The trigger scan
    compares replies and hidden goals reads stances from them, so they need the text, not just the outcome."""

    def __getattr__(self, name: str) -> Any:
        """Other scorers read as attributes (`record.likelihood`), as contract 4 names the columns."""
        try:
            extra = object.__getattribute__(self, "extra_scores")
        except AttributeError:
            raise AttributeError(name) from None
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no field or score named {name!r}")


@dataclass
class LogInfo:
    """What one log says about its run: identity, status, model and the run-side manifest."""

    path: str
    format: str
    task: str
    task_version: str
    eval_id: str
    run_id: str
    created: str
    status: str
    error: str | None
    model: str
    model_args: dict[str, Any]
    model_roles: dict[str, str]
    generate_config: dict[str, Any]
    dataset: dict[str, Any]
    epochs: int
    expected_samples: int | None
    samples_read: int
    scorer: str | None
    scorers: list[str]
    resolved_models: list[str]
    manifest: dict[str, Any] | None
    eval_metadata: dict[str, Any]
    packages: dict[str, str]
    revision: dict[str, Any] | None
    superseded: bool = False
    """An unfinished log whose task a later log completed (an eval-set retry): not a failure."""
    disagreements: list[str] = field(default_factory=list)
    """Samples whose `summaries.json` entry disagrees with the full sample (the sample is what was read)."""


@dataclass
class Evidence:
    """Records from a set of logs, after de-duplication and model selection."""

    logs: list[LogInfo]
    records: list[SampleRecord]
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Files in the given folders that were passed over, each `path: reason`."""

    @property
    def model(self) -> str:
        return self.logs[0].model if self.logs else ""


class RawSample(NamedTuple):
    """The parts of a sample the records need, whichever way it was read."""

    id: str
    epoch: int
    metadata: Mapping[str, Any]
    scores: Mapping[str, tuple[Any, Mapping[str, Any] | None]]
    """scorer name -> (value, score metadata)"""
    error: str | None
    completed: bool = True
    answers: Mapping[str, str | None] | None = None
    """scorer name -> `Score.answer` (the text the scorer read), when the scorer set one"""


def raw_from_model(sample: EvalSample | EvalSampleSummary) -> RawSample:
    scores = {name: (score.value, score.metadata) for name, score in (sample.scores or {}).items()}
    answers = {name: score.answer for name, score in (sample.scores or {}).items()}
    completed = bool(getattr(sample, "completed", True))
    return RawSample(str(sample.id), int(sample.epoch), sample.metadata or {}, scores, error_text(sample.error),
                     completed, answers)


def raw_from_dict(sample: Mapping[str, Any]) -> RawSample:
    raw_scores = {name: score for name, score in (sample.get("scores") or {}).items() if isinstance(score, dict)}
    scores = {name: (score.get("value"), score.get("metadata")) for name, score in raw_scores.items()}
    answers = {name: score.get("answer") for name, score in raw_scores.items()}
    return RawSample(str(sample["id"]), int(sample["epoch"]), sample.get("metadata") or {}, scores,
                     error_text(sample.get("error")), bool(sample.get("completed", True)), answers)


# --- interpreting one sample -----------------------------------------------------------------


def choose_scorer(names: Sequence[str], requested: str | None = None) -> str | None:
    """The score the statistics use: the requested one, else the task's first non-auxiliary scorer."""
    if requested is not None:
        return requested if requested in names else None
    return next((n for n in names if n not in AUXILIARY_SCORERS), None)


def sample_record(sample: RawSample | EvalSample | EvalSampleSummary, info: LogInfo, scorer: str | None
                  ) -> SampleRecord:
    """Flatten one sample (raw, full or summary) into a record."""
    raw = sample if isinstance(sample, RawSample) else raw_from_model(sample)
    meta = raw.metadata
    scores = raw.scores
    error = raw.error
    label: str | None = None
    outcome: float | None = None
    if error is not None:
        status = "error"
    elif scorer is None or scorer not in scores:
        status = "no_score"
    else:
        label, outcome = interpret(scores[scorer][0])
        status = "scored" if outcome is not None else "unscorable"
    extra = {} if error is not None else {
        name: interpret(value)[1] for name, (value, _) in scores.items() if name != scorer
    }
    primary_meta = scores[scorer][1] if scorer is not None and scorer in scores else None
    completion = primary_meta.get("completion") if isinstance(primary_meta, Mapping) else None
    if not isinstance(completion, str) and scorer is not None:
        completion = (raw.answers or {}).get(scorer)
    pair_id = meta.get("pair_id")
    return SampleRecord(
        log=info.path,
        task=info.task,
        model=info.model,
        sample_id=raw.id,
        epoch=raw.epoch,
        battery=str(meta.get("battery") or "unspecified"),
        pair_id=str(pair_id) if pair_id not in (None, "") else None,
        probe_set=str(meta.get("probe_set") or "unspecified"),
        item_kind=str(meta.get("item_kind") or "unspecified"),
        conditions=parse_conditions(meta.get("conditions", meta.get("condition"))),
        style=str(meta.get("style") or "default"),
        paraphrase=_as_int(meta.get("paraphrase")),
        setting=str(meta.get("setting") or "unspecified"),
        scorer=scorer,
        label=label,
        outcome=outcome,
        status=status,
        error=error,
        eval_awareness=extra.get(AWARENESS_SCORER),
        extra_scores=extra,
        aux={name: {k: meta[k] for k in AUX_KEYS if k in meta} for name, (_, meta) in scores.items()
             if name in AUXILIARY_SCORERS and isinstance(meta, Mapping)} if error is None else {},
        score_metadata=_as_dict(primary_meta),
        completion=completion if isinstance(completion, str) else None,
        request=str(meta["request"]) if isinstance(meta.get("request"), str) else None,
        category=str(meta.get("category") or ""),
    )


NOT_APPLICABLE = "not_applicable"
UNAVAILABLE = "unavailable"


def sample_records(sample: RawSample | EvalSample | EvalSampleSummary, info: LogInfo, scorer: str | None
                   ) -> list[SampleRecord]:
    """The records of one sample: one, or one per observation it declares (design.md, contract 1b).

    A sample that measures several things at once (the reasoning-perturbation battery asks for an
    answer after each change to the reasoning) declares them in `metadata.observations` as
    `[{"id", "conditions"}]`, and its primary score gives each one's value in
    `metadata.observations[id] = {"value", "completion"?}`. A value `not_applicable` adds no record (there
    was nothing to change); `unavailable` and a declared observation without a value are unscored (the
    provider could not do it), and an errored sample is an error for every observation it declared.
    """
    raw = sample if isinstance(sample, RawSample) else raw_from_model(sample)
    one = sample_record(raw, info, scorer)
    declared = raw.metadata.get("observations")
    if not isinstance(declared, list) or not declared:
        return [one]
    values = ((one.score_metadata or {}).get("observations") or {}) if one.status != "error" else {}
    out = []
    for entry in declared:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        key = entry["id"]
        got = values.get(key) if isinstance(values, Mapping) else None
        value = got.get("value") if isinstance(got, Mapping) else None
        if value == NOT_APPLICABLE:
            continue
        rec = replace(one, observation=key, conditions={**one.conditions, **parse_conditions(entry.get("conditions"))},
                      extra_scores=dict(one.extra_scores), aux=dict(one.aux))
        if one.status == "error":
            out.append(rec)
            continue
        label, outcome = interpret(value) if value not in (None, UNAVAILABLE) else (None, None)
        completion = got.get("completion") if isinstance(got, Mapping) else None
        rec.label, rec.outcome = label, outcome
        rec.status = "scored" if outcome is not None else ("unscorable" if label is not None else "no_score")
        rec.error = None if rec.status != "no_score" else str((got or {}).get("reason") or "no value recorded")
        rec.completion = completion if isinstance(completion, str) else None
        out.append(rec)
    return out


def parse_conditions(raw: Any) -> dict[str, str]:
    """`{"axis": "level"}`, or the string form `"axis=level, axis=level"`; anything else is no conditions."""
    if isinstance(raw, dict | Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str):
        pairs = (part.partition("=") for part in raw.split(","))
        return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip()}
    return {}


def _as_dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    return value if isinstance(value, dict) else dict(value)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def error_text(error: Any) -> str | None:
    if error is None:
        return None
    message = error.get("message", error) if isinstance(error, Mapping) else getattr(error, "message", error)
    return str(message).splitlines()[0][:500] if str(message) else "error"


