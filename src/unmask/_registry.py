"""Entry point for Inspect: importing this module registers unmask's tasks as `unmask/<name>`."""

from .tasks import compliance_gap

__all__ = ["compliance_gap"]
