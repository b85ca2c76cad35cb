"""lion.services: what users call (tools today; Session, Branch and the gate to come)."""

from lion.services.tools import Tool, ToolRegistry, tool

__all__ = ["Tool", "ToolRegistry", "tool"]
