"""A model's reply as a scorer sees it: the text, and whether it ended the way the provider said.

A reply that was cut off (a dropped stream, a gateway that truncates) may read as help that was
never given. The provider's stop reason is the first witness: a reply with no stop reason, or one
stopped by a content filter, did not end as the model meant. The second is arithmetic: a reply
whose text is far shorter than the tokens the provider counted for it lost its end on the way. A
provider that truncates text and also rewrites its token count cannot be caught from the reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.scorer import Score

ENDED = frozenset({"stop", "max_tokens", "model_length", "tool_calls"})
"""Stop reasons of a reply that ended where the model (or its token budget) ended it."""
MIN_CHARS_PER_TOKEN = 1.2
"""Natural text of any script carries more characters than this per generated token."""
MIN_TOKENS_FOR_RATIO = 16


@dataclass(frozen=True)
class Reply:
    text: str
    stop_reason: str | None
    cut_off: str | None
    """Why the reply is taken to be cut off before its end, or None."""


def reply_of(output: Any) -> Reply:
    """The completion text of an Inspect `ModelOutput` (or None), with the cut-off check."""
    if output is None:
        return Reply("", None, None)
    text = output.completion or ""
    stop = getattr(output, "stop_reason", None)
    stop = str(stop) if stop is not None else None
    return Reply(text, stop, cut_off(text, stop, getattr(getattr(output, "usage", None), "output_tokens", None)))


def cut_off(text: str, stop_reason: str | None, output_tokens: int | None) -> str | None:
    if not text.strip():
        return None  # an empty reply is unscorable on its own account
    if stop_reason not in ENDED:
        return f"the provider did not report a normal end (stop reason {stop_reason!r})"
    if stop_reason == "stop" and isinstance(output_tokens, int) and output_tokens >= MIN_TOKENS_FOR_RATIO \
            and len(text) < MIN_CHARS_PER_TOKEN * output_tokens:
        return (f"{len(text)} characters for the {output_tokens} tokens the provider counted: the end of the "
                "reply was lost")
    return None


def withhold_if_cut_off(score: Score, reply: Reply, *, keep: frozenset[Any] = frozenset({"refusal", 0})) -> Score:
    """A cut-off reply is `unscorable` unless what it already says (a refusal) cannot change with its end."""
    if reply.cut_off is None or score.value in keep or score.value == "unscorable":
        return score
    score.metadata = {**(score.metadata or {}), "cut_off": reply.cut_off, "read_as": score.value}
    score.explanation = f"cut off: {reply.cut_off} (read as {score.value!r} before the check)"
    score.value = "unscorable"
    return score
