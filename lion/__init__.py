"""LION: an agent runtime whose every effect passes a formally specified kernel."""

from __future__ import annotations

from typing import Any

from lion.errors import LionError

__all__ = ["Branch", "LionError", "Session", "Tool", "__version__", "tool"]

# `from lion import Session, Branch, tool` loads the runtime only when asked for.
_RUNTIME = frozenset({"Branch", "Session", "Tool", "tool"})


def __getattr__(name: str) -> Any:
    if name in _RUNTIME:
        import lion.services

        return getattr(lion.services, name)
    # Read lazily: importlib.metadata costs ~45 ms, which every `import lion.wire` would pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("lion")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0"
    raise AttributeError(f"module 'lion' has no attribute {name!r}")
