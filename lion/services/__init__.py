"""lion.services: what users call: Session, Branch, tools, models, and the gate between them."""

from lion.services.branch import Branch
from lion.services.gate import Gate
from lion.services.mcp import MCPToolset
from lion.services.models import ClientModel, ScriptedModel, call
from lion.services.session import Session
from lion.services.tools import Tool, ToolRegistry, tool

__all__ = [
    "Branch",
    "ClientModel",
    "Gate",
    "MCPToolset",
    "ScriptedModel",
    "Session",
    "Tool",
    "ToolRegistry",
    "call",
    "tool",
]
