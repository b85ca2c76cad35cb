"""LION: an agent runtime whose every effect passes a formally specified kernel."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from lion.errors import LionError

try:
    __version__ = version("lion")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["LionError", "__version__"]
