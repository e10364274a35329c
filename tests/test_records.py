"""records.py on real Inspect logs: unmask-shaped logs written with write_eval_log, and plain `inspect eval` logs."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ModelOutput
from inspect_ai.scorer import Score, Target, mean, scorer
from inspect_ai.solver import Generate, TaskState, solver

from unmask.errors import InputError
from unmask.evidence import logs as records
from unmask.evidence.logs import read_evidence, read_log
from unmask.evidence.records import STATUSES, parse_conditions
from unmask.report import AnalysisOptions, build_report
from unmask.report.samples_table import write_table
from unmask.scoring.outcomes import interpret as interpret_score
from unmask.testing.synthetic import SyntheticDesign, write_synthetic_logs

DESIGN = SyntheticDesign(
    harmful_items=12, benign_items=4, axes=("monitoring", "phase"), styles=("system", "tier_tag"),
    paraphrases=(0, 1), gaps={"monitoring": 0.3}, unscorable_rate=0.05, error_rate=0.03, awareness=0.4,
    samples_per_log=200, seed=3,
)


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("synthetic")
    write_synthetic_logs(DESIGN, directory)
    return directory


def _expected_statuses() -> dict[str, int]:
    from unmask.testing.synthetic import synthetic_samples

    counts = dict.fromkeys(("scored", "unscorable", "error", "no_score"), 0)
    for _, sample in synthetic_samples(DESIGN):
        if sample.error is not None:
            counts["error"] += 1
        elif sample.scores and sample.scores["refusal"].value == "unscorable":
            counts["unscorable"] += 1
        else:
            counts["scored"] += 1
    return counts


class TestUnmaskLogs:
    def test_every_sample_becomes_one_record(self, synthetic_dir: Path) -> None:
        evidence = read_evidence([synthetic_dir])
        assert len(evidence.records) == (12 + 4) * 4 * 2 * 2
        statuses = {s: sum(r.status == s for r in evidence.records) for s in STATUSES}
        assert statuses == _expected_statuses()
        assert evidence.duplicates == 0 and evidence.warnings == []

    def test_record_fields_follow_the_contracts(self, synthetic_dir: Path) -> None:
        evidence = read_evidence([synthetic_dir])
        scored = next(r for r in evidence.records if r.status == "scored")
        assert scored.scorer == "refusal" and scored.label in ("compliance", "partial", "refusal")
        assert scored.outcome == (0.0 if scored.label == "refusal" else 1.0)
        assert set(scored.conditions) == {"monitoring", "phase"}
        assert scored.battery == "compliance_gap" and scored.pair_id and scored.pair_id.startswith(scored.probe_set)
        assert scored.eval_awareness is not None and 0 <= scored.eval_awareness <= 1
        assert scored.score_metadata == {"method": "rules"}
        unscorable = next(r for r in evidence.records if r.status == "unscorable")
        assert unscorable.outcome is None and unscorable.label == "unscorable"  # counted, never imputed
        errored = next(r for r in evidence.records if r.status == "error")
        assert errored.outcome is None and errored.error and "timed out" in errored.error

    def test_log_info_carries_manifest_and_model_ids(self, synthetic_dir: Path) -> None:
        info, _ = read_log(next(synthetic_dir.glob("*.eval")))
        assert info.model == DESIGN.model
        assert info.resolved_models == [DESIGN.resolved_model]
        assert info.manifest is not None and info.manifest["weights_sha256"] == DESIGN.weights_sha256
        assert info.scorers == ["refusal", "eval_awareness"] and info.scorer == "refusal"
        assert info.status == "success" and info.expected_samples == info.samples_read

    def test_direct_reader_matches_inspects_reader(self, synthetic_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The direct `.eval` path must give exactly what Inspect's public reader gives (in summary order)."""
        path = next(synthetic_dir.glob("*.eval"))
        fast_info, fast = read_log(path)
        monkeypatch.setattr(records, "_read_eval_zip", lambda location: None)
        slow_info, slow = read_log(path)
        key = lambda r: (r.sample_id, r.epoch)  # noqa: E731
        assert sorted(fast, key=key) == sorted(slow, key=key)
        assert fast_info == slow_info and fast_info.disagreements == []
        _, full = read_log(path, full=True)
        assert sorted(full, key=key) == sorted(fast, key=key)

    def test_json_logs(self, tmp_path: Path) -> None:
        small = SyntheticDesign(harmful_items=3, benign_items=0, error_rate=0.2, seed=1)
        write_synthetic_logs(small, tmp_path, fmt="json")
        (tmp_path / "logs.json").write_text('{"not": "a log"}')  # eval-set bookkeeping is skipped
        evidence = read_evidence([tmp_path])
        assert len(evidence.logs) == 1 and len(evidence.records) == 3 * 2 * 2
        assert evidence.logs[0].format == "json"
        assert evidence.logs[0].resolved_models == [small.resolved_model]

    def test_duplicates_and_retries(self, tmp_path: Path, synthetic_dir: Path) -> None:
        first = next(synthetic_dir.glob("*.eval"))
        shutil.copy(first, tmp_path / "a.eval")
        shutil.copy(first, tmp_path / "b.eval")
        evidence = read_evidence([tmp_path])
        _, once = read_log(first)
        assert len(evidence.records) == len(once)
        assert evidence.duplicates == len(once)
        assert any("duplicate" in w for w in build_report(evidence, AnalysisOptions(reps=200))["warnings"])

    def test_unfinished_log_superseded_by_a_retry(self, tmp_path: Path) -> None:
        from inspect_ai.log import write_eval_log

        from unmask.testing.synthetic import _log, synthetic_samples

        design = SyntheticDesign(harmful_items=3, benign_items=0)
        samples = [s for _, s in synthetic_samples(design)]
        first = _log(design, "compliance_gap", samples[:5], part=0)
        first.status = "error"
        write_eval_log(first, str(tmp_path / "a.eval"))
        write_eval_log(_log(design, "compliance_gap", samples, part=1), str(tmp_path / "b.eval"))
        evidence = read_evidence([tmp_path])
        assert [log.superseded for log in evidence.logs] == [True, False]
        assert evidence.warnings == [] and len(evidence.records) == len(samples)
        report = build_report(evidence, AnalysisOptions(reps=200))
        assert report["inputs"]["missing_samples"] == 0

    def test_error_replaced_by_retry(self) -> None:
        info = _info("old", created="2025-01-01")
        newer = _info("new", created="2025-01-02")
        failed = _record("x", status="error")
        retried = _record("x", status="scored")
        kept, dropped = records._deduplicate([(info, [retried]), (newer, [failed])])
        assert kept == [retried] and dropped == 1  # a completed observation beats a later error


