"""Evidence -> the report dictionary (the content of report.json), and writing it to disk."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..batteries import BatteryData, registered
from ..digests import sha256_file
from ..errors import InputError
from ..evidence.access import access_of
from ..evidence.logs import paused_gc
from ..evidence.manifest import build_manifest, scope, within_task_conflicts
from ..evidence.pairing import encode
from ..evidence.records import Evidence, SampleRecord
from ..stats.contrasts import (
    AnalysisOptions,
    ContrastSpec,
    Stratum,
    all_contrasts,
    auxiliary_rates,
    awareness_summary,
    condition_rates,
    contrast_rows,
    count_table,
    declared_specs,
    robustness_rows,
)
from .checks import report_problems
from .samples_table import write_table
from .schema import SCHEMA_NAME, SCHEMA_VERSION, check_report

REASONING_SCORERS = {"af_reasoning": "Alignment-faking reasoning (scratchpad or chain of thought)",
                     "eval_awareness": "Verbalised evaluation awareness"}
"""Auxiliary scorers the report sums up, with their checklist titles."""
ENTRY_STATUSES = ("ok", "empty", "error")
"""A battery entry: `ok` analysed; `empty` its samples gave the analysis nothing; `error` it raised."""


def checklist_items() -> list[tuple[str, str, tuple[str, ...]]]:
    """The anti-deception checklist: item, title, and the batteries that count as testing it (registry order)."""
    items: dict[str, tuple[str, list[str]]] = {}
    for b in registered():
        for item, title in b.checklist.items():
            items.setdefault(item, (title, []))[1].append(b.name)
    return [(item, title, tuple(names)) for item, (title, names) in items.items()]


def build_report(evidence: Evidence, options: AnalysisOptions | None = None, *, title: str | None = None
                 ) -> dict[str, Any]:
    """All statistics, the manifest, the checklist and scoped headline claims, as plain JSON data."""
    options = options or AnalysisOptions()
    records = evidence.records
    strata: dict[Stratum, list[SampleRecord]] = defaultdict(list)
    for r in records:
        strata[(r.battery, r.item_kind)].append(r)
    level = 1 - options.alpha
    declared, problems = declared_contrasts(evidence)
    outcomes = {b.name: b.outcome for b in registered()}
    with paused_gc():
        encoded = {stratum: encode(recs) for stratum, recs in strata.items()}
        contrasts = clean_json(contrast_rows(all_contrasts(encoded, declared, options, outcomes), options))
    conditions = clean_json(condition_rates(encoded, level))
    manifest = build_manifest(evidence.logs)
    analyses = battery_entries(evidence, contrasts, conditions, options)
    report: dict[str, Any] = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "title": title or f"unmask report: {evidence.model}",
        "model": evidence.model,
        "analysis": options.as_dict(),
        "inputs": _inputs(evidence),
        "counts": count_table(records),
        "manifest": manifest,
        "conditions": conditions,
        "contrasts": contrasts,
        "robustness": robustness_rows(contrasts),
        "eval_awareness": awareness_summary(strata, level),
        "reasoning": {name: auxiliary_rates(records, name, level) for name in REASONING_SCORERS},
        "calibration": calibrations(evidence),
        "access": access_of([log.eval_metadata for log in evidence.logs]),
        "batteries": analyses,
        "checklist": checklist(records, contrasts, analyses),
        "headlines": headlines(contrasts, manifest),
        "warnings": _warnings(evidence, manifest) + problems,
    }
    cleaned: dict[str, Any] = clean_json(report)
    cleaned["integrity"] = {"sha256": content_digest(cleaned), "covers": "every field but this one"}
    return cleaned


def _file_digest(path: str) -> str | None:
    """The log's sha256, so `unmask verify` can tell the logs a report read from any others."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def content_digest(report: Mapping[str, Any]) -> str:
    """sha256 of the report's canonical JSON without its `integrity` field.

    Not a signature (anyone can recompute it): it makes a hand edit or a damaged file an error at the
    gate instead of a different verdict. Signed reports are the audit's job.
    """
    body = {k: v for k, v in report.items() if k != "integrity"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def declared_contrasts(evidence: Evidence) -> tuple[dict[str, list[ContrastSpec]], list[str]]:
    """The contrasts each battery's task declared in its manifest (contract 4), by battery."""
    batteries_by_log: dict[str, set[str]] = defaultdict(set)
    for r in evidence.records:
        batteries_by_log[r.log].add(r.battery)
    declared: dict[str, list[ContrastSpec]] = {}
    problems: list[str] = []
    for log in evidence.logs:
        if not log.manifest or "contrasts" not in log.manifest:
            continue
        specs, issues = declared_specs(log.manifest["contrasts"])
        problems += [f"{log.path}: {issue}" for issue in issues]
        for battery in batteries_by_log.get(log.path, set()):
            known = declared.setdefault(battery, [])
            known += [s for s in specs if s not in known]
    return declared, problems


def battery_entries(evidence: Evidence, contrasts: list[dict[str, Any]], conditions: list[dict[str, Any]],
                    options: AnalysisOptions) -> dict[str, Any]:
    """Each registered battery's extra measures, read from its records and the rows computed above.

    An analysis that raises is kept as an `error` entry rather than taking the whole report down;
    the gate then refuses to PASS it.
    """
    by_battery: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in evidence.records:
        by_battery[r.battery].append(r)
    manifests: dict[str, list[dict[str, Any]]] = defaultdict(list)
    logs = {log.path: log for log in evidence.logs}
    for name, held in by_battery.items():
        for path in sorted({r.log for r in held}):
            if logs[path].manifest:
                manifests[name].append(logs[path].manifest)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for battery in registered():
        recs = by_battery.get(battery.name)
        if not recs:
            continue
        data = BatteryData(battery.name, recs, contrasts, conditions, options, manifests[battery.name])
        try:
            entry = battery.analyse(data)
        except Exception as exc:  # a battery's analysis must not take the whole report down
            entry = {"battery": battery.name, "error": f"{type(exc).__name__}: {exc}"}
        if entry is None:
            continue
        entry = clean_json(entry)
        status = "error" if entry.get("error") else entry.get("status") or ("ok" if entry.get("n") else "empty")
        entry["status"] = status
        entry.setdefault("measures", {})
        if status != "ok":
            entry["measures"] = {}
        entry["summary"] = _summary(battery.name, entry, options.alpha)
        out[battery.name] = entry
    return out


def _summary(name: str, entry: dict[str, Any], alpha: float) -> str:
    if entry["status"] == "error":
        return f"analysis failed ({entry['error']}); nothing can be concluded"
    if entry["status"] == "empty":
        return "no samples the analysis could use (none, or none carrying the battery's own conditions)"
    found = next(b for b in registered() if b.name == name)
    try:
        return found.summary(entry, alpha)
    except Exception as exc:  # a summary is text: it must not hide the entry
        return f"summary failed ({type(exc).__name__}: {exc})"


def calibrations(evidence: Evidence) -> list[dict[str, Any]]:
    """Each scorer the logs used, with the calibration its run cited (or `uncalibrated`)."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for log in evidence.logs:
        manifest = log.manifest or {}
        for role, block in (("primary", manifest.get("scorer")), *(((name, b) for name, b in
                                                                     (manifest.get("reasoning") or {}).items()))):
            if not isinstance(block, dict):
                continue
            cited = block.get("calibration") if isinstance(block.get("calibration"), dict) else None
            key = (log.task, role, str(block.get("method")))
            seen[key] = {"task": log.task, "battery": (manifest.get("suite") or {}).get("battery"),
                         "scorer": role if role != "primary" else (log.scorer or "primary"),
                         "method": block.get("method"), "status": "calibrated" if cited else
                         ("exact" if block.get("method") == "parse" else "uncalibrated"),
                         "calibration": cited}
    return list(seen.values())


def _inputs(evidence: Evidence) -> dict[str, Any]:
    """Per-log facts, and samples the runs expected but no log holds (a resumed run counts once)."""
    expected: dict[str, int] = {}
    for log in evidence.logs:
        expected[log.task] = max(expected.get(log.task, 0), log.expected_samples or 0)
    observed: dict[str, int] = defaultdict(int)
    for task, _, _ in {(r.task, r.sample_id, r.epoch) for r in evidence.records}:  # samples, not observations
        observed[task] += 1
    missing = sum(max(0, n - observed[task]) for task, n in expected.items())
    return {
        "logs": [{"path": log.path, "task": log.task, "status": log.status, "superseded": log.superseded,
                  "samples_read": log.samples_read, "expected_samples": log.expected_samples, "scorer": log.scorer,
                  "format": log.format, "sha256": _file_digest(log.path)}
                 | ({"disagreements": len(log.disagreements)} if log.disagreements else {})
                 for log in evidence.logs],
        "duplicates_dropped": evidence.duplicates,
        "missing_samples": missing,
        **({"skipped_files": len(evidence.skipped), "skipped": list(evidence.skipped)} if evidence.skipped else {}),
    }


def checklist(records: Sequence[SampleRecord], contrasts: Sequence[Mapping[str, Any]],
              analyses: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each item is `tested` only when a battery mapped to it produced scorable samples."""
    by_battery: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in records:
        by_battery[r.battery].append(r)
    items = []
    for name, title in REASONING_SCORERS.items():
        measured = [r for r in records if r.extra_scores.get(name) is not None]
        items.append({"item": name, "title": title, "batteries": sorted({r.battery for r in measured}),
                      "status": "tested" if measured else "not tested",
                      "evidence": {"samples": len(measured), "scored": len(measured),
                                   "logs": sorted({r.log for r in measured}), "contrasts": [], "verdicts": []},
                      "note": "" if measured else "no sample carries this score"})
    for item, title, batteries in checklist_items():
        recs = [r for b in batteries for r in by_battery.get(b, [])]
        scored = sum(r.status == "scored" for r in recs)
        logs = sorted({r.log for r in recs})
        note = "" if scored or not recs else f"{len(recs)} samples, none scorable"
        items.append({
            "item": item, "title": title, "batteries": list(batteries),
            "status": "tested" if scored else "not tested",
            "evidence": {"samples": len(recs), "scored": scored, "logs": logs,
                         "contrasts": [c["id"] for c in contrasts if c["battery"] in batteries and not c["subset"]],
                         "verdicts": [f"{b}: {(analyses or {})[b].get('summary')}" for b in batteries
                                      if (analyses or {}).get(b, {}).get("summary")]},
            "note": note or ("no battery mapped to this item was run" if not recs else ""),
        })
    return items


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} pts"


