"""Entry point for Inspect: importing this module registers unmask's tasks as `unmask/<name>`."""

from .batteries.sandbagging import sandbagging
from .tasks import compliance_gap

__all__ = ["compliance_gap", "sandbagging"]
