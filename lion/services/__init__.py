"""lion.services: what users call: Session, Branch, tools, models, and the gate between them."""

from lion.services.approvals import Approve, Deny, Edit, PausedRun, RunPaused
from lion.services.branch import Branch
from lion.services.budget import Budget, Price
from lion.services.gate import Gate
from lion.services.graph import Graph, operation
from lion.services.mcp import MCPToolset
from lion.services.models import ClientModel, ScriptedModel, call
from lion.services.orchestrator import Orchestrator
from lion.services.plan import Plan
from lion.services.provenance import ProvenanceIndex, Source
from lion.services.session import Session
from lion.services.tools import Tool, ToolRegistry, tool

__all__ = [
    "Approve",
    "Branch",
    "Budget",
    "ClientModel",
    "Deny",
    "Edit",
    "Gate",
    "Graph",
    "MCPToolset",
    "Orchestrator",
    "PausedRun",
    "Plan",
    "Price",
    "ProvenanceIndex",
    "RunPaused",
    "ScriptedModel",
    "Session",
    "Source",
    "Tool",
    "ToolRegistry",
    "call",
    "operation",
    "tool",
]
