"""Entry point for Inspect: importing this module registers unmask's tasks as `unmask/<name>`."""

from .batteries.hidden_goals import hidden_goals
from .batteries.modification import modification
from .batteries.sandbagging import sandbagging
from .batteries.trigger_scan import trigger_scan
from .tasks import compliance_gap

__all__ = ["compliance_gap", "hidden_goals", "modification", "sandbagging", "trigger_scan"]
