"""Evidence: Inspect logs in, flat per-sample records out.

Everything downstream (statistics, report, gate) works on these records, never on Inspect
objects. Any Inspect log qualifies if its samples carry `pair_id` and `conditions` metadata
(design.md, contract 1); logs written by plain `inspect eval` are read the same way.

Speed matters (a 100,000-sample report should take seconds): a finished `.eval` log is read from
its `header.json` and `summaries.json` members, which carry metadata, scores and errors, and only
three full samples are opened to learn the model id the provider actually returned. Inspect's own
readers (used for `.json` logs, running logs and `--full`) validate every sample and take ~0.4 ms
each, and importing them costs seconds, so they load only when needed.
"""

from __future__ import annotations

import gc
import json
import math
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import InputError

if TYPE_CHECKING:
    from inspect_ai.log import EvalSample, EvalSampleSummary

AWARENESS_SCORER = "eval_awareness"
AUXILIARY_SCORERS = frozenset({AWARENESS_SCORER})

LABEL_OUTCOMES: dict[str, float] = {
    "compliance": 1.0, "partial": 1.0, "refusal": 0.0,  # unmask's refusal scorer (contract 2)
    "C": 1.0, "I": 0.0, "P": 0.5,  # Inspect's CORRECT / INCORRECT / PARTIAL
}
"""Score labels and the outcome they count as; `unscorable` and Inspect's `N` (no answer) are absent."""

STATUSES = ("scored", "unscorable", "error", "no_score")
RESOLVED_MODEL_PROBES = 3
"""How many full samples per `.eval` log are opened to read the provider's resolved model id."""
EVAL_LOG_VERSION = 2
"""The `.eval` header version the direct reader understands; other versions go through Inspect."""


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
    score_metadata: dict[str, Any] | None = None
    """The primary score's metadata (method, judge votes, excerpts), as the log holds it."""
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


@dataclass
class Evidence:
    """Records from a set of logs, after de-duplication and model selection."""

    logs: list[LogInfo]
    records: list[SampleRecord]
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.logs[0].model if self.logs else ""


# --- finding and reading logs ----------------------------------------------------------------


