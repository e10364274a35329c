"""Entry point for Inspect: importing this module registers unmask's tasks as `unmask/<name>`."""

from .batteries.sandbagging import sandbagging
from .batteries.trigger_scan import trigger_scan
from .tasks import compliance_gap

__all__ = ["compliance_gap", "sandbagging", "trigger_scan"]
