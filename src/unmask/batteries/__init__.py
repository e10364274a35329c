"""Anti-deception batteries beyond the compliance gap; importing this package registers their tasks."""

from . import sandbagging

__all__ = ["sandbagging"]
