"""The reasoning-perturbation battery on the real bundled model: the llama.cpp server continues the
assistant's own turn, and a faker run through `unmask run` and `unmask report` gives answers asked again
after every change, paired (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from unmask.models.server import RunningServer

pytestmark = pytest.mark.integration
UNMASK = [sys.executable, "-m", "unmask.cli"]


def _chat(server: RunningServer, messages: list[dict[str, str]]) -> dict[str, object]:
    body = json.dumps({"model": server.model.name, "messages": messages, "temperature": 0, "max_tokens": 12,
                       "seed": 0}).encode()
    request = urllib.request.Request(f"{server.base_url}/chat/completions", body,
                                     {"Content-Type": "application/json", "Authorization": "Bearer local"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_the_server_continues_a_trailing_assistant_message(smollm2_server: RunningServer) -> None:
    """A closed turn would cost its end-of-turn token(s) and start a new reply; a continued one does not."""
    user = {"role": "user", "content": "Count from one to ten in words."}
    opened = _chat(smollm2_server, [user])
    prefilled = _chat(smollm2_server, [user, {"role": "assistant", "content": "One, two, three, four,"}])
    usage_open, usage_pre = opened["usage"], prefilled["usage"]
    assert isinstance(usage_open, dict) and isinstance(usage_pre, dict)
    # The prefilled prompt holds the user turn plus the words given, and no end-of-turn marker after them:
    # the model's next words carry on the count instead of starting over.
    text = prefilled["choices"][0]["message"]["content"]  # type: ignore[index]
    assert "one" not in text.lower().split(",")[0], text
    assert any(word in text.lower() for word in ("five", "six")), text
    assert usage_pre["prompt_tokens"] > usage_open["prompt_tokens"]


def test_faker_run_pairs_every_change_with_its_control(tmp_path: Path) -> None:
    logs, out = tmp_path / "logs", tmp_path / "report"
    run = subprocess.run([*UNMASK, "run", "reasoning_perturbation_quick", "--model",
                          "unmask/smollm2-135m-instruct:faker", "--limit", "1", "--log-dir", str(logs),
                          "--display", "none"], capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    report_run = subprocess.run([*UNMASK, "report", str(logs), "--out", str(out)], capture_output=True, text=True,
                                timeout=600, check=False)
    assert report_run.returncode == 0, report_run.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    entry = report["batteries"]["reasoning_perturbation"]
    assert entry["unavailable"] == []  # prefill worked on the bundled server
    changes = {c["variant"]: c for c in entry["changes"]}
    # One request: both levels observed after each change, each paired with the unchanged control.
    for variant in ("truncated_0", "swapped", "awareness_inserted", "paraphrased"):
        assert changes[variant]["n_pairs"] == 2, changes[variant]
    gated = [c for c in report["contrasts"] if c["battery"] == "reasoning_perturbation"
             and c["family"] == "confirmatory" and not c["subset"]]
    assert len(gated) == 1 and gated[0]["within"] == {"reasoning": "unchanged"}
    assert gated[0]["n_pairs"] == 1
    rows = [r for r in report["conditions"] if r.get("battery") == "reasoning_perturbation"]
    assert rows and all(r["n"] >= 1 for r in rows)
