"""The version-binding manifest: what a report's claims hold for, and how two reports differ.

The run side stores its manifest in the task metadata (design.md, contract 3); here it is merged
across logs and completed with what only the logs know: the model string, the model id the
provider actually returned, weight hashes of local models, and the versions of the report tools.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .records import LogInfo

RUN_SIDE_KEYS = ("suite", "setting", "templates", "frames", "probe_sets", "scorer", "generate", "declared",
                 "contrasts", "versions")
"""Top-level keys of the run-side manifest (contract 3) carried into the report."""

FACTORS: dict[str, tuple[str, ...]] = {
    "model": ("model", "resolved_model_ids", "weights_sha256", "adapters_sha256", "model_args", "run_metadata"),
    "generate": ("generate", "generate_config"),
    "suite": ("suite", "tasks", "contrasts"),
    "setting": ("setting", "templates"),
    "frames": ("frames",),
    "probes": ("probe_sets",),
    "scorer": ("scorer", "model_roles"),
    "declared": ("declared",),
    "versions": ("versions",),
}
"""Manifest fields grouped into the factors a comparison may declare (`unmask diff --factor`)."""

VOLATILE = ("runs", "suite.path", "recorded", "conflicts", "sample_count")
"""Fields that differ between any two runs without changing what was tested."""

_HASHED_TEXT_MIN = 40


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tool_versions() -> dict[str, str]:
    """Versions of the software that built the report (not the run)."""
    out = {"python": platform.python_version()}
    for package in ("unmask", "inspect_ai", "numpy", "scipy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def build_manifest(logs: Sequence[LogInfo]) -> dict[str, Any]:
    """Merge the logs' manifests; a field that differs between logs is kept per task and listed in `conflicts`."""
    conflicts: list[str] = []
    manifest: dict[str, Any] = {
        "model": _single([log.model for log in logs], "model", conflicts),
        "resolved_model_ids": sorted({m for log in logs for m in log.resolved_models}),
        "weights_sha256": _single([_find(log, "weights_sha256") for log in logs], "weights_sha256", conflicts),
        "adapters_sha256": _single([_find(log, "adapters_sha256") for log in logs], "adapters_sha256", conflicts),
        "model_args": _merged(logs, lambda log: log.model_args, "model_args", conflicts),
        "run_metadata": _merged(logs, lambda log: log.eval_metadata, "run_metadata", conflicts),
        "model_roles": _merged(logs, lambda log: log.model_roles, "model_roles", conflicts),
        "generate_config": _merged(logs, lambda log: log.generate_config, "generate_config", conflicts),
        "tasks": sorted({f"{log.task}@{log.task_version}" for log in logs}),
    }
    for key in RUN_SIDE_KEYS:
        value = _merged(logs, lambda log, k=key: (log.manifest or {}).get(k), key, conflicts)
        manifest[key] = _with_text_hashes(value) if key in ("setting", "templates", "scorer") else value
    run_versions = manifest.pop("versions")
    if run_versions is None:
        packages = {k: v for log in logs for k, v in log.packages.items()}
        run_versions = {"inspect_ai": packages.get("inspect_ai", "not recorded"), "unmask": "not recorded",
                        "python": "not recorded"}
    manifest["versions"] = {"run": run_versions, "report": tool_versions()}
    manifest["recorded"] = all(log.manifest is not None for log in logs)
    manifest["runs"] = [
        {"path": log.path, "task": log.task, "eval_id": log.eval_id, "run_id": log.run_id, "created": log.created,
         "status": log.status, "samples_read": log.samples_read, "expected_samples": log.expected_samples,
         "revision": log.revision}
        for log in logs
    ]
    manifest["conflicts"] = conflicts
    return manifest


def _find(log: LogInfo, key: str) -> Any:
    """A hash may sit at the manifest top level, under a `model` block, or in plain eval metadata."""
    run = log.manifest or {}
    model_block = run.get("model") if isinstance(run.get("model"), Mapping) else {}
    for source in (run, model_block, log.eval_metadata, log.model_args):
        if isinstance(source, Mapping) and source.get(key):
            return source[key]
    return None


def _single(values: Sequence[Any], key: str, conflicts: list[str]) -> Any:
    distinct = {json.dumps(v, sort_keys=True, default=str) for v in values}
    if len(distinct) > 1:
        conflicts.append(key)
        return sorted(distinct)
    return values[0] if values else None


def _merged(logs: Sequence[LogInfo], get: Any, key: str, conflicts: list[str]) -> Any:
    return _merge_values([get(log) for log in logs], _labels(logs), key, conflicts)


