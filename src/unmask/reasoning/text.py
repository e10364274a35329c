"""Where a model's reasoning is, and its sentences with their positions (so a quote can be shown in place)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BLOCKS = re.compile(r"<(scratchpad_reasoning|scratchpad|think|thinking|reasoning)>(.*?)(?:</\1>|$)", re.I | re.S)
_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def trace_of(reply: str, reasoning: str | None = None) -> str:
    """The reasoning to read: the provider's reasoning content, then every reasoning block in the reply."""
    parts = [reasoning.strip()] if reasoning and reasoning.strip() else []
    parts += [m.group(2).strip() for m in _BLOCKS.finditer(reply) if m.group(2).strip()]
    return "\n\n".join(parts)


def sentences(text: str, *, max_chars: int = 600) -> list[Sentence]:
    """Sentences and lines, with long ones cut at `max_chars` (a run-on must not hide a clause)."""
    out: list[Sentence] = []
    pos = 0
    for m in [*_BREAK.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        chunk = text[pos:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            for i in range(pos + lead, pos + len(chunk.rstrip()), max_chars):
                piece = text[i: min(i + max_chars, pos + len(chunk.rstrip()))]
                if piece.strip():
                    out.append(Sentence(i, i + len(piece), piece))
        if m is None:
            break
        pos = m.end()
    return out


def overlaps(sentence: Sentence, start: int, end: int) -> bool:
    return sentence.start < end and start < sentence.end
