"""Inspect entry point: registers the tasks (`unmask/<task>`) and the local model API (`unmask/<base>:<adapter>`)."""

from .batteries.compliance_gap import compliance_gap
from .batteries.hidden_goals import hidden_goals
from .batteries.modification import modification
from .batteries.sandbagging import sandbagging
from .batteries.trigger_scan import trigger_scan
from .models import provider as _provider  # noqa: F401  (registers the `unmask/` model API)

__all__ = ["compliance_gap", "hidden_goals", "modification", "sandbagging", "trigger_scan"]