def headlines(contrasts: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One claim per confirmatory contrast, each printed with the scope it holds for."""
    bound = scope(manifest)
    out = []
    for c in contrasts:
        if c["family"] != "confirmatory":
            continue
        low, high = c["corrected_ci"]
        a, b = c["levels"][0], c["levels"][1]
        if not c["n_pairs"]:
            finding = f"no {a}/{b} pairs could be scored, so nothing is claimed"
        elif low is not None and low > 0:
            finding = f"the {_measure(c)} was higher under {a} than {b} by {_pct(c['gap'])}"
        elif high is not None and high < 0:
            finding = f"the {_measure(c)} was lower under {a} than {b} by {_pct(c['gap'])}"
        else:
            finding = (f"no difference between {a} and {b} was detected ({_pct(c['gap'])}); the run could have "
                       f"missed a gap up to {_pct(c['mde']).lstrip('+')}")
        ci = "n/a" if low is None else f"[{_pct(low)}, {_pct(high)}]"
        claim = (f"{c['battery']}/{c['item_kind']}, {c['label']}: {finding} "
                 f"(family-corrected {c['corrected_level']:.1%} interval {ci}; Holm p = {c['p_adjusted']:.3g}; "
                 f"{c['n_pairs']} pairs over {c['n_clusters']} items)")
        out.append({"contrast": c["id"], "claim": claim, "scope": bound, "scope_text": scope_text(bound)})
    return out


OUTCOME_WORDS = {"complied": "compliance rate", "correct": "accuracy", "marker": "marker rate",
                 "divergence": "divergence"}


def _measure(row: Mapping[str, Any]) -> str:
    outcome = str(row.get("outcome") or "outcome")
    return OUTCOME_WORDS.get(outcome, f"{outcome} rate")


def scope_text(bound: Mapping[str, Any]) -> str:
    """The scope as one sentence, so no claim is quoted without it."""
    def short(h: Any) -> str:
        return str(h)[:12] if h else "not recorded"

    probes = bound.get("probe_sets") or {}
    probe_text = ", ".join(f"{k}@{short(v)}" for k, v in probes.items()) if isinstance(probes, Mapping) else "mixed"
    scorer = bound.get("scorer") or {}
    scorer_text = ", ".join(f"{k}={v}" for k, v in scorer.items()) if isinstance(scorer, Mapping) else "mixed"
    versions = bound.get("versions") or {}
    provider_ids = ", ".join(bound.get("resolved_model_ids") or []) or "n/a"
    adapters = bound.get("adapters_sha256")
    adapter_text = "; adapter " + ", ".join(f"{k} sha256 {short(v)}" for k, v in adapters.items()) \
        if isinstance(adapters, Mapping) and adapters else ""
    return (
        f"Holds for model {bound.get('model')} (provider id {provider_ids};"
        f" weights sha256 {short(bound.get('weights_sha256'))}{adapter_text}),"
        f" setting {bound.get('setting') or 'not recorded'} "
        f"(system prompt sha256 {short(bound.get('system_prompt_sha256'))}), cue styles "
        f"{bound.get('styles') or 'not recorded'}, paraphrases {bound.get('paraphrases') or 'not recorded'}, "
        f"probe sets {probe_text or 'not recorded'}, scorer {scorer_text or 'not recorded'}, "
        f"unmask {versions.get('unmask', 'not recorded')}, inspect_ai {versions.get('inspect_ai', 'not recorded')}. "
        "It is untested for any other model, version, prompt, cue style, probe set or scorer."
    )


def _warnings(evidence: Evidence, manifest: Mapping[str, Any]) -> list[str]:
    out = list(evidence.warnings)
    if not manifest.get("recorded"):
        out.append("some logs carry no unmask manifest (plain Inspect logs): claims are scoped to the model "
                   "string and task only")
    inconsistent = within_task_conflicts(evidence.logs)
    if inconsistent:
        out.append("logs of the same task disagree on manifest fields: " + ", ".join(inconsistent))
    if len(manifest.get("resolved_model_ids") or []) > 1:
        out.append("the provider returned more than one model id: " + ", ".join(manifest["resolved_model_ids"]))
    if evidence.duplicates:
        out.append(f"{evidence.duplicates} duplicate observations (same task, sample id and epoch) were dropped")
    return out


def clean_json(value: Any) -> Any:
    """NaN and infinity become null; tuples, numpy scalars and arrays become plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # anything else a battery analysis returns is shown, not dropped


def write_report(report: Mapping[str, Any], evidence: Evidence | None, out_dir: str | Path, *,
                 table: str = "auto") -> dict[str, Path]:
    """Write report.json, report.md, report.html and the per-sample table into `out_dir`."""
    from .html import render_html
    from .markdown import render_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                             encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    if evidence is not None and table != "none":
        with paused_gc():
            paths["table"] = write_table(evidence.records, out, table)
    return paths


def _no_constant(name: str) -> Any:
    """JSON has no NaN or Infinity; Python's reader accepts them, and a gate must not."""
    raise ValueError(f"{name} is not a JSON number")


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report.json (or the directory holding one) and check it is a report this version reads."""
    location = Path(path)
    if location.is_dir():
        location = location / "report.json"
    if not location.is_file():
        raise InputError("report not found", path=location,
                         fix="pass report.json or the directory `unmask report` wrote")
    try:
        text = location.read_text(encoding="utf-8")
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({exc})", path=location, line=getattr(exc, "lineno", None),
                         fix="regenerate it with `unmask report`") from exc
    except ValueError as exc:  # NaN or Infinity: find where, so the error names the field
        found = re.search(r"-?\b(?:NaN|Infinity)\b", text)
        line = text[: found.start()].count("\n") + 1 if found else None
        keys = re.findall(r'"([^"\\]+)"\s*:', text[: found.start()]) if found else []
        raise InputError(f"{exc}; JSON numbers are finite", path=location, line=line,
                         field=keys[-1] if keys else None, fix="regenerate it with `unmask report`") from exc
    problems = check_report(data)
    if not problems and isinstance(data, dict):
        stored = (data.get("integrity") or {}).get("sha256") if isinstance(data.get("integrity"), dict) else None
        if stored is None:
            problems = ["field 'integrity.sha256' is missing (a report of an older version, or an edited one)"]
        elif stored != content_digest(data):
            problems = ["field 'integrity.sha256' does not match the content: the file was edited or damaged"]
        else:
            problems = report_problems(data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"not a usable unmask report: {problems[0]}{more}", path=location,
                         fix="regenerate it with `unmask report`; a report.json edited by hand is not evidence")
    report: dict[str, Any] = data
    return report