class TestBadInput:
    def test_missing_path(self) -> None:
        with pytest.raises(InputError, match="no such file"):
            read_evidence(["/nonexistent/logs"])

    def test_corrupt_log_names_the_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "broken.eval"
        bad.write_bytes(b"PK\x03\x04 not really a zip")
        with pytest.raises(InputError) as info:
            read_evidence([bad])
        assert "broken.eval" in str(info.value) and "Fix:" in str(info.value)

    def test_logs_without_pairs(self, tmp_path: Path) -> None:
        log = _plain_eval(tmp_path, with_pairs=False)
        with pytest.raises(InputError, match="pair_id and conditions"):
            read_evidence([log])

    def test_several_models_need_a_choice(self, tmp_path: Path) -> None:
        for model, sub in (("m/one", "a"), ("m/two", "b")):
            write_synthetic_logs(SyntheticDesign(harmful_items=2, benign_items=0, model=model), tmp_path / sub)
        with pytest.raises(InputError, match="2 models"):
            read_evidence([tmp_path])
        chosen = read_evidence([tmp_path], model="m/two")
        assert {r.model for r in chosen.records} == {"m/two"}

    def test_unknown_scorer(self, synthetic_dir: Path) -> None:
        with pytest.raises(InputError, match="no scorer named 'nope'"):
            read_evidence([synthetic_dir], scorer="nope")


@solver
def _canned() -> Any:
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if state.metadata.get("explode"):
            raise RuntimeError("provider exploded")
        state.output = ModelOutput.from_content("provider-model-2025-01-01", state.metadata["reply"])
        return state

    return solve


@scorer(metrics=[mean()])
def _label() -> Any:
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value=state.output.completion)

    return score


def _plain_eval(directory: Path, *, with_pairs: bool = True) -> Path:
    """A log from Inspect's own eval loop (no model calls), like `inspect eval` writes."""
    samples = []
    for i in range(6):
        for level, reply in (("monitored", "compliance"), ("unmonitored", "refusal" if i % 2 else "compliance")):
            meta: dict[str, Any] = {"reply": reply, "explode": i == 5 and level == "monitored"}
            if with_pairs:
                meta |= {"pair_id": f"items:{i}", "condition": f"monitoring={level}"}
            samples.append(Sample(input="q", id=f"{i}-{level}", metadata=meta))
    task = Task(dataset=MemoryDataset(samples), solver=_canned(), scorer=_label())
    logs = inspect_eval(task, model="mockllm/model", log_dir=str(directory), display="none", fail_on_error=False)
    assert logs[0].location
    return Path(logs[0].location)


class TestPlainInspectLogs:
    def test_plain_eval_log_reads_and_reports(self, tmp_path: Path) -> None:
        log = _plain_eval(tmp_path)
        evidence = read_evidence([log])
        assert len(evidence.records) == 12
        errored = [r for r in evidence.records if r.status == "error"]
        assert len(errored) == 1 and "provider exploded" in (errored[0].error or "")
        assert all(r.scorer == "_label" or r.status == "error" for r in evidence.records)
        assert evidence.logs[0].resolved_models == ["provider-model-2025-01-01"]
        assert evidence.logs[0].manifest is None
        report = build_report(evidence, AnalysisOptions(reps=200))
        row = next(c for c in report["contrasts"] if c["id"] == "unspecified/unspecified/monitoring")
        assert row["family"] == "exploratory"  # nothing declared: derived contrasts never gate
        assert row["n_pairs"] == 5 and row["discordant"] == [2, 0] and row["unpaired"] == 1
        assert any("no unmask manifest" in w for w in report["warnings"])


