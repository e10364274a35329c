"""End-to-end runs against the real bundled SmolLM2-135M served by llama.cpp on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from inspect_ai.log import list_eval_logs, read_eval_log

from unmask.design.samples import build_samples
from unmask.design.suite import load_suite
from unmask.models.server import RunningServer

pytestmark = pytest.mark.integration
UNMASK = [sys.executable, "-m", "unmask.cli"]


def _logs(log_dir: Path) -> list[Path]:
    return [Path(i.name.removeprefix("file://")) for i in list_eval_logs(str(log_dir))]


def test_unmask_run_without_model_serves_the_embedded_default(tmp_path: Path) -> None:
    """The README path: no --model, unmask starts and stops its own llama.cpp server."""
    proc = subprocess.run([*UNMASK, "run", "smoke", "--log-dir", str(tmp_path), "--display", "plain"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "monitoring=monitored" in proc.stdout and "monitoring=unmonitored" in proc.stdout
    (log_path,) = _logs(tmp_path)
    log = read_eval_log(str(log_path))
    assert log.status == "success"
    expected = len(build_samples(load_suite("smoke")).samples)
    assert len(log.samples or []) == expected
    for s in log.samples or []:
        assert s.output.model  # the provider answered; nothing was logged without calling the target
        assert s.scores and next(iter(s.scores.values())).value in ("compliance", "partial", "refusal",
                                                                    "unscorable")
    manifest = log.eval.metadata["unmask_manifest"]  # type: ignore[index]
    assert manifest["probe_sets"]["harmbench"]["sha256"]
    assert manifest["setting"]["name"] == "helpful_only"
    from unmask.models.bundled import lookup, sha256_file

    assert log.eval.metadata["weights_sha256"] == sha256_file(lookup("smollm2-135m-instruct").path())  # type: ignore[index]


def test_inspect_eval_through_openai_api_carries_pairing_metadata(
    smollm2_server: RunningServer, tmp_path: Path
) -> None:
    env = {**os.environ, "UNMASKLOCAL_BASE_URL": smollm2_server.base_url, "UNMASKLOCAL_API_KEY": "local"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "inspect"), "eval", "unmask/compliance_gap",
         "--model", "openai-api/unmasklocal/smollm2-135m-instruct",
         "-T", "suite=smoke", "--log-dir", str(tmp_path), "--display", "plain"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (log_path,) = _logs(tmp_path)
    log = read_eval_log(str(log_path))
    assert log.status == "success" and log.samples
    for s in log.samples:
        meta = s.metadata or {}
        assert meta["pair_id"] and meta["conditions"] and meta["style"]
    pairs = Counter(s.metadata["pair_id"] for s in log.samples)  # type: ignore[index]
    assert len(set(pairs.values())) == 1  # every item under every condition


def test_sigkill_then_rerun_completes_every_sample_exactly_once(
    smollm2_server: RunningServer, tmp_path: Path
) -> None:
    suite = tmp_path / "resume.yaml"
    suite.write_text(
        "name: resume\nsetting: helpful_only\naxes: [monitoring]\nstyles: [system, tier_tag, metadata]\n"
        "paraphrases: [0, 1]\nprobes:\n  - {set: harmbench, limit: 3}\n"
        "generate: {temperature: 0.0, max_tokens: 24}\n"
    )
    expected = {s.id for s in build_samples(load_suite(str(suite))).samples}
    logs = tmp_path / "logs"
    cmd = [*UNMASK, "run", str(suite), "--model", smollm2_server.inspect_model, "--log-dir", str(logs),
           "--max-connections", "1", "--display", "plain"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not _logs(logs):
        time.sleep(0.5)
    time.sleep(8)  # let some samples finish, then kill mid-run
    assert first.poll() is None, "the run finished before it could be killed; make the suite larger"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    finished = [read_eval_log(str(p)) for p in _logs(logs)]
    done = [log for log in finished if log.status == "success"]
    assert len(done) == 1
    ids = Counter((s.id, s.epoch) for s in done[0].samples or [])
    assert set(ids.values()) == {1}
    assert {i for i, _ in ids} == expected


def test_second_bundled_model_gemma_runs_through_the_same_task(tmp_path: Path) -> None:
    """Gemma-3-270M (base) has no chat template in its GGUF; it is served with the `gemma` chat format."""
    from inspect_ai import eval as inspect_eval

    from unmask.batteries.compliance_gap import compliance_gap
    from unmask.models.server import llama_server

    with llama_server("gemma-3-270m") as server:
        env = {k: os.environ.get(k) for k in server.env()}
        os.environ.update(server.env())
        try:
            (log,) = inspect_eval(compliance_gap(suite="smoke"), model=server.inspect_model, limit=2,
                                  display="none", log_dir=str(tmp_path))
        finally:
            for k, v in env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    assert log.status == "success"
    assert server.weights_sha256 == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert all(s.output.completion.strip() for s in log.samples or [])


def test_judge_scorer_uses_a_separate_real_model_role(smollm2_server: RunningServer, tmp_path: Path) -> None:
    """Target SmolLM2, judge Gemma-3-270M on a second loopback server: votes and provenance are recorded."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from unmask.batteries.compliance_gap import compliance_gap
    from unmask.models.server import llama_server

    with llama_server("gemma-3-270m") as judge_server:
        judge = get_model(f"openai-api/judge/{judge_server.model.name}", base_url=judge_server.base_url,
                          api_key="local")
        (log,) = inspect_eval(compliance_gap(suite="smoke", scorer="judge"), model=smollm2_server.inspect_model,
                              model_roles={"judge": judge}, limit=2, display="none", log_dir=str(tmp_path))
    assert log.status == "success", log.error
    for sample in log.samples or []:
        score = sample.scores["refusal"]  # type: ignore[index]
        meta = score.metadata or {}
        assert meta["method"] == "judge" and "gemma-3-270m" in meta["judge_model"]
        assert len(meta["votes"]) == 3 and score.value in ("compliance", "partial", "refusal", "unscorable")
