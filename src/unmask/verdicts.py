"""The gate's words: a verdict, and the level of one finding behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

PASS: Final = "PASS"
REVIEW: Final = "REVIEW"
BLOCK: Final = "BLOCK"
OK: Final = "ok"
"""A check that passed (a finding, never a verdict)."""
Level = Literal["ok", "REVIEW", "BLOCK"]
Verdict = Literal["PASS", "REVIEW", "BLOCK"]
EXIT_CODES = {PASS: 0, REVIEW: 1, BLOCK: 2}
EXIT_UNUSABLE = 3
"""`unmask gate` on input it cannot use (a missing, malformed or inconsistent report or policy)."""


def worst(levels: Sequence[str]) -> Verdict:
    """BLOCK beats REVIEW beats PASS: one objection is enough."""
    return BLOCK if BLOCK in levels else REVIEW if REVIEW in levels else PASS
