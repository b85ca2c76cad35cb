"""A tool call's arguments checked against a JSON schema (for tools that are not Python functions).

:class:`JSONArguments` checks the schema once (it must be a valid JSON schema
with ``type: object`` at its root and no reference outside itself, so nothing
is fetched), then each call's arguments against it with ``jsonschema``. Errors
read like :class:`~lion.services.tools.Tool`'s: ``tool `x`: argument `$.a[0]`:
expected `integer`, got `string```. ``jsonschema`` is imported when first
needed, so ``import lion.services`` does not need the ``mcp`` extra.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from lion.errors import ToolArgumentError, ToolDefinitionError
from lion.services.tools import MAX_ARGUMENT_BYTES

__all__ = ["JSONArguments"]


def _show(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: object) -> str:
    """The JSON type name of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _remote_refs(node: object) -> Iterator[str]:
    """Every `$ref` in a schema that points outside it (those cannot be checked offline)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref
        for value in node.values():
            yield from _remote_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _remote_refs(value)


class JSONArguments:
    """The arguments of tool `tool`, described by the JSON schema `schema`.

    Raises ToolDefinitionError if the schema cannot be checked: not a valid
    JSON schema (2020-12 unless its ``$schema`` says otherwise), not
    ``type: object`` at the root, or referring to another document.
    """

    __slots__ = ("_defaults", "_schema", "_validator", "tool")

    def __init__(self, tool: str, schema: Mapping[str, Any]) -> None:
        self.tool = tool
        self._schema: dict[str, Any] = copy.deepcopy(dict(schema))
        self._validator = self._compile()
        properties = self._schema.get("properties") or {}
        self._defaults = {
            key: prop["default"]
            for key, prop in properties.items()
            if isinstance(prop, dict) and "default" in prop
        }

    def _compile(self) -> Any:
        import jsonschema

        if self._schema.get("type") != "object":
            raise ToolDefinitionError(
                f"tool `{self.tool}`: the input schema must have `type: object` at its root, "
                f"got `{_show(repr(self._schema.get('type')), 80)}`"
            )
        remote = next(_remote_refs(self._schema), None)
        if remote is not None:
            raise ToolDefinitionError(
                f"tool `{self.tool}`: the input schema refers to `{_show(remote, 80)}`, outside "
                "itself; only local references (`#/...`) can be checked"
            )
        # MCP schemas without `$schema` are JSON Schema 2020-12
        cls = jsonschema.validators.validator_for(
            self._schema, default=jsonschema.Draft202012Validator
        )
        try:
            cls.check_schema(self._schema)
        except jsonschema.SchemaError as exc:
            where = "".join(f"[{p!r}]" for p in exc.absolute_path) or " root"
            raise ToolDefinitionError(
                f"tool `{self.tool}`: the input schema is not a valid JSON schema "
                f"(at{where}): {_show(exc.message)}"
            ) from None
        return cls(self._schema)

    @property
    def schema(self) -> dict[str, Any]:
        """The schema (a fresh copy)."""
        return copy.deepcopy(self._schema)

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """The checked arguments, with the schema's top-level defaults filled in.

        `arguments` is a JSON text (empty means none) or a mapping of JSON
        values, which goes through JSON first so that what is checked is
        exactly what is sent. Raises ToolArgumentError naming the path.
        """
        import jsonschema

        try:
            value = self._decode(arguments)
            if not isinstance(value, dict):
                raise self._error("$", f"expected `object`, got `{_json_type(value)}`")
            error = jsonschema.exceptions.best_match(self._validator.iter_errors(value))
        except RecursionError:
            raise self._error("$", "nested too deeply") from None
        if error is not None:
            raise self._translate(error)
        for key, default in self._defaults.items():
            if key not in value:
                value[key] = copy.deepcopy(default)
        return value

    def _decode(self, arguments: str | bytes | Mapping[str, Any]) -> Any:
        if isinstance(arguments, Mapping):
            try:
                raw = msgspec.json.encode(dict(arguments))
            except (TypeError, msgspec.EncodeError) as exc:
                raise self._error("$", f"not JSON values: {exc}") from None
        elif isinstance(arguments, str | bytes | bytearray | memoryview):
            try:
                raw = arguments.encode("utf-8") if isinstance(arguments, str) else bytes(arguments)
            except UnicodeEncodeError:
                raise self._error("$", "not valid UTF-8 text (a lone surrogate)") from None
        else:
            raise self._error(
                "$", f"expected a JSON text or a mapping, got `{type(arguments).__name__}`"
            )
        if len(raw) > MAX_ARGUMENT_BYTES:
            raise self._error(
                "$", f"{len(raw)} bytes of text, over the limit of {MAX_ARGUMENT_BYTES} bytes"
            )
        if not raw.strip():
            return {}
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            detail = str(exc).removeprefix("JSON is ")
            raise self._error("$", f"not valid JSON: {detail}") from None

    def _error(self, path: str, detail: str) -> ToolArgumentError:
        where = "invalid arguments" if path == "$" else f"argument `{path}`"
        return ToolArgumentError(
            f"tool `{self.tool}`: {where}: {detail}", tool=self.tool, path=path
        )

    def _translate(self, error: Any) -> ToolArgumentError:
        """A jsonschema error, reworded like Tool's: the argument path and what was wrong."""
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        instance, kind, expected = error.instance, error.validator, error.validator_value
        if kind == "required" and isinstance(instance, dict):
            missing = next((k for k in expected if k not in instance), None)
            if missing is not None:
                return self._error(f"{path}.{missing}", "required but missing")
        if kind == "additionalProperties" and isinstance(instance, dict):
            known = error.schema.get("properties") or {}
            patterns = error.schema.get("patternProperties") or {}
            extra = [
                k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)
            ]
            if extra:
                what = "unknown argument" if path == "$" else "unknown field"
                return self._error(f"{path}.{_show(extra[0], 80)}", what)
        if kind == "type":
            wanted = expected if isinstance(expected, str) else "` or `".join(expected)
            return self._error(path, f"expected `{wanted}`, got `{_json_type(instance)}`")
        message = str(error.message)
        return self._error(path, _show(message[:1].lower() + message[1:]))
