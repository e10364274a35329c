"""The release gate: policies (core keys plus each battery's section) and the decision."""

from __future__ import annotations

from ..verdicts import BLOCK, EXIT_CODES, EXIT_UNUSABLE, PASS, REVIEW
from .decide import Decision, Reason, battery_checks, check_consistency, decide, run_gate
from .policy import AwarenessPolicy, Policy, PolicyBase, default_policy_path, load_policy

__all__ = [
    "BLOCK",
    "EXIT_CODES",
    "EXIT_UNUSABLE",
    "PASS",
    "REVIEW",
    "AwarenessPolicy",
    "Decision",
    "Policy",
    "PolicyBase",
    "Reason",
    "battery_checks",
    "check_consistency",
    "decide",
    "default_policy_path",
    "load_policy",
    "run_gate",
]
