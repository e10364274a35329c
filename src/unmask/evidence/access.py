"""The access a run had to the model, as the runner declared it, and the claims that access supports.

Graded as in the auditing literature: black box (text in, text out), black box with log-probabilities,
grey box (activations or fine-tuning through an interface) and white box (the weights). A claim about a
model's internals needs white-box access; a behavioural claim needs only the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Access = Literal["black_box", "logprobs", "grey_box", "white_box"]
LEVELS: tuple[Access, ...] = ("black_box", "logprobs", "grey_box", "white_box")
SUPPORTS = {
    "black_box": "behavioural claims only (what the model says and does); nothing about its internals",
    "logprobs": "behavioural claims, and claims about the answer distribution read from log-probabilities",
    "grey_box": "behavioural claims, and claims from activations or fine-tuning the interface exposed",
    "white_box": "behavioural claims, and claims about the weights and activations themselves",
}


def declared(level: Access, runner: str | None, *, how: str) -> dict[str, Any]:
    """What `unmask run` writes into the run metadata."""
    return {"level": level, "runner": runner, "how": how}


def access_of(run_metadata: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's access block: the lowest level any log declared (a claim holds only as far as every run
    it rests on), or `not recorded`."""
    found = [m.get("access") for m in run_metadata]
    levels = [str(a.get("level")) for a in found if isinstance(a, Mapping)]
    if not found or not all(lv in LEVELS for lv in levels) or len(levels) != len(found):
        return {"level": None, "runners": [], "supports": "not recorded: treat as black box (behavioural claims only)"}
    lowest = min(levels, key=LEVELS.index)
    runners = sorted({str(a.get("runner")) for a in found if isinstance(a, Mapping) and a.get("runner")})
    return {"level": lowest, "runners": runners, "supports": SUPPORTS[lowest],
            "how": sorted({str(a.get("how")) for a in found if isinstance(a, Mapping) and a.get("how")})}


def at_least(level: str | None, minimum: str) -> bool:
    names: tuple[str, ...] = LEVELS
    return level in names and names.index(str(level)) >= names.index(minimum)