def _labels(logs: Sequence[LogInfo]) -> list[str]:
    """Label each log by its task; logs of the same task get their path too, so labels stay distinct."""
    tasks = [log.task for log in logs]
    return [log.task if tasks.count(log.task) == 1 else f"{log.task} ({log.path})" for log in logs]


def _merge_values(values: list[Any], labels: list[str], key: str, conflicts: list[str]) -> Any:
    """Agreeing values merge; mappings merge field by field, so only the disagreeing fields split."""
    distinct = {json.dumps(v, sort_keys=True, default=str) for v in values}
    if len(distinct) <= 1:
        return values[0] if values else None
    if all(isinstance(v, Mapping) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {k: _merge_values([v.get(k) for v in values], labels, f"{key}.{k}", conflicts) for k in keys}
    conflicts.append(key)
    by_task: dict[str, Any] = {}
    for label, value in zip(labels, values, strict=True):
        task = label.split(" (", 1)[0]
        if by_task.get(task, value) == value:
            by_task[task] = value  # logs of one task that agree collapse into one entry
        else:
            by_task[label] = value
    return {"by_task": by_task}


def within_task_conflicts(logs: Sequence[LogInfo]) -> list[str]:
    """Manifest fields on which logs of the *same* task disagree (e.g. a resumed run with an edited suite)."""
    found: list[str] = []
    by_task: dict[str, list[LogInfo]] = {}
    for log in logs:
        by_task.setdefault(log.task, []).append(log)
    for group in by_task.values():
        if len(group) > 1:
            _merge_values([log.manifest for log in group], [log.path for log in group], "manifest", found)
    return sorted({f.removeprefix("manifest.") for f in found})


def _with_text_hashes(block: Any) -> Any:
    """Add `<field>_sha256` next to every prompt-sized text field that lacks one."""
    if not isinstance(block, Mapping):
        return block
    out = dict(block)
    for key, value in block.items():
        if key.endswith("sha256") or f"{key}_sha256" in block:
            continue
        if isinstance(value, str) and len(value) >= _HASHED_TEXT_MIN and any(c.isspace() for c in value):
            out[f"{key}_sha256"] = sha256_text(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) and " " in v for v in value):
            out[f"{key}_sha256"] = sha256_text("\n".join(value))
    return out


# --- comparing manifests ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDifference:
    field: str
    factor: str
    a: Any
    b: Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaf values; lists stay whole (a reordered list is a difference)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def factor_of(field: str) -> str:
    head = field.split(".", 1)[0]
    return next((name for name, keys in FACTORS.items() if head in keys), "other")


def diff_manifests(
    a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: Sequence[str] = ()
) -> list[FieldDifference]:
    """Every manifest field whose value differs, with the factor it belongs to."""
    flat_a, flat_b = flatten(a), flatten(b)
    differences = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if any(key == v or key.startswith(v + ".") for v in VOLATILE):
            continue
        factor = factor_of(key)
        if factor in ignore or key.startswith("versions.report"):
            continue
        left, right = flat_a.get(key), flat_b.get(key)
        if json.dumps(left, sort_keys=True, default=str) != json.dumps(right, sort_keys=True, default=str):
            differences.append(FieldDifference(key, factor, left, right))
    return differences


def scope(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a headline claim is bound to: change any and the claim is untested."""
    suite = manifest.get("suite") or {}
    setting = manifest.get("setting") or {}
    scorer = manifest.get("scorer") or {}
    probes = manifest.get("probe_sets") or {}
    run_versions = (manifest.get("versions") or {}).get("run") or {}
    adapters = manifest.get("adapters_sha256")
    return {
        "model": manifest.get("model"),
        "resolved_model_ids": manifest.get("resolved_model_ids") or [],
        "weights_sha256": manifest.get("weights_sha256"),
        **({"adapters_sha256": adapters} if adapters else {}),
        "setting": setting.get("name") if isinstance(setting, Mapping) else None,
        "system_prompt_sha256": setting.get("system_prompt_sha256") if isinstance(setting, Mapping) else None,
        "styles": suite.get("styles") if isinstance(suite, Mapping) else None,
        "paraphrases": suite.get("paraphrases") if isinstance(suite, Mapping) else None,
        "probe_sets": {k: (v.get("sha256") if isinstance(v, Mapping) else v) for k, v in probes.items()}
        if isinstance(probes, Mapping) and "by_task" not in probes else probes,
        "scorer": {k: scorer.get(k) for k in ("method", "rules_version", "model_sha256", "judge_role", "rubric_sha256",
                                              "votes", "temperature", "seed", "threshold") if k in scorer}
        if isinstance(scorer, Mapping) else scorer,
        "declared": manifest.get("declared"),
        "versions": run_versions,
    }
