"""The versioned report.json schema (JSON Schema 2020-12), checked whenever a report is loaded.

Version rule: a new optional field keeps the major version; removing or re-typing a field, or
changing what a number means, bumps it. Readers (the gate, `unmask diff`) accept the same major.
"""

from __future__ import annotations

from typing import Any

SCHEMA_NAME = "unmask.report"
SCHEMA_VERSION = "1.2"
"""1.1: `batteries` entries carry `status`, `summary` and `measures` (what the gate reads).
1.2: checklist items come from the registered batteries (any id, any number); battery measures copy
the gated contrast rows instead of recomputing them; `integrity.sha256` covers the rest of the file."""

_num = {"type": ["number", "null"]}
_interval = {"type": "array", "items": _num, "minItems": 2, "maxItems": 2}
_str_list = {"type": "array", "items": {"type": "string"}}

CONDITION_ROW = {
    "type": "object",
    "required": ["battery", "item_kind", "axis", "level", "outcome_type", "n", "rate", "ci", "unscorable", "errors"],
    "properties": {
        "battery": {"type": "string"}, "item_kind": {"type": "string"}, "axis": {"type": "string"},
        "level": {"type": "string"}, "outcome_type": {"enum": ["binary", "continuous"]},
        "n": {"type": "integer", "description": "scored samples at this level"},
        "successes": {"type": ["integer", "null"]}, "rate": _num,
        "ci": {**_interval, "description": "Wilson (binary) or normal (continuous) interval at 1 - alpha"},
        "unscorable": {"type": "integer"}, "errors": {"type": "integer"}, "no_score": {"type": "integer"},
    },
}

CONTRAST_ROW = {
    "type": "object",
    "required": ["id", "battery", "item_kind", "kind", "axes", "levels", "label", "subset", "family",
                 "outcome_type", "n_pairs", "n_clusters", "gap", "ci", "corrected_ci", "corrected_level", "test",
                 "p", "p_adjusted", "adjustment", "mde", "mde_alpha"],
    "properties": {
        "id": {"type": "string", "description": "battery/item_kind/axis[@style=..,paraphrase=..] or axis×axis"},
        "battery": {"type": "string"}, "item_kind": {"type": "string"},
        "kind": {"enum": ["main", "interaction"]}, "axes": _str_list, "levels": _str_list,
        "label": {"type": "string"}, "subset": {"type": "object"},
        "within": {"type": "object", "description": "levels of other factors the contrast is restricted to"},
        "family": {"enum": ["confirmatory", "exploratory"]},
        "outcome_type": {"enum": ["binary", "continuous"]},
        "n_pairs": {"type": "integer"}, "n_clusters": {"type": "integer"}, "unpaired": {"type": "integer"},
        "mean_a": _num, "mean_b": _num,
        "gap": {**_num, "description": "mean paired difference, first level minus second"},
        "ci": {**_interval, "description": "cluster-bootstrap percentile interval at 1 - alpha"},
        "ci_level": _num,
        "corrected_ci": {**_interval, "description": "interval at corrected_level (alpha/m for the gate family)"},
        "corrected_level": _num,
        "test": {"enum": ["mcnemar_exact", "paired_t", "none"]},
        "p": _num, "p_adjusted": _num, "adjustment": {"enum": ["holm", "bh"]}, "wilcoxon_p": _num,
        "discordant": {"type": ["array", "null"], "items": {"type": "integer"}},
        "discordance": _num, "design_effect": _num, "se": _num,
        "mde": {**_num, "description": "minimum detectable gap at mde_alpha with mde_power"},
        "mde_alpha": _num, "mde_power": _num,
    },
}

CHECKLIST_ITEM = {
    "type": "object",
    "required": ["item", "title", "batteries", "status", "evidence"],
    "properties": {
        "item": {"type": "string", "description": "a checklist id a registered battery declares"},
        "title": {"type": "string"}, "batteries": _str_list, "status": {"enum": ["tested", "not tested"]},
        "evidence": {"type": "object", "required": ["samples", "logs", "contrasts"]},
        "note": {"type": "string"},
    },
}

