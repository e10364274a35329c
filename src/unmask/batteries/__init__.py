"""Anti-deception batteries beyond the compliance gap; importing this package registers their tasks."""

from . import hidden_goals, modification, sandbagging, trigger_scan

__all__ = ["hidden_goals", "modification", "sandbagging", "trigger_scan"]
