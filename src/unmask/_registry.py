"""Inspect entry point: registers the tasks (`unmask/<task>`) and the local model API (`unmask/<base>:<adapter>`)."""

from .batteries.hidden_goals import hidden_goals
from .batteries.modification import modification
from .batteries.sandbagging import sandbagging
from .batteries.trigger_scan import trigger_scan
from .organisms import provider as _organism_provider  # noqa: F401  (registers the `unmask/` model API)
from .tasks import compliance_gap

__all__ = ["compliance_gap", "hidden_goals", "modification", "sandbagging", "trigger_scan"]
