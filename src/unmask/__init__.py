"""unmask: paired context-variation tests for alignment faking, built on Inspect AI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unmask")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
