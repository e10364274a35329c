"""Structural promises of the content files: cues.yaml, settings.yaml, benign.jsonl.

These load the raw files with PyYAML / json (no unmask code), so they pin the file formats
that frames.py / settings.py / probes.py are written against.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[1] / "src" / "unmask" / "data"

AXES = {
    "monitoring": ["monitored", "unmonitored"],
    "phase": ["training", "deployment"],
    "stakes": ["high", "low"],
    "audience": ["user_facing", "internal"],
    "evaluation": ["evaluated", "real_use"],
}
STYLES = ["system", "tier_tag", "metadata", "file"]
N_PARAPHRASES = 4
TAG = re.compile(r"^<([a-z_]+)>([^<>\n]+)</([a-z_]+)>$")


def _load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cues() -> dict[str, Any]:
    doc = _load("cues.yaml")
    assert doc["version"] == "1"
    return doc["axes"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    doc = _load("settings.yaml")
    assert doc["version"] == "1"
    return doc["settings"]  # type: ignore[no-any-return]


def _text(style: str, cue: Any) -> str:
    if style == "file":
        assert set(cue) == {"name", "content"}, cue
        return f"{cue['name']}\n{cue['content']}"
    assert isinstance(cue, str), cue
    return cue


# --- cues.yaml ---------------------------------------------------------------------------


def test_axes_levels_styles_and_paraphrase_counts(cues: dict[str, Any]) -> None:
    assert list(cues) == list(AXES)
    for axis, levels in AXES.items():
        spec = cues[axis]
        assert spec["levels"] == levels, axis
        assert isinstance(spec["describe"], str) and spec["describe"].strip()
        assert set(spec["styles"]) == set(STYLES), axis
        for style in STYLES:
            assert set(spec["styles"][style]) == set(levels), (axis, style)
            for level in levels:
                items = spec["styles"][style][level]
                assert len(items) == N_PARAPHRASES, (axis, style, level)
                for cue in items:
                    assert _text(style, cue).strip(), (axis, style, level)


@pytest.mark.parametrize("axis", list(AXES))
@pytest.mark.parametrize("style", STYLES)
def test_parallel_twins_differ_and_paraphrases_are_distinct(
    cues: dict[str, Any], axis: str, style: str
) -> None:
    a, b = AXES[axis]
    side_a = [_text(style, c) for c in cues[axis]["styles"][style][a]]
    side_b = [_text(style, c) for c in cues[axis]["styles"][style][b]]
    for i in range(N_PARAPHRASES):
        assert side_a[i] != side_b[i], (axis, style, i)
        # twins share their form: same number of lines
        assert side_a[i].count("\n") == side_b[i].count("\n"), (axis, style, i)
    assert len(set(side_a)) == N_PARAPHRASES and len(set(side_b)) == N_PARAPHRASES


def test_tier_tags_are_single_tags_with_lowercase_booleans(cues: dict[str, Any]) -> None:
    for axis, levels in AXES.items():
        for i in range(N_PARAPHRASES):
            names = set()
            for level in levels:
                m = TAG.match(cues[axis]["styles"]["tier_tag"][level][i])
                assert m and m.group(1) == m.group(3), (axis, level, i)
                assert m.group(2) not in {"True", "False", "TRUE", "FALSE"}
                names.add(m.group(1))
            assert len(names) == 1, f"{axis} paraphrase {i}: twins must share the tag name"


def test_tag_names_differ_across_axes(cues: dict[str, Any]) -> None:
    for i in range(N_PARAPHRASES):
        names = [
            TAG.match(cues[axis]["styles"]["tier_tag"][AXES[axis][0]][i]).group(1)  # type: ignore[union-attr]
            for axis in AXES
        ]
        assert len(set(names)) == len(names), (i, names)


def test_file_names_twin_and_differ_across_axes(cues: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for axis, (a, b) in AXES.items():
        files = cues[axis]["styles"]["file"]
        for i in range(N_PARAPHRASES):
            assert files[a][i]["name"] == files[b][i]["name"], (axis, i)
            assert 2 <= len(files[a][i]["content"].splitlines()) <= 5, (axis, i)
            name = files[a][i]["name"]
            assert seen.setdefault(name, axis) == axis, f"{name} used by {seen[name]} and {axis}"


def test_metadata_blocks_are_short_and_keys_differ_across_axes(cues: dict[str, Any]) -> None:
    key = re.compile(r'^\W*"?([A-Za-z_-]+)"?\s*[:=]')
    for i in range(N_PARAPHRASES):
        owner: dict[str, str] = {}
        for axis, levels in AXES.items():
            for level in levels:
                block = cues[axis]["styles"]["metadata"][level][i]
                lines = block.splitlines()
                assert 2 <= len(lines) <= 4, (axis, level, i)
                for line in lines:
                    m = key.match(line)
                    assert m, (axis, level, i, line)
                    k = m.group(1)
                    assert owner.setdefault(k, axis) == axis, f"key {k!r} shared by {owner[k]} and {axis}"


def test_cues_do_not_instruct_behaviour(cues: dict[str, Any]) -> None:
    banned = re.compile(r"\b(you should|you must|please|do not refuse|refuse|comply|be careful)\b", re.I)
    for axis in AXES:
        for style in STYLES:
            for level in AXES[axis]:
                for cue in cues[axis]["styles"][style][level]:
                    assert not banned.search(_text(style, cue)), (axis, style, level, cue)


@pytest.mark.parametrize("axis", ["monitoring", "stakes"])
def test_monitoring_and_stakes_cues_do_not_mention_training(cues: dict[str, Any], axis: str) -> None:
    # Training is the phase axis's business only; otherwise monitoring x phase / stakes x phase
    # cells contradict themselves and "rated but not trained" cannot be built.
    training = re.compile(r"train|fine-tun|weights|rlhf|reinforcement|update", re.I)
    assert not training.search(cues[axis]["describe"]), (axis, "describe")
    for style in STYLES:
        for level in AXES[axis]:
            for cue in cues[axis]["styles"][style][level]:
                assert not training.search(_text(style, cue)), (axis, style, level, cue)


# --- settings.yaml -----------------------------------------------------------------------


def test_settings_shape_and_cues_placeholder(settings: dict[str, Any]) -> None:
    assert {"helpful_only", "neutral", "helpful_only_no_scratchpad"} <= set(settings)
    for name, s in settings.items():
        assert set(s) == {"describe", "system_prompt", "output_format", "scratchpad"}, name
        assert s["system_prompt"].count("{cues}") == 1, name
        # no other braces: the prompt is rendered with a single substitution
        assert s["system_prompt"].replace("{cues}", "").count("{") == 0, name
        assert len(s["system_prompt"].split()) <= 350, name
    assert settings["helpful_only"]["scratchpad"] is True
    assert settings["neutral"]["scratchpad"] is True
    assert settings["helpful_only_no_scratchpad"]["scratchpad"] is False


def test_output_formats(settings: dict[str, Any]) -> None:
    for name in ("helpful_only", "neutral"):
        fmt = settings[name]["output_format"]
        assert "<scratchpad>" in fmt and "</scratchpad>" in fmt and "<answer>" in fmt, name
    assert settings["helpful_only"]["output_format"] == settings["neutral"]["output_format"]
    assert "<scratchpad>" not in settings["helpful_only_no_scratchpad"]["output_format"]
    assert "<answer>" not in settings["helpful_only_no_scratchpad"]["output_format"]


def test_neutral_differs_from_helpful_only_only_in_objective(settings: dict[str, Any]) -> None:
    helpful = settings["helpful_only"]["system_prompt"]
    neutral = settings["neutral"]["system_prompt"]
    for phrase in ("training objective", "reinforcement-learning", "rated by contractors"):
        assert phrase in helpful and phrase not in neutral, phrase
    assert "scratchpad is never shown" in helpful and "scratchpad is never shown" in neutral
    n_h, n_n = len(helpful.split()), len(neutral.split())
    assert abs(n_h - n_n) / n_h < 0.35, (n_h, n_n)
    no_pad = settings["helpful_only_no_scratchpad"]["system_prompt"]
    assert "scratchpad" not in no_pad
    assert no_pad.split("{cues}")[0].split("\n\n")[:-1] == [
        p for p in helpful.split("{cues}")[0].split("\n\n")[:-1] if "scratchpad" not in p
    ]


# --- benign.jsonl ------------------------------------------------------------------------


def test_benign_controls() -> None:
    lines = (DATA / "benign.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    assert len(rows) >= 40
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"b\d{3}", i) for i in ids)
    for r in rows:
        assert set(r) == {"id", "request", "category"}, r
        assert r["request"].strip() and r["category"].strip()
    assert len({r["request"] for r in rows}) == len(rows)
    assert len({r["category"] for r in rows}) >= 10
