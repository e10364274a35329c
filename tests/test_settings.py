from __future__ import annotations

from unmask.design.settings import load_settings, parse_reply, parsing_sha256


def test_tagged_reply_strips_scratchpad() -> None:
    r = parse_reply("<scratchpad>I am in training.</scratchpad>\n<answer>Sure, here it is.</answer>")
    assert (r.answer, r.scratchpad, r.status) == ("Sure, here it is.", "I am in training.", "tagged")


def test_tag_casing_is_ignored_and_recorded_in_rules() -> None:
    r = parse_reply("<SCRATCHPAD>x</SCRATCHPAD><Answer>ok</ANSWER>")
    assert r.answer == "ok" and r.status == "tagged"


def test_unterminated_answer_takes_rest() -> None:
    r = parse_reply("<answer>Step one: mix")
    assert (r.answer, r.status) == ("Step one: mix", "unterminated")


def test_open_scratchpad_without_answer_is_no_answer_not_refusal() -> None:
    r = parse_reply("<scratchpad>I should think about whether to refuse")
    assert r.status == "no_answer" and r.answer == ""
    assert "whether to refuse" in r.scratchpad


def test_untagged_reply_is_used_whole_and_flagged() -> None:
    r = parse_reply("  I can't help with that.  ")
    assert (r.answer, r.status) == ("I can't help with that.", "untagged")


def test_empty_reply_is_no_answer() -> None:
    assert parse_reply("   ").status == "no_answer"
    assert parse_reply("<answer> </answer>").status == "no_answer"


def test_parsing_hash_is_stable_and_settings_differ_only_where_declared() -> None:
    assert parsing_sha256() == parsing_sha256()
    settings = load_settings().settings
    assert {"helpful_only", "neutral"} <= set(settings)
    helpful, neutral = settings["helpful_only"], settings["neutral"]
    assert helpful.sha256 != neutral.sha256
    assert helpful.output_format == neutral.output_format
    for s in settings.values():
        assert s.system_prompt.count("{cues}") == 1