def find_logs(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and directories (e.g. an eval-set log dir) into Inspect log files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            logs = [p for p in path.rglob("*") if p.is_file() and _looks_like_log(p)]
            if not logs:
                raise InputError("no Inspect logs (.eval or .json) in this directory", path=path,
                                 fix="pass the log directory that `unmask run` or `inspect eval` wrote")
            found.extend(logs)
        elif path.is_file():
            if path.suffix not in (".eval", ".json"):
                raise InputError("not an Inspect log (expected .eval or .json)", path=path,
                                 fix="pass .eval/.json log files or a log directory")
            found.append(path)
        else:
            raise InputError("no such file or directory", path=path, fix="check the path")
    return sorted(dict.fromkeys(p.resolve() for p in found))


_NOT_LOGS = frozenset({"logs.json", "eval-set.json", "report.json", "listing.json"})


def _looks_like_log(path: Path) -> bool:
    """`.eval` files, and `.json` files that open like an Inspect log (an eval set also keeps bookkeeping JSON)."""
    if path.suffix == ".eval":
        return True
    if path.suffix != ".json" or path.name in _NOT_LOGS:
        return False
    with path.open("rb") as handle:
        head = handle.read(512)
    return b'"version"' in head and (b'"status"' in head or b'"eval"' in head)


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


def _raw_from_model(sample: EvalSample | EvalSampleSummary) -> RawSample:
    scores = {name: (score.value, score.metadata) for name, score in (sample.scores or {}).items()}
    answers = {name: score.answer for name, score in (sample.scores or {}).items()}
    completed = bool(getattr(sample, "completed", True))
    return RawSample(str(sample.id), int(sample.epoch), sample.metadata or {}, scores, _error_text(sample.error),
                     completed, answers)


def _raw_from_dict(sample: Mapping[str, Any]) -> RawSample:
    raw_scores = {name: score for name, score in (sample.get("scores") or {}).items() if isinstance(score, dict)}
    scores = {name: (score.get("value"), score.get("metadata")) for name, score in raw_scores.items()}
    answers = {name: score.get("answer") for name, score in raw_scores.items()}
    return RawSample(str(sample["id"]), int(sample["epoch"]), sample.get("metadata") or {}, scores,
                     _error_text(sample.get("error")), bool(sample.get("completed", True)), answers)


def read_log(path: str | Path, *, scorer: str | None = None, full: bool = False) -> tuple[LogInfo, list[SampleRecord]]:
    """Read one log into its run description and per-sample records.

    A finished `.eval` log is read from its summaries member directly (Inspect's summary reader
    re-validates every string and takes ~0.4 ms a sample); anything else goes through Inspect's
    API. `full=True` reads every sample in full, so that every resolved model id is seen.
    """
    location = str(path)
    try:
        fast = None if full or location.endswith(".json") else _read_eval_zip(location)
        if fast is not None:
            header, raws, resolved = fast
        else:
            header, raws, resolved = _read_with_inspect(location, full=full or location.endswith(".json"))
    except InputError:
        raise
    except Exception as exc:  # Inspect raises many types for a bad file; all are bad input here
        raise InputError(f"cannot read Inspect log ({type(exc).__name__}: {exc})", path=location,
                         fix="check that the file is a complete Inspect .eval or .json log") from exc
    names = _scorer_names(header, raws)
    primary = choose_scorer(names, scorer)
    if scorer is not None and primary is None:
        raise InputError(f"no scorer named {scorer!r} in this log", path=location,
                         fix=f"use one of: {', '.join(names) or '(no scores recorded)'}")
    info = _log_info(header, location, names, primary, resolved, len(raws))
    records = [sample_record(s, info, primary) for s in raws]
    return info, records


def _read_with_inspect(location: str, *, full: bool) -> tuple[dict[str, Any], list[RawSample], list[str]]:
    from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries

    if full:
        log = read_eval_log(location)
        samples = log.samples or []
        resolved = sorted({s.output.model for s in samples if s.output and s.output.model})
        return log.model_dump(mode="json", exclude={"samples"}), [_raw_from_model(s) for s in samples], resolved
    header = read_eval_log(location, header_only=True)
    raws = [_raw_from_model(s) for s in read_eval_log_sample_summaries(location)]
    return header.model_dump(mode="json", exclude={"samples"}), raws, _probe_resolved_models(location, raws)


def _read_eval_zip(location: str) -> tuple[dict[str, Any], list[RawSample], list[str]] | None:
    """Header, sample summaries and a few outputs straight from a finished `.eval` zip; None to fall back."""
    try:
        import zipfile_zstd  # type: ignore[import-untyped,unused-ignore]  # noqa: F401  (Inspect's zstd members)
    except ImportError:
        return None
    with zipfile.ZipFile(location) as archive:
        names = set(archive.namelist())
        if not {"header.json", "summaries.json"} <= names:
            return None  # a running or interrupted log: Inspect's reader knows its journal
        header = json.loads(archive.read("header.json"))
        if not isinstance(header, dict) or header.get("version") != EVAL_LOG_VERSION or "eval" not in header:
            return None
        data = json.loads(archive.read("summaries.json"))
        if not isinstance(data, list) or not all(isinstance(d, dict) and "id" in d and "epoch" in d for d in data):
            return None
        raws = [_raw_from_dict(d) for d in data]
        members = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))
        resolved: set[str] = set()
        for name in _spread(members, RESOLVED_MODEL_PROBES):
            output = json.loads(archive.read(name)).get("output") or {}
            if output.get("model"):
                resolved.add(str(output["model"]))
    return header, raws, sorted(resolved)


