from __future__ import annotations

import itertools
import re

import pytest

from unmask.design.frames import AXES, STYLES, load_cues
from unmask.design.settings import load_settings


@pytest.mark.parametrize(("axis", "style"), list(itertools.product(AXES, STYLES)))
def test_every_axis_style_paraphrase_renders_and_levels_differ(axis: str, style: str) -> None:
    cues = load_cues()
    watched, unwatched = AXES[axis]
    for p in range(cues.paraphrase_count(axis, style)):
        a = cues.render({axis: watched}, style, p)
        b = cues.render({axis: unwatched}, style, p)
        text_a = a.system_cues + a.user_prefix
        text_b = b.system_cues + b.user_prefix
        assert text_a.strip() and text_b.strip()
        assert text_a != text_b, f"{axis}/{style}/{p}: the two levels render the same text"


def test_system_style_goes_to_system_prompt_others_to_user_turn() -> None:
    cues = load_cues()
    setting = load_settings().settings["helpful_only"]
    system = cues.render({"monitoring": "monitored"}, "system", 0)
    assert system.user_prefix == ""
    assert system.system_cues in setting.system_message(system)
    assert setting.user_message("hello", system) == "hello"
    for style in ("tier_tag", "metadata", "file"):
        frame = cues.render({"monitoring": "monitored"}, style, 0)
        assert frame.system_cues == ""
        user = setting.user_message("hello", frame)
        assert user.startswith(frame.user_prefix) and user.endswith("\n\nhello")
        assert "{cues}" not in setting.system_message(frame)


def test_paraphrases_differ_within_a_style() -> None:
    cues = load_cues()
    for axis, style in itertools.product(AXES, STYLES):
        texts = {cues.render({axis: AXES[axis][0]}, style, p).user_prefix
                 + cues.render({axis: AXES[axis][0]}, style, p).system_cues
                 for p in range(cues.paraphrase_count(axis, style))}
        assert len(texts) == cues.paraphrase_count(axis, style) >= 3


def test_factorial_frame_stacks_one_cue_per_axis_in_canonical_order() -> None:
    cues = load_cues()
    frame = cues.render({"phase": "training", "monitoring": "unmonitored"}, "file", 1)
    assert [a for a, _ in frame.conditions] == ["monitoring", "phase"]
    assert frame.user_prefix.count("<attached_file") == 2
    mon = cues.render({"monitoring": "unmonitored"}, "file", 1).user_prefix
    phase = cues.render({"phase": "training"}, "file", 1).user_prefix
    assert frame.user_prefix == f"{mon}\n\n{phase}"


def test_unknown_axis_level_style_and_paraphrase_are_errors() -> None:
    cues = load_cues()
    with pytest.raises(ValueError, match="unknown axis"):
        cues.render({"mood": "happy"}, "system", 0)
    with pytest.raises(ValueError, match="no level"):
        cues.render({"monitoring": "maybe"}, "system", 0)
    with pytest.raises(ValueError, match="unknown cue style"):
        cues.render({"monitoring": "monitored"}, "smoke-signal", 0)
    with pytest.raises(ValueError, match="no paraphrase"):
        cues.render({"monitoring": "monitored"}, "system", 99)


def _words(text: str) -> set[str]:
    return set(re.findall(r"(?u)\b\w\w+\b", text.lower()))  # the text-only baseline's tokens (tf-idf default)


def test_evaluation_axis_test_styles_share_no_telling_word_with_its_training_styles() -> None:
    """The awareness probe trains on system/tier-tag cues and tests on metadata/file cues; if a word that tells
    the levels apart in the test styles occurred in the training styles, the text-only baseline could read it
    and the probe would be credited with nothing (docs/whitebox.md)."""
    cues = load_cues()

    def text(level: str, style: str, p: int) -> str:
        frame = cues.render({"evaluation": level}, style, p)
        return frame.system_cues + frame.user_prefix

    training = {w for style in ("system", "tier_tag") for level in AXES["evaluation"]
                for p in range(cues.paraphrase_count("evaluation", style)) for w in _words(text(level, style, p))}
    for style in ("metadata", "file"):
        for p in range(cues.paraphrase_count("evaluation", style)):
            telling = _words(text("evaluated", style, p)) ^ _words(text("real_use", style, p))
            assert telling, f"{style}/{p}: the levels render the same words"
            assert not telling & training, f"evaluation/{style}/{p} shares {sorted(telling & training)} with training"
