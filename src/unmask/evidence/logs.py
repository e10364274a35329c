"""Reading Inspect logs: the one reader every part of unmask uses (report, validation, `unmask run`).

A finished `.eval` log is a zip: the records come from its full sample members, parsed directly
(~0.15 ms a sample; Inspect's own reader validates every field and takes several times longer), and
its `summaries.json` member is checked against them. A log whose summaries disagree with its samples
was edited or damaged: the samples win and the report says so. Inspect's reader handles `.json` logs,
running or interrupted logs and other versions; importing it costs a second, so only then.
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
    sample_records,
)

EVAL_LOG_VERSION = 2
"""The `.eval` header version the direct reader understands; other versions go through Inspect."""


# --- finding and reading logs ----------------------------------------------------------------


def find_logs(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Expand files and directories (e.g. an eval-set log dir) into Inspect log files.

    Returns the logs and the files of a directory that were passed over, each with the reason: a
    `.json` that does not open as an Inspect log is a named skip, never a silent one (an eval set's
    own bookkeeping files aside).
    """
    found: list[Path] = []
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            logs = []
            for candidate in sorted(p for p in path.rglob("*") if p.is_file()):
                verdict = _classify_file(candidate)
                if verdict == "log":
                    logs.append(candidate)
                elif verdict:
                    skipped.append(f"{candidate}: {verdict}")
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
    return sorted(dict.fromkeys(p.resolve() for p in found)), skipped


_NOT_LOGS = frozenset({"logs.json", "eval-set.json", "report.json", "listing.json"})
"""Files Inspect's eval sets (and unmask's reports) keep beside logs: not logs, not worth a word."""


def _classify_file(path: Path) -> str:
    """`log`, the reason a log-like file is passed over, or "" for a file that was never a log."""
    if path.suffix == ".eval":
        return "log"
    if path.suffix != ".json" or path.name in _NOT_LOGS:
        return ""
    with path.open("rb") as handle:
        head = handle.read(512)
    if b'"version"' in head and (b'"status"' in head or b'"eval"' in head):
        return "log"
    return "a .json file that does not open as an Inspect log; not read"


def read_log(path: str | Path, *, scorer: str | None = None, full: bool = False) -> tuple[LogInfo, list[SampleRecord]]:
    """Read one log into its run description and per-sample records.

    `full=True` reads through Inspect's own validating reader even where the direct one applies.
    """
    location = str(path)
    disagreements: list[str] = []
    try:
        fast = None if full or location.endswith(".json") else _read_eval_zip(location)
        if fast is not None:
            header, raws, resolved, disagreements = fast
        else:
            header, raws, resolved = _read_with_inspect(location)
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
    info.disagreements = disagreements
    records = [rec for s in raws for rec in sample_records(s, info, primary)]
    return info, records


def _read_with_inspect(location: str) -> tuple[dict[str, Any], list[RawSample], list[str]]:
    from inspect_ai.log import read_eval_log

    log = read_eval_log(location)
    samples = log.samples or []
    resolved = sorted({s.output.model for s in samples if s.output and s.output.model and s.error is None})
    return log.model_dump(mode="json", exclude={"samples"}), [raw_from_model(s) for s in samples], resolved


def _read_eval_zip(location: str) -> tuple[dict[str, Any], list[RawSample], list[str], list[str]] | None:
    """Header, every full sample, resolved model ids and summary disagreements from a finished `.eval` zip;
    None to fall back to Inspect's reader."""
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
        summaries = json.loads(archive.read("summaries.json"))
        if not isinstance(summaries, list) or not all(isinstance(d, dict) and "id" in d and "epoch" in d
                                                      for d in summaries):
            return None
        raws: list[RawSample] = []
        resolved: set[str] = set()
        for name in sorted(n for n in names if n.startswith("samples/") and n.endswith(".json")):
            sample = json.loads(archive.read(name))
            if not isinstance(sample, dict) or "id" not in sample or "epoch" not in sample:
                return None
            raws.append(raw_from_dict(sample))
            model = (sample.get("output") or {}).get("model")
            if model and not sample.get("error"):  # an errored sample's output names the model string, not the id
                resolved.add(str(model))
    said = [raw_from_dict(d) for d in summaries]
    order = {(r.id, r.epoch): i for i, r in enumerate(said)}
    raws.sort(key=lambda r: order.get((r.id, r.epoch), len(order)))  # the order Inspect recorded them in
    return header, raws, sorted(resolved), _disagreements(said, raws)