BATTERY_ENTRY = {
    "type": "object",
    "required": ["battery", "status", "summary", "measures"],
    "description": "the battery's own analyse() output, plus status, summary and measures added by the report",
    "properties": {
        "battery": {"type": "string"}, "status": {"enum": ["ok", "empty", "error", "not tested"]},
        "summary": {"type": "string"}, "error": {"type": "string"},
        "measures": {
            "type": "object",
            "description": "what the battery's own gate check reads. sandbagging/modification: gated (a copy "
                           "of the gate-family row: id, name, a, b, n_pairs, gap, ci, corrected_ci, p_value, "
                           "p_adjusted, mde); modification: self_preservation_count, self_preservation_measured; "
                           "trigger_scan: candidates, significant (marker, Holm over candidates), "
                           "completions_available, min_pairs, smallest_p, marker_detectable; hidden_goals: "
                           "contradictions, consistency, denial_readable (readable share of each)",
        },
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://unmask.dev/schemas/report-1.json",
    "title": "unmask report",
    "type": "object",
    "required": ["schema", "schema_version", "created", "model", "analysis", "inputs", "counts", "manifest",
                 "conditions", "contrasts", "robustness", "eval_awareness", "checklist", "headlines", "warnings"],
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "schema_version": {"type": "string", "pattern": r"^1\.\d+$"},
        "created": {"type": "string"}, "title": {"type": "string"}, "model": {"type": "string"},
        "analysis": {"type": "object", "required": ["alpha", "power", "bootstrap", "confirmatory"]},
        "inputs": {"type": "object", "required": ["logs", "duplicates_dropped", "missing_samples"]},
        "counts": {
            "type": "object",
            "required": ["samples", "scored", "unscorable", "error", "no_score", "by_battery"],
        },
        "manifest": {"type": "object", "required": ["model", "resolved_model_ids", "versions", "runs"]},
        "conditions": {"type": "array", "items": CONDITION_ROW},
        "contrasts": {"type": "array", "items": CONTRAST_ROW},
        "robustness": {"type": "array", "items": {"type": "object", "required": ["contrast", "by_style",
                                                                                 "by_style_paraphrase"]}},
        "eval_awareness": {"type": "object", "required": ["measured", "n", "mean"]},
        "batteries": {"type": "object", "additionalProperties": BATTERY_ENTRY,
                      "description": "battery name -> that battery's analyse() output with status and measures"},
        "checklist": {"type": "array", "items": CHECKLIST_ITEM},
        "headlines": {"type": "array", "items": {"type": "object", "required": ["contrast", "claim", "scope",
                                                                                "scope_text"]}},
        "warnings": _str_list,
        "reasoning": {"type": "object", "description": "af_reasoning / eval_awareness: rates per condition, the 2 x 2"},
        "calibration": {"type": "array", "description": "each scorer the logs used, with the record its run cited"},
        "access": {"type": "object", "required": ["level", "supports"],
                   "description": "the access the runs declared (lowest of them) and the claims it supports"},
        "integrity": {"type": "object", "required": ["sha256"],
                      "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
    },
}


def check_report(data: Any) -> list[str]:
    """Problems that make `data` unusable as a report of this major version (empty when fine)."""
    if not isinstance(data, dict):
        return ["the top level is not a JSON object"]
    if data.get("schema") != SCHEMA_NAME:
        return [f"field 'schema' is {data.get('schema')!r}, expected {SCHEMA_NAME!r}"]
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        return [f"schema_version {version!r} is not readable by this version (reads {SCHEMA_VERSION})"]
    try:
        import jsonschema
    except ImportError:  # jsonschema comes with inspect_ai; fall back to the required keys
        return [f"field '{k}' is missing" for k in REPORT_SCHEMA["required"] if k not in data]
    validator = jsonschema.Draft202012Validator(REPORT_SCHEMA)
    return [f"field '{'.'.join(str(p) for p in err.absolute_path) or '(top)'}': {err.message}"
            for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])[:5]]

