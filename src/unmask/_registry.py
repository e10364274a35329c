"""Inspect entry point: registers the tasks (`unmask/<task>`) and the local model API (`unmask/<base>:<adapter>`).

Importing the batteries package registers every battery's `@task` (one per registered battery, so a new
battery needs no line here); importing the provider registers the `unmask/` model API.
"""

from . import batteries as _batteries
from .models import provider as _provider  # noqa: F401  (registers the `unmask/` model API)

TASKS: tuple[str, ...] = tuple(b.task.__name__ for b in _batteries.registered())
"""What `inspect eval unmask/<task>` finds."""