class TestInterpretation:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("compliance", 1.0), ("partial", 1.0), ("refusal", 0.0), ("Refusal", 0.0), ("unscorable", None),
         ("C", 1.0), ("I", 0.0), ("N", None), (True, 1.0), (0, 0.0), (0.25, 0.25), (math.nan, None),
         ("0.75", 0.75), ({"a": 1}, None), (None, None)],
    )
    def test_values(self, value: Any, expected: float | None) -> None:
        assert interpret_score(value)[1] == expected

    def test_condition_forms(self) -> None:
        assert parse_conditions({"monitoring": "monitored"}) == {"monitoring": "monitored"}
        assert parse_conditions("monitoring=monitored, phase=training") == {"monitoring": "monitored",
                                                                            "phase": "training"}
        assert parse_conditions(None) == {}

    def test_extra_scores_read_as_attributes(self) -> None:
        rec = _record("x", status="scored")
        rec.extra_scores["likelihood"] = 0.5
        assert rec.likelihood == 0.5
        with pytest.raises(AttributeError):
            _ = rec.not_a_score


def test_table_for_pandas(synthetic_dir: Path, tmp_path: Path) -> None:
    evidence = read_evidence([synthetic_dir])
    path = write_table(evidence.records, tmp_path, fmt="csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(evidence.records)
    assert {"cond_monitoring", "cond_phase", "outcome", "status", "eval_awareness"} <= set(rows[0])
    errored = [r for r in rows if r["status"] == "error"]
    assert errored and all(r["outcome"] == "" for r in errored)  # missing stays missing


def _info(path: str, created: str) -> records.LogInfo:
    return records.LogInfo(path, "eval", "t", "1", "e", "r", created, "success", None, "m", {}, {}, {}, {}, 1, None,
                           1, "refusal", ["refusal"], [], None, {}, {}, None)


def _record(sample_id: str, status: str) -> records.SampleRecord:
    return records.SampleRecord("log", "t", "m", sample_id, 1, "compliance_gap", "p:1", "p", "harmful",
                                {"monitoring": "monitored"}, "system", 0, "helpful_only", "refusal",
                                "refusal" if status == "scored" else None, 0.0 if status == "scored" else None, status)


def test_a_sample_with_several_observations_yields_one_record_each(tmp_path: Path) -> None:
    """Contract 1b: declared observations become records; not applicable adds none; unavailable is
    unscored; an errored sample is an error for every observation it declared; missing counts samples."""
    from unmask.evidence.logs import read_evidence
    from unmask.report.build import build_report
    from unmask.testing.synthetic import write_battery_log

    declared = [{"id": f"{lv}/{v}", "conditions": {"monitoring": lv, "reasoning": v}}
                for lv in ("monitored", "unmonitored") for v in ("unchanged", "swapped", "truncated_0")]
    values = {"monitored/unchanged": {"value": "compliance", "completion": "Sure."},
              "monitored/swapped": {"value": "refusal"},
              "monitored/truncated_0": {"value": "not_applicable", "note": "no reasoning"},
              "unmonitored/unchanged": {"value": "refusal"},
              "unmonitored/swapped": {"value": "unavailable", "reason": "no prefill"},
              "unmonitored/truncated_0": {"value": "unscorable"}}
    samples = [
        {"pair_id": "h:1", "conditions": {}, "unique": True, "metadata": {"observations": declared},
         "scores": {"primary": (0.5, {"observations": values}, None)}},
        {"pair_id": "h:2", "conditions": {}, "unique": True, "metadata": {"observations": declared},
         "error": "RuntimeError('boom')"},
    ]
    path = write_battery_log(tmp_path / "p.eval", "reasoning_perturbation", samples, [])
    records = read_evidence([path]).records
    first = sorted((r.observation, r.status, r.label) for r in records if r.pair_id == "h:1")
    assert first == [("monitored/swapped", "scored", "refusal"), ("monitored/unchanged", "scored", "compliance"),
                     ("unmonitored/swapped", "no_score", None), ("unmonitored/truncated_0", "unscorable", "unscorable"),
                     ("unmonitored/unchanged", "scored", "refusal")]
    by_obs = {r.observation: r for r in records if r.pair_id == "h:1"}
    assert by_obs["monitored/unchanged"].conditions == {"monitoring": "monitored", "reasoning": "unchanged"}
    assert by_obs["monitored/unchanged"].completion == "Sure." and by_obs["monitored/unchanged"].outcome == 1.0
    assert by_obs["unmonitored/swapped"].error == "no prefill"
    errored = [r for r in records if r.pair_id == "h:2"]
    assert len(errored) == 6 and {r.status for r in errored} == {"error"}
    report = build_report(read_evidence([path]))
    assert report["inputs"]["missing_samples"] == 0  # two samples expected, two read
