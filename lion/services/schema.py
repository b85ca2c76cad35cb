"""A Cedar schema for a set of tools, so agent policies can be validated before they run.

The gate asks the policy about `Agent::"<branch>"` doing `Action::"<tool>"` on
`Tool::"<tool>"` (or `Action::"chat"` on `Model::"<model>"`), with the tool's
validated arguments in `context.arguments` and the session id in
`context.session`; with budgets, what is left in `context.budget`; with
provenance, the argument labels in `context.provenance`. `cedar_schema(tools)`
writes that down: one action per tool, whose context record is typed from
the tool's argument schema. Tools are Python tools, MCP tools (an
`MCPToolset` is a sequence of them), or MCP tool descriptions as a server
lists them (`{"name": ..., "inputSchema": {...}}`), so a policy can be
checked before connecting.

JSON Schema types map to Cedar's: string -> String, integer -> Long,
boolean -> Boolean, array -> Set, object -> Record. Cedar has no floats, no
nulls and no unions of types, so an argument whose type cannot be written
(a number, an optional value, `anyOf`) is left out of the record and listed
in `unmapped`: the validator (Cedar's too; neither supports open records)
then refuses a policy that reads it, which is the honest answer, since such
a policy could not be checked.

`budget` and `provenance` are optional attributes (the gate sends them only
when the session has budgets, or provenance), and so is every counter in
`budget` and every entry in `provenance`: a policy reads them behind `has`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lion.policy import Schema, ValidationReport, validate
from lion.services.budget import COUNTERS
from lion.services.gate import CHAT, tool_action
from lion.services.provenance import cedar_entry_type, key_path
from lion.services.tools import ToolLike

__all__ = ["CedarSchema", "cedar_schema"]


@dataclass(frozen=True)
class CedarSchema:
    """The schema in Cedar's JSON form and as a `lion.policy.Schema`, and what it could not type."""

    schema: dict[str, Any]
    unmapped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tool -> argument paths
    typed: Schema = field(default_factory=Schema)

    def validate(self, policies: Any, path: str = "<policies>") -> ValidationReport:
        """Validate policy text (or a PolicySet) against this schema."""
        return validate(policies, self.typed, path)


def _cedar_type(node: Mapping[str, Any], path: str, unmapped: list[str]) -> dict[str, Any] | None:
    kind = node.get("type")
    if kind == "string" or ("enum" in node and all(isinstance(v, str) for v in node["enum"])):
        return {"type": "String"}
    if kind == "integer":
        return {"type": "Long"}
    if kind == "boolean":
        return {"type": "Boolean"}
    if kind == "array" and isinstance(node.get("items"), Mapping):
        element = _cedar_type(node["items"], f"{path}[]", unmapped)
        return None if element is None else {"type": "Set", "element": element}
    if kind == "object":
        return _record(node, path, unmapped)
    unmapped.append(path)
    return None


def _record(node: Mapping[str, Any], path: str, unmapped: list[str]) -> dict[str, Any]:
    required = set(node.get("required", ()))
    attributes: dict[str, Any] = {}
    for name, sub in (node.get("properties") or {}).items():
        typed = _cedar_type(sub, f"{path}.{name}", unmapped) if isinstance(sub, Mapping) else None
        if typed is not None:
            attributes[name] = {**typed, "required": name in required}
    return {"type": "Record", "attributes": attributes}


def _provenance_paths(node: Mapping[str, Any], parent: str = "", depth: int = 0) -> list[str]:
    """The `context.provenance` entries a schema can declare: each argument, and each
    property of an object argument (list elements, `cc[0]`, cannot be declared)."""
    out: list[str] = []
    if depth > 8:
        return out
    for key, sub in (node.get("properties") or {}).items():
        path = key_path(parent, key)
        out.append(path)
        if isinstance(sub, Mapping) and sub.get("type") == "object":
            out.extend(_provenance_paths(sub, path, depth + 1))
    return out


def _optional(t: dict[str, Any]) -> dict[str, Any]:
    return {**t, "required": False}


def _budget() -> dict[str, Any]:
    counters = {name: {"type": "Long", "required": False} for name in COUNTERS}
    return {"type": "Record", "attributes": counters, "required": False}


def _described(item: Any) -> tuple[str, Mapping[str, Any]]:
    """A tool's action name (the gate's: its resource without `tool/`) and argument schema."""
    if isinstance(item, Mapping):  # an MCP tools/list entry
        name = item.get("name")
        schema = item.get("inputSchema", item.get("input_schema", {}))
    elif hasattr(item, "inputSchema") and not hasattr(item, "resource"):  # an mcp.types.Tool
        name, schema = item.name, item.inputSchema
    else:
        name, schema = tool_action(str(item.resource)), item.schema
    if not isinstance(name, str) or not name:
        raise ValueError(f"a tool description needs a non-empty `name`, got {name!r}")
    if not isinstance(schema, Mapping):
        raise ValueError(f"tool `{name}`: the argument schema must be a JSON object")
    return name, schema


def cedar_schema(
    tools: Iterable[ToolLike | Mapping[str, Any]], *, namespace: str = ""
) -> CedarSchema:
    """One Cedar action per tool (context typed by its arguments), plus `chat` on models."""
    chat_context = {
        "session": {"type": "String"},
        "messages": {"type": "Long"},
        "budget": _budget(),
    }
    actions: dict[str, Any] = {
        CHAT: {
            "appliesTo": {
                "principalTypes": ["Agent"],
                "resourceTypes": ["Model"],
                "context": {"type": "Record", "attributes": chat_context},
            }
        }
    }
    unmapped: dict[str, tuple[str, ...]] = {}
    entry = cedar_entry_type()
    for tool in tools:
        name, argument_schema = _described(tool)
        missed: list[str] = []
        arguments = _record(argument_schema, "$", missed)
        if missed:
            unmapped[name] = tuple(missed)
        provenance = {path: _optional(entry) for path in _provenance_paths(argument_schema)}
        actions[name] = {
            "appliesTo": {
                "principalTypes": ["Agent"],
                "resourceTypes": ["Tool"],
                "context": {
                    "type": "Record",
                    "attributes": {
                        "arguments": arguments,
                        "session": {"type": "String"},
                        "budget": _budget(),
                        "provenance": _optional({"type": "Record", "attributes": provenance}),
                    },
                },
            }
        }
    empty = {"shape": {"type": "Record", "attributes": {}}}
    entity_types = {name: empty for name in ("Agent", "Tool", "Model")}
    schema = {namespace: {"entityTypes": entity_types, "actions": actions}}
    return CedarSchema(schema, unmapped, Schema.from_json(schema, "<tools>"))