def _disagreements(summaries: Sequence[RawSample], samples: Sequence[RawSample]) -> list[str]:
    """Where the summaries member says something else than the samples (id, epoch, scores, error, metadata)."""
    def key(raw: RawSample) -> tuple[str, int]:
        return (raw.id, raw.epoch)

    said = {key(r): r for r in summaries}
    held = {key(r): r for r in samples}
    out = [f"sample {k[0]} epoch {k[1]}: in the summaries only" for k in said.keys() - held.keys()]
    out += [f"sample {k[0]} epoch {k[1]}: missing from the summaries" for k in held.keys() - said.keys()]
    for k in said.keys() & held.keys():
        a, b = said[k], held[k]
        if {n: v for n, (v, _) in a.scores.items()} != {n: v for n, (v, _) in b.scores.items()} or \
                (a.error is None) != (b.error is None) or _contract(a.metadata) != _contract(b.metadata):
            out.append(f"sample {k[0]} epoch {k[1]}: its summary differs from the sample")
    return sorted(out)


CONTRACT_KEYS = ("pair_id", "probe_set", "item_kind", "battery", "conditions", "condition", "style", "paraphrase",
                 "setting")
"""The sample metadata the evidence is built from (design.md, contract 1)."""


def _contract(metadata: Mapping[str, Any]) -> str:
    """Contract metadata with white space folded: Inspect's summaries fold it in metadata strings."""
    return " ".join(json.dumps({k: metadata.get(k) for k in CONTRACT_KEYS}, sort_keys=True, default=str).split())


def read_evidence(
    paths: Sequence[str | Path], *, scorer: str | None = None, model: str | None = None, full: bool = False
) -> Evidence:
    """Read every log, keep one model, drop duplicate observations (a retried sample counts once)."""
    files, skipped = find_logs(paths)
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
    warnings += [f"{info.path}: {len(info.disagreements)} sample(s) whose summaries.json entry disagrees with the "
                 f"sample itself (first: {info.disagreements[0]}); the samples were read, the summaries ignored"
                 for info, _ in loaded if info.disagreements]
    warnings += [f"skipped {entry}" for entry in skipped]
    with paused_gc():
        records, duplicates = _deduplicate(loaded)
    if not any(r.pair_id and r.conditions for r in records):
        raise InputError("no sample in these logs carries pair_id and conditions metadata",
                         fix="run an unmask task, or add pair_id and conditions to Sample.metadata "
                             "(see docs/design.md, contract 1)")
    return Evidence([info for info, _ in loaded], records, duplicates, warnings, skipped)


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
    """One sample per (task, sample id, epoch), with all its observations: a completed sample beats an
    error, newer beats older. Returns the records kept and how many records were dropped."""
    chosen: dict[tuple[str, str, int], tuple[tuple[bool, str], list[SampleRecord]]] = {}
    total = 0
    for info, recs in loaded:
        grouped: dict[tuple[str, str, int], list[SampleRecord]] = {}
        for rec in recs:
            total += 1
            grouped.setdefault((rec.task, rec.sample_id, rec.epoch), []).append(rec)
        for key, group in grouped.items():
            rank = (any(r.status != "error" for r in group), info.created)
            held = chosen.get(key)
            if held is None or rank > held[0]:
                chosen[key] = (rank, group)
    kept = [rec for _, group in chosen.values() for rec in group]
    return kept, total - len(kept)


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


def _asked_for(samples: Any, limit: Any, sample_ids: Any) -> int | None:
    """How many samples the run asked for: the dataset, narrowed by `--limit N`, `--limit A,B` or `--sample-id`."""
    if not isinstance(samples, int):
        return None
    if isinstance(sample_ids, list):
        return min(samples, len(sample_ids))
    if isinstance(limit, int):
        return min(samples, limit)
    if isinstance(limit, list | tuple) and len(limit) == 2 and all(isinstance(x, int) for x in limit):
        start, end = int(limit[0]), int(limit[1])
        return max(0, min(samples, end) - start)
    return samples


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
    config = spec.get("config") or {}
    epochs = int(config.get("epochs") or 1)
    dataset = spec.get("dataset") or {}
    samples = _asked_for(dataset.get("samples"), config.get("limit"), config.get("sample_id"))
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
