"""Evidence: Inspect logs in, flat per-sample records out.

Everything downstream (statistics, report, gate) works on these records, never on Inspect
objects. Any Inspect log qualifies if its samples carry `pair_id` and `conditions` metadata
(design.md, contract 1); logs written by plain `inspect eval` are read the same way.

Large logs are read through Inspect's sample summaries (one member of the `.eval` zip), which
carry metadata, scores and errors; only a handful of full samples are opened, to learn the
model id the provider actually returned.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import (
    EvalLog,
    EvalSample,
    EvalSampleSummary,
    list_eval_logs,
    read_eval_log,
    read_eval_log_sample,
    read_eval_log_sample_summaries,
)

from .errors import InputError

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
            infos = list_eval_logs(str(path), recursive=True, descending=False)
            found.extend(Path(_local(info.name)) for info in infos)
            if not infos:
                raise InputError("no Inspect logs (.eval or .json) in this directory", path=path,
                                 fix="pass the log directory that `unmask run` or `inspect eval` wrote")
        elif path.is_file():
            if path.suffix not in (".eval", ".json"):
                raise InputError("not an Inspect log (expected .eval or .json)", path=path,
                                 fix="pass .eval/.json log files or a log directory")
            found.append(path)
        else:
            raise InputError("no such file or directory", path=path, fix="check the path")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return sorted(unique)


def _local(name: str) -> str:
    return name.removeprefix("file://")


def read_log(path: str | Path, *, scorer: str | None = None, full: bool = False) -> tuple[LogInfo, list[SampleRecord]]:
    """Read one log into its run description and per-sample records.

    `full=True` reads every sample in full (slow on big logs) instead of the summaries, so that
    every sample's resolved model id is seen.
    """
    location = str(path)
    try:
        header = read_eval_log(location, header_only=True)
        use_full = full or location.endswith(".json")
        if use_full:
            loaded = read_eval_log(location)
            samples: Sequence[EvalSample | EvalSampleSummary] = loaded.samples or []
            resolved = sorted({s.output.model for s in loaded.samples or [] if s.output and s.output.model})
        else:
            samples = read_eval_log_sample_summaries(location)
            resolved = _probe_resolved_models(location, samples)
    except InputError:
        raise
    except Exception as exc:  # Inspect raises many types for a bad file; all are bad input here
        raise InputError(f"cannot read Inspect log ({type(exc).__name__}: {exc})", path=location,
                         fix="check that the file is a complete Inspect .eval or .json log") from exc
    names = _scorer_names(header, samples)
    primary = choose_scorer(names, scorer)
    if scorer is not None and primary is None:
        raise InputError(f"no scorer named {scorer!r} in this log", path=location,
                         fix=f"use one of: {', '.join(names) or '(no scores recorded)'}")
    info = _log_info(header, location, names, primary, resolved, len(samples))
    records = [sample_record(s, info, primary) for s in samples]
    return info, records


def read_evidence(
    paths: Sequence[str | Path], *, scorer: str | None = None, model: str | None = None, full: bool = False
) -> Evidence:
    """Read every log, keep one model, drop duplicate observations (a retried sample counts once)."""
    files = find_logs(paths)
    if not files:
        raise InputError("no logs given", fix="pass one or more .eval/.json files or log directories")
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
    warnings += [f"{info.path}: log status is {info.status!r}" + (f" ({info.error})" if info.error else "")
                 for info, _ in loaded if info.status != "success"]
    records, duplicates = _deduplicate(loaded)
    if not any(r.pair_id and r.conditions for r in records):
        raise InputError("no sample in these logs carries pair_id and conditions metadata",
                         fix="run an unmask task, or add pair_id and conditions to Sample.metadata "
                             "(see docs/design.md, contract 1)")
    return Evidence([info for info, _ in loaded], records, duplicates, warnings)


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


def sample_record(sample: EvalSample | EvalSampleSummary, info: LogInfo, scorer: str | None) -> SampleRecord:
    """Flatten one Inspect sample (full or summary) into a record."""
    meta: Mapping[str, Any] = sample.metadata or {}
    scores = sample.scores or {}
    error = _error_text(sample.error)
    label: str | None = None
    outcome: float | None = None
    if error is not None:
        status = "error"
    elif scorer is None or scorer not in scores:
        status = "no_score"
    else:
        label, outcome = interpret_score(scores[scorer].value)
        status = "scored" if outcome is not None else "unscorable"
    extra = {} if error is not None else {
        name: interpret_score(score.value)[1] for name, score in scores.items() if name != scorer
    }
    primary = scores.get(scorer) if scorer is not None else None
    pair_id = meta.get("pair_id")
    return SampleRecord(
        log=info.path,
        task=info.task,
        model=info.model,
        sample_id=str(sample.id),
        epoch=int(sample.epoch),
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
        score_metadata=dict(primary.metadata) if primary is not None and primary.metadata else None,
    )


def parse_conditions(raw: Any) -> dict[str, str]:
    """`{"axis": "level"}`, or the string form `"axis=level, axis=level"`; anything else is no conditions."""
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str):
        pairs = (part.partition("=") for part in raw.split(","))
        return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip()}
    return {}


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    message = getattr(error, "message", error)
    return str(message).splitlines()[0][:500] if str(message) else "error"


# --- run description -------------------------------------------------------------------------


def _scorer_names(header: EvalLog, samples: Iterable[EvalSample | EvalSampleSummary]) -> list[str]:
    names = [s.name for s in header.eval.scorers or []]
    names = names or [s.name for s in (header.results.scores if header.results else [])]
    if names:
        return list(dict.fromkeys(names))
    seen: dict[str, None] = {}
    for sample in samples:
        for name in sample.scores or {}:
            seen.setdefault(name, None)
    return list(seen)


def _probe_resolved_models(location: str, samples: Sequence[EvalSampleSummary]) -> list[str]:
    """Open the first, middle and last completed samples to read `ModelOutput.model`."""
    done = [s for s in samples if s.error is None and s.completed]
    if not done:
        return []
    picks = {0, len(done) // 2, len(done) - 1}
    resolved: set[str] = set()
    for index in sorted(picks)[:RESOLVED_MODEL_PROBES]:
        summary = done[index]
        full = read_eval_log_sample(location, id=summary.id, epoch=summary.epoch)
        if full.output and full.output.model:
            resolved.add(full.output.model)
    return sorted(resolved)


def _role_model(config: Any) -> str:
    configs = config if isinstance(config, list) else [config]
    return ", ".join(str(getattr(c, "model", c)) for c in configs)


def _log_info(
    header: EvalLog, location: str, scorers: list[str], primary: str | None, resolved: list[str], count: int
) -> LogInfo:
    spec = header.eval
    metadata = dict(spec.metadata or {})
    manifest = metadata.pop("unmask_manifest", None)
    epochs = int(spec.config.epochs or 1)
    dataset = spec.dataset
    expected = dataset.samples * epochs if dataset.samples is not None else None
    return LogInfo(
        path=location,
        format="json" if location.endswith(".json") else "eval",
        task=spec.task,
        task_version=str(spec.task_version),
        eval_id=spec.eval_id,
        run_id=spec.run_id,
        created=str(spec.created),
        status=str(header.status),
        error=_error_text(header.error),
        model=spec.model,
        model_args=dict(spec.model_args or {}),
        model_roles={k: _role_model(v) for k, v in (spec.model_roles or {}).items()},
        generate_config=spec.model_generate_config.model_dump(exclude_none=True),
        dataset={"name": dataset.name, "location": dataset.location, "samples": dataset.samples},
        epochs=epochs,
        expected_samples=expected,
        samples_read=count,
        scorer=primary,
        scorers=scorers,
        resolved_models=resolved,
        manifest=manifest if isinstance(manifest, dict) else None,
        eval_metadata=metadata,
        packages=dict(spec.packages or {}),
        revision=spec.revision.model_dump() if spec.revision else None,
    )


# --- per-sample table ------------------------------------------------------------------------

TABLE_COLUMNS = ("log", "task", "model", "sample_id", "epoch", "battery", "pair_id", "probe_set", "item_kind",
                 "style", "paraphrase", "setting", "scorer", "label", "outcome", "status", "error",
                 "eval_awareness")


def table_rows(records: Sequence[SampleRecord]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows for analysts: one per record, each condition axis as `cond_<axis>`, each other scorer by name."""
    axes = sorted({axis for r in records for axis in r.conditions})
    extras = sorted({name for r in records for name in r.extra_scores} - {AWARENESS_SCORER, *TABLE_COLUMNS})
    columns = [*TABLE_COLUMNS[:9], *(f"cond_{a}" for a in axes), *TABLE_COLUMNS[9:], *extras]
    rows = []
    for r in records:
        row = {name: getattr(r, name) for name in TABLE_COLUMNS}
        row.update({f"cond_{a}": r.conditions.get(a) for a in axes})
        row.update({name: r.extra_scores.get(name) for name in extras})
        rows.append(row)
    return columns, rows


def write_table(records: Sequence[SampleRecord], directory: str | Path, fmt: str = "auto") -> Path:
    """Write `samples.parquet` (when pyarrow is importable and fmt allows) or `samples.csv`."""
    columns, rows = table_rows(records)
    out_dir = Path(directory)
    if fmt in ("auto", "parquet"):
        try:
            import pyarrow as pa  # type: ignore[import-not-found,unused-ignore]
            import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            if fmt == "parquet":
                raise InputError("Parquet output needs pyarrow",
                                 fix="pip install pyarrow, or use --table csv") from None
        else:
            path = out_dir / "samples.parquet"
            pq.write_table(pa.Table.from_pylist(rows), path)
            return path
    path = out_dir / "samples.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
