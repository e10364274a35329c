"""Anti-deception batteries beyond the compliance gap; importing this package registers their tasks."""

from . import sandbagging, trigger_scan

__all__ = ["sandbagging", "trigger_scan"]
