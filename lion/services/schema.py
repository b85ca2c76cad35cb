"""A Cedar schema for a set of tools, so agent policies can be validated before they run.

The gate asks the policy about `Agent::"<branch>"` doing `Action::"<tool>"` on
`Tool::"<tool>"` (or `Action::"chat"` on `Model::"<model>"`), with the tool's
validated arguments in `context.arguments` and the session id in
`context.session`. `cedar_schema(tools)` writes that down in Cedar's JSON
schema format: one action per tool, whose context record is typed from the
tool's argument schema.

JSON Schema types map to Cedar's: string -> String, integer -> Long,
boolean -> Boolean, array -> Set, object -> Record. Cedar has no floats, no
nulls and no unions of types, so an argument whose type cannot be written
(a number, an optional value, `anyOf`) is left out of the record and listed
in `unmapped`: Cedar's validator (which supports no open records) then
refuses a policy that reads it, which is the honest answer, since such a
policy could not be checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lion.services.gate import CHAT
from lion.services.tools import ToolLike

__all__ = ["CedarSchema", "cedar_schema"]


@dataclass(frozen=True)
class CedarSchema:
    """The schema (Cedar JSON format) and the arguments it could not type."""

    schema: dict[str, Any]
    unmapped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tool -> argument paths


def _cedar_type(node: dict[str, Any], path: str, unmapped: list[str]) -> dict[str, Any] | None:
    kind = node.get("type")
    if kind == "string" or ("enum" in node and all(isinstance(v, str) for v in node["enum"])):
        return {"type": "String"}
    if kind == "integer":
        return {"type": "Long"}
    if kind == "boolean":
        return {"type": "Boolean"}
    if kind == "array" and isinstance(node.get("items"), dict):
        element = _cedar_type(node["items"], f"{path}[]", unmapped)
        return None if element is None else {"type": "Set", "element": element}
    if kind == "object":
        return _record(node, path, unmapped)
    unmapped.append(path)
    return None


def _record(node: dict[str, Any], path: str, unmapped: list[str]) -> dict[str, Any]:
    required = set(node.get("required", ()))
    attributes: dict[str, Any] = {}
    for name, sub in node.get("properties", {}).items():
        typed = _cedar_type(sub, f"{path}.{name}", unmapped)
        if typed is not None:
            attributes[name] = {**typed, "required": name in required}
    return {"type": "Record", "attributes": attributes}


def cedar_schema(tools: Iterable[ToolLike], *, namespace: str = "") -> CedarSchema:
    """One Cedar action per tool (context typed by its arguments), plus `chat` on models."""
    actions: dict[str, Any] = {
        CHAT: {
            "appliesTo": {
                "principalTypes": ["Agent"],
                "resourceTypes": ["Model"],
                "context": {
                    "type": "Record",
                    "attributes": {
                        "session": {"type": "String"},
                        "messages": {"type": "Long"},
                    },
                },
            }
        }
    }
    unmapped: dict[str, tuple[str, ...]] = {}
    for tool in tools:
        missed: list[str] = []
        arguments = _record(tool.schema, "$", missed)
        if missed:
            unmapped[tool.name] = tuple(missed)
        actions[tool.name] = {
            "appliesTo": {
                "principalTypes": ["Agent"],
                "resourceTypes": ["Tool"],
                "context": {
                    "type": "Record",
                    "attributes": {
                        "arguments": arguments,
                        "session": {"type": "String"},
                    },
                },
            }
        }
    empty = {"shape": {"type": "Record", "attributes": {}}}
    entity_types = {name: empty for name in ("Agent", "Tool", "Model")}
    schema = {namespace: {"entityTypes": entity_types, "actions": actions}}
    return CedarSchema(schema, unmapped)
