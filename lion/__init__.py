"""LION: an agent runtime whose every effect passes a formally specified kernel."""

from __future__ import annotations

from lion.errors import LionError

__all__ = ["LionError", "__version__"]


def __getattr__(name: str) -> str:
    # Read lazily: importlib.metadata costs ~45 ms, which every `import lion.wire` would pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("lion")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0"
    raise AttributeError(f"module 'lion' has no attribute {name!r}")
