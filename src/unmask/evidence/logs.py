"""Reading Inspect logs: the one reader every part of unmask uses (report, validation, `unmask run`).

Speed matters (a 100,000-sample report should take seconds): a finished `.eval` log is read from
its `header.json` and `summaries.json` members, which carry metadata, scores and errors, and only
three full samples are opened to learn the model id the provider actually returned. Inspect's own
readers (used for `.json` logs, running logs and `--full`) validate every sample and take ~0.4 ms
each, and importing them costs seconds, so they load only when needed.
"""

from __future__ import annotations

import gc
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InputError
from .records import (
    Evidence,
    LogInfo,
    RawSample,
    SampleRecord,
    choose_scorer,
    error_text,
    raw_from_dict,
    raw_from_model,
    sample_record,
)

RESOLVED_MODEL_PROBES = 3
"""How many full samples per `.eval` log are opened to read the provider's resolved model id."""
EVAL_LOG_VERSION = 2
"""The `.eval` header version the direct reader understands; other versions go through Inspect."""


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
        return log.model_dump(mode="json", exclude={"samples"}), [raw_from_model(s) for s in samples], resolved
    header = read_eval_log(location, header_only=True)
    raws = [raw_from_model(s) for s in read_eval_log_sample_summaries(location)]
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
        raws = [raw_from_dict(d) for d in data]
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
        error=error_text(header.get("error")),
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