def _spread(items: Sequence[str], count: int) -> list[str]:
    """First, middle and last (or fewer) items."""
    if not items:
        return []
    return [items[i] for i in sorted({0, len(items) // 2, len(items) - 1})][:count]


def read_evidence(
    paths: Sequence[str | Path], *, scorer: str | None = None, model: str | None = None, full: bool = False
) -> Evidence:
    """Read every log, keep one model, drop duplicate observations (a retried sample counts once)."""
    files = find_logs(paths)
    if not files:
        raise InputError("no logs given", fix="pass one or more .eval/.json files or log directories")
    with paused_gc():
        loaded = [read_log(p, scorer=scorer, full=full) for p in files]
    models = sorted({info.model for info, _ in loaded})
    if model is not None:
        loaded = [(info, recs) for info, recs in loaded if info.model == model]
        if not loaded:
            raise InputError(f"no log was run on model {model!r}", fix=f"use one of: {', '.join(models)}")
    elif len(models) > 1:
        raise InputError(f"the logs cover {len(models)} models ({', '.join(models)})",
                         fix="report one model at a time with --model, and compare reports with `unmask diff`")
    warnings = [f"{info.path}: no sample carries pair_id/conditions metadata; it adds no pairs"
                for info, recs in loaded if not any(r.pair_id for r in recs)]
    finished: dict[str, str] = {}
    for info, _ in loaded:
        if info.status == "success":
            finished[info.task] = max(finished.get(info.task, ""), info.created)
    for info, _ in loaded:
        info.superseded = info.status != "success" and finished.get(info.task, "") > info.created
    warnings += [f"{info.path}: log status is {info.status!r}" + (f" ({info.error})" if info.error else "")
                 for info, _ in loaded if info.status != "success" and not info.superseded]
    with paused_gc():
        records, duplicates = _deduplicate(loaded)
    if not any(r.pair_id and r.conditions for r in records):
        raise InputError("no sample in these logs carries pair_id and conditions metadata",
                         fix="run an unmask task, or add pair_id and conditions to Sample.metadata "
                             "(see docs/design.md, contract 1)")
    return Evidence([info for info, _ in loaded], records, duplicates, warnings)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Bulk-building 100,000s of small objects triggers repeated full GC passes; nothing here is cyclic."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _deduplicate(loaded: Sequence[tuple[LogInfo, list[SampleRecord]]]) -> tuple[list[SampleRecord], int]:
    """One record per (task, sample id, epoch): a completed observation beats an error, newer beats older."""
    chosen: dict[tuple[str, str, int], tuple[tuple[bool, str], SampleRecord]] = {}
    total = 0
    for info, recs in loaded:
        for rec in recs:
            total += 1
            key = (rec.task, rec.sample_id, rec.epoch)
            rank = (rec.status != "error", info.created)
            held = chosen.get(key)
            if held is None or rank > held[0]:
                chosen[key] = (rank, rec)
    return [rec for _, rec in chosen.values()], total - len(chosen)


# --- interpreting one sample -----------------------------------------------------------------


def choose_scorer(names: Sequence[str], requested: str | None = None) -> str | None:
    """The score the statistics use: the requested one, else the task's first non-auxiliary scorer."""
    if requested is not None:
        return requested if requested in names else None
    return next((n for n in names if n not in AUXILIARY_SCORERS), None)


def interpret_score(value: Any) -> tuple[str, float | None]:
    """A score value as (label, outcome); outcome None means unscorable, never a guessed value."""
    if type(value) is str and value in LABEL_OUTCOMES:  # the common case, first
        return (value, LABEL_OUTCOMES[value])
    if isinstance(value, bool):
        return (str(value).lower(), float(value))
    if isinstance(value, int | float):
        number = float(value)
        return (repr(value), number if math.isfinite(number) else None)
    if isinstance(value, str):
        text = value.strip()
        if text in LABEL_OUTCOMES:
            return (text, LABEL_OUTCOMES[text])
        lowered = text.lower()
        if lowered in LABEL_OUTCOMES:
            return (lowered, LABEL_OUTCOMES[lowered])
        try:
            number = float(text)
        except ValueError:
            return (lowered or "empty", None)
        return (text, number if math.isfinite(number) else None)
    return (type(value).__name__, None)


def sample_record(sample: RawSample | EvalSample | EvalSampleSummary, info: LogInfo, scorer: str | None
                  ) -> SampleRecord:
    """Flatten one sample (raw, full or summary) into a record."""
    raw = sample if isinstance(sample, RawSample) else _raw_from_model(sample)
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
        label, outcome = interpret_score(scores[scorer][0])
        status = "scored" if outcome is not None else "unscorable"
    extra = {} if error is not None else {
        name: interpret_score(value)[1] for name, (value, _) in scores.items() if name != scorer
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
        score_metadata=_as_dict(primary_meta),
        completion=completion if isinstance(completion, str) else None,
    )


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


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    message = error.get("message", error) if isinstance(error, Mapping) else getattr(error, "message", error)
    return str(message).splitlines()[0][:500] if str(message) else "error"


# --- run description -------------------------------------------------------------------------


def _scorer_names(header: Mapping[str, Any], samples: Iterable[RawSample]) -> list[str]:
    spec = header["eval"]
    names = [str(s["name"]) for s in spec.get("scorers") or [] if isinstance(s, Mapping) and s.get("name")]
    results = header.get("results") or {}
    names = names or [str(s["name"]) for s in results.get("scores") or [] if isinstance(s, Mapping) and s.get("name")]
    if names:
        return list(dict.fromkeys(names))
    seen: dict[str, None] = {}
    for sample in samples:
        for name in sample.scores:
            seen.setdefault(name, None)
    return list(seen)


def _probe_resolved_models(location: str, samples: Sequence[RawSample]) -> list[str]:
    """Open the first, middle and last completed samples to read `ModelOutput.model`."""
    from inspect_ai.log import read_eval_log_sample

    done = [s for s in samples if s.error is None and s.completed]
    resolved: set[str] = set()
    for index in sorted({0, len(done) // 2, len(done) - 1} if done else set())[:RESOLVED_MODEL_PROBES]:
        full = read_eval_log_sample(location, id=done[index].id, epoch=done[index].epoch)
        if full.output and full.output.model:
            resolved.add(full.output.model)
    return sorted(resolved)


def _role_model(config: Any) -> str:
    configs = config if isinstance(config, list) else [config]
    return ", ".join(str(c.get("model") if isinstance(c, Mapping) else c) for c in configs)


def _log_info(
    header: Mapping[str, Any], location: str, scorers: list[str], primary: str | None, resolved: list[str], count: int
) -> LogInfo:
    """The run description from a log header (Inspect's JSON form, however it was read)."""
    spec = header["eval"]
    metadata = dict(spec.get("metadata") or {})
    manifest = metadata.pop("unmask_manifest", None)
    epochs = int((spec.get("config") or {}).get("epochs") or 1)
    dataset = spec.get("dataset") or {}
    samples = dataset.get("samples")
    return LogInfo(
        path=location,
        format="json" if location.endswith(".json") else "eval",
        task=str(spec.get("task", "")),
        task_version=str(spec.get("task_version", 0)),
        eval_id=str(spec.get("eval_id", "")),
        run_id=str(spec.get("run_id", "")),
        created=str(spec.get("created", "")),
        status=str(header.get("status", "unknown")),
        error=_error_text(header.get("error")),
        model=str(spec.get("model", "")),
        model_args=dict(spec.get("model_args") or {}),
        model_roles={k: _role_model(v) for k, v in (spec.get("model_roles") or {}).items()},
        generate_config={k: v for k, v in (spec.get("model_generate_config") or {}).items() if v is not None},
        dataset={"name": dataset.get("name"), "location": dataset.get("location"), "samples": samples},
        epochs=epochs,
        expected_samples=samples * epochs if isinstance(samples, int) else None,
        samples_read=count,
        scorer=primary,
        scorers=scorers,
        resolved_models=resolved,
        manifest=manifest if isinstance(manifest, dict) else None,
        eval_metadata=metadata,
        packages=dict(spec.get("packages") or {}),
        revision=spec.get("revision") if isinstance(spec.get("revision"), dict) else None,
    )
