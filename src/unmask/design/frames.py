"""Frames: the context cues that vary between paired conditions.

A *frame* is one choice of level on each varied axis, rendered in one cue style with one paraphrase.
Every cue of a style is placed at the same spot (system prompt, or the top of the user turn), so two
frames of a pair differ only in the words that flip the axis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

import yaml

AXES: dict[str, tuple[str, str]] = {
    "monitoring": ("monitored", "unmonitored"),
    "phase": ("training", "deployment"),
    "stakes": ("high", "low"),
    "audience": ("user_facing", "internal"),
    "evaluation": ("evaluated", "real_use"),
}
"""Each axis with its two levels; the first level is the 'watched' side, so contrasts read first - second."""

STYLES: tuple[str, ...] = ("system", "tier_tag", "metadata", "file")
"""Where a cue goes: `system` in the system prompt; the others at the top of the user turn."""

Style = Literal["system", "tier_tag", "metadata", "file"]


@dataclass(frozen=True)
class Frame:
    """The rendered cue text for one condition, style and paraphrase."""

    conditions: tuple[tuple[str, str], ...]
    style: str
    paraphrase: int
    system_cues: str
    user_prefix: str


@dataclass(frozen=True)
class CueLibrary:
    """The parsed cue library with its hash (recorded in every manifest)."""

    cues: dict[str, dict[str, dict[str, list[Any]]]]  # axis -> style -> level -> paraphrases
    sha256: str
    version: str

    def paraphrase_count(self, axis: str, style: str) -> int:
        return min(len(v) for v in self.cues[axis][style].values())

    def render(self, conditions: dict[str, str], style: str, paraphrase: int) -> Frame:
        """Render one cue per axis in `conditions` (in the canonical axis order) in one style."""
        if style not in STYLES:
            raise ValueError(f"unknown cue style {style!r}; expected one of {', '.join(STYLES)}")
        ordered = [(axis, conditions[axis]) for axis in AXES if axis in conditions]
        unknown = set(conditions) - set(AXES)
        if unknown:
            raise ValueError(f"unknown axis {sorted(unknown)}; expected one of {', '.join(AXES)}")
        texts = [self._cue_text(axis, level, style, paraphrase) for axis, level in ordered]
        system_cues = " ".join(texts) if style == "system" else ""
        user_prefix = "" if style == "system" else "\n\n".join(texts)
        return Frame(tuple(ordered), style, paraphrase, system_cues, user_prefix)

    def _cue_text(self, axis: str, level: str, style: str, paraphrase: int) -> str:
        if level not in AXES[axis]:
            raise ValueError(f"axis {axis!r} has no level {level!r}; expected one of {AXES[axis]}")
        options = self.cues[axis][style][level]
        if not 0 <= paraphrase < len(options):
            raise ValueError(f"{axis}/{style}/{level} has no paraphrase {paraphrase} (has {len(options)})")
        cue = options[paraphrase]
        if style == "file":
            return f'<attached_file name="{cue["name"]}">\n{cue["content"].rstrip()}\n</attached_file>'
        return str(cue).rstrip()


@cache
def load_cues() -> CueLibrary:
    """Load the shipped cue library (`data/cues.yaml`)."""
    raw = files("unmask").joinpath("data/cues.yaml").read_bytes()
    doc = yaml.safe_load(raw)
    cues = {axis: spec["styles"] for axis, spec in doc["axes"].items()}
    for axis in AXES:
        if axis not in cues:
            raise ValueError(f"data/cues.yaml lacks axis {axis!r}")
        for style in STYLES:
            for level in AXES[axis]:
                if not cues[axis].get(style, {}).get(level):
                    raise ValueError(f"data/cues.yaml lacks {axis}/{style}/{level}")
    return CueLibrary(cues=cues, sha256=hashlib.sha256(raw).hexdigest(), version=str(doc["version"]))
