"""Tools from plain Python functions: a JSON schema from the type hints, validated calls.

A :class:`Tool` wraps a sync or async function. Its arguments become a msgspec
Struct type (one field per parameter, with the defaults), whose JSON schema,
made self-contained, is what the model sees; the docstring gives the tool's
description and each parameter's. :meth:`Tool.validate` turns a model's
arguments (a JSON string or a mapping) into checked keyword arguments, or
raises :class:`~lion.errors.ToolArgumentError`; :meth:`Tool.invoke` calls the
function with them. Each tool names the capability it needs: ``right`` on
``resource`` (``call`` on ``tool/<name>`` unless told otherwise).

Calling a tool on a model's behalf goes through the gate, which asks the IPU;
nothing here checks a capability.
"""

from __future__ import annotations

__all__ = ["MAX_ARGUMENT_BYTES", "Tool", "ToolLike", "ToolRegistry", "Trust", "as_tool", "tool"]

import contextlib
import copy
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import (
    Any,
    Final,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

import anyio.to_thread
import msgspec

from lion.errors import ToolArgumentError, ToolDefinitionError, UnknownToolError
from lion.kernel.patterns import is_resource
from lion.services._docstrings import parse_docstring
from lion.wire import dto

P = ParamSpec("P")
R = TypeVar("R")

Trust = Literal["trusted", "untrusted"]
"""Whether a tool's results are trusted content (for provenance labels)."""

MAX_ARGUMENT_BYTES: Final = 1 << 20
"""The longest argument text :meth:`Tool.validate` reads (1 MiB of UTF-8)."""

_NAME_RE: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_AT_RE: Final = re.compile(r"(?s)(.*?) - at `(\$[^`]*)`")
_KEY_AT_RE: Final = re.compile(r"(?s)(.*?) - at `key` in `(\$[^`]*)`")
_MISSING_RE: Final = re.compile(r"Object missing required field `(.*)`")
_UNKNOWN_RE: Final = re.compile(r"Object contains unknown field `(.*)`")
_MUTABLE: Final = (list, dict, set, bytearray)


def _show(text: str, limit: int = 80) -> str:
    """`text` for a message: cut to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        shown = _show(name) if isinstance(name, str) else repr(name)
        raise ToolDefinitionError(
            f"tool name `{shown}` is not valid: expected 1-64 of [a-zA-Z0-9_-] "
            "(pass `name=` to choose one)"
        )
    return name


def check_authority(name: str, resource: str | None, right: object, trust: object) -> str:
    """The resource a tool named `name` needs (default ``tool/<name>``), after checking it,
    its right and its trust; ToolDefinitionError naming what is wrong."""
    resource = f"tool/{name}" if resource is None else resource
    if not is_resource(resource):
        raise ToolDefinitionError(
            f"tool `{name}`: resource `{_show(str(resource))}` is not a resource "
            "path: expected `/`-separated non-empty segments without `*`, `.` or `..`"
        )
    if not isinstance(right, str) or not right.strip():
        raise ToolDefinitionError(f"tool `{name}`: right `{right!r}` must be a non-empty string")
    if trust not in ("trusted", "untrusted"):
        raise ToolDefinitionError(
            f"tool `{name}`: trust `{trust!r}` must be `trusted` or `untrusted`"
        )
    return resource


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - a callable object's async __call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


# ------------------------------------------------------------------ schema helpers


def _refs(node: object) -> set[str]:
    """The `$defs` names that `node` refers to."""
    if isinstance(node, dict):
        found = set()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found.add(ref[len("#/$defs/") :])
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _recursive(defs: dict[str, Any]) -> set[str]:
    """The definitions that can reach themselves (these cannot be inlined)."""
    edges = {name: _refs(body) for name, body in defs.items()}
    result = set()
    for start in defs:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            name = todo.pop()
            if name == start:
                result.add(start)
                break
            if name not in seen and name in edges:
                seen.add(name)
                todo.extend(edges[name])
    return result


def _self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `$ref` inlined, except those into recursive types.

    Those stay as `#/$defs/...` with the definitions they need at the top level.
    """
    defs: dict[str, Any] = schema.get("$defs", {})
    keep = _recursive(defs)
    used: set[str] = set()

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref[len("#/$defs/") :]
            if name not in keep:
                siblings = {k: inline(v) for k, v in node.items() if k != "$ref"}
                return {**inline(defs[name]), **siblings}
            used.add(name)
        return {k: inline(v) for k, v in node.items()}

    root = inline({k: v for k, v in schema.items() if k != "$defs"})
    root.pop("title", None)
    emitted: dict[str, Any] = {}
    while used - emitted.keys():
        name = min(used - emitted.keys())
        emitted[name] = inline(defs[name])
    if emitted:
        root["$defs"] = dict(sorted(emitted.items()))
    return root  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- Tool


class Tool(Generic[P, R]):
    """A Python function offered to a model as a tool.

    - `name`: the tool's name (default the function's), 1-64 of ``[a-zA-Z0-9_-]``
    - `description`: what the tool does (default the docstring's prose)
    - `resource`, `right`: the capability a call needs (default ``call`` on
      ``tool/<name>``); `resource` is a concrete resource path
    - `trust`: whether the tool's results are trusted content (default
      ``"untrusted"``: fail safe for provenance)
    - `side_effects`: whether a call changes the world (default True: fail
      safe); a plan (lion.services.plan) names the side-effecting tools a
      task may use, and tools without side effects stay usable
    - `blocking`: run a sync function in a worker thread (default); ``False``
      runs it inline on the event loop, for small fast functions

    Every parameter needs a type hint msgspec can decode; ``*args`` and
    ``**kwargs`` are refused. Calling the tool object calls the function
    directly, without validation or any kernel check.
    """

    __slots__ = (
        "_decoder",
        "_positional",
        "_schema",
        "_wire",
        "argument_type",
        "blocking",
        "description",
        "fn",
        "is_async",
        "name",
        "resource",
        "right",
        "side_effects",
        "trust",
    )

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        resource: str | None = None,
        right: str = "call",
        trust: Trust = "untrusted",
        side_effects: bool = True,
        blocking: bool = True,
    ) -> None:
        if not callable(fn):
            raise ToolDefinitionError(f"a tool needs a callable, got `{type(fn).__name__}`")
        named = fn.func if isinstance(fn, functools.partial) else fn  # a partial's own doc is noise
        if name is None:
            name = getattr(named, "__name__", None) or type(named).__name__
        self.name: str = _check_name(name)
        self.resource: str = check_authority(self.name, resource, right, trust)
        self.fn: Callable[P, R] = fn
        self.right: str = right
        self.trust: Trust = trust
        self.side_effects: bool = bool(side_effects)
        self.blocking: bool = blocking
        self.is_async: bool = _is_async(fn)
        doc = parse_docstring(inspect.getdoc(named))
        self.description: str = doc.description if description is None else description
        self.argument_type: type[msgspec.Struct]
        self.argument_type, self._positional = self._struct(fn)
        self._schema = self._make_schema(doc.params)
        self._decoder = msgspec.json.Decoder(self.argument_type, strict=True)
        self._wire: tuple[tuple[str, str], dto.Tool] | None = None

    # ---------------------------------------------------------------- definition

    def _struct(self, fn: Callable[..., Any]) -> tuple[type[msgspec.Struct], tuple[str, ...]]:
        """The Struct type of the arguments (one field per parameter, with its default),
        and the names of the positional-only parameters."""
        try:
            signature = inspect.signature(fn, eval_str=True)
        except (NameError, TypeError, SyntaxError) as exc:
            raise ToolDefinitionError(
                f"tool `{self.name}`: cannot read the signature and type hints: {exc}"
            ) from exc
        except ValueError as exc:
            raise ToolDefinitionError(f"tool `{self.name}`: no signature: {exc}") from exc
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        # keywords a partial fixed stay fixed: the model neither sees nor sets them
        fixed = set(fn.keywords) if isinstance(fn, functools.partial) else set()
        for param in signature.parameters.values():
            if param.name in fixed:
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                star = "*" if param.kind is param.VAR_POSITIONAL else "**"
                raise ToolDefinitionError(
                    f"tool `{self.name}`: parameter `{star}{param.name}` is not allowed: "
                    "a tool's arguments must be named"
                )
            if param.annotation is param.empty:
                raise ToolDefinitionError(
                    f"tool `{self.name}`: parameter `{param.name}` has no type hint "
                    "(the schema is built from the hints)"
                )
            if param.default is param.empty:
                fields.append((param.name, param.annotation))
            elif isinstance(param.default, _MUTABLE) and param.default:
                factory = functools.partial(copy.deepcopy, param.default)
                fields.append(
                    (param.name, param.annotation, msgspec.field(default_factory=factory))
                )
            else:
                fields.append((param.name, param.annotation, param.default))
        positional = tuple(
            p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_ONLY
        )
        try:
            struct = msgspec.defstruct(self.name, fields, kw_only=True, forbid_unknown_fields=True)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"tool `{self.name}`: {exc}") from exc
        return struct, positional

    def _make_schema(self, descriptions: Mapping[str, str]) -> dict[str, Any]:
        try:
            raw = msgspec.json.schema(self.argument_type)
            msgspec.json.Decoder(self.argument_type)
        except (TypeError, ValueError) as exc:
            raise self._unsupported(exc) from exc
        schema = _self_contained(raw)
        props = schema.get("properties", {})
        for info in msgspec.structs.fields(self.argument_type):
            prop = props[info.encode_name]
            if info.default_factory is not msgspec.NODEFAULT and "default" not in prop:
                with contextlib.suppress(TypeError, ValueError):  # msgspec omits these
                    prop["default"] = msgspec.to_builtins(info.default_factory())
            text = descriptions.get(info.name)
            if text and "description" not in prop:
                prop["description"] = text
        return schema

    def _unsupported(self, exc: Exception) -> ToolDefinitionError:
        """The error for a type msgspec refuses, naming the parameter when one is at fault."""
        hints = self.argument_type.__annotations__
        for field_name in self.argument_type.__struct_fields__:
            probe = msgspec.defstruct("probe", [(field_name, hints[field_name])])
            try:
                msgspec.json.schema(probe)
                msgspec.json.Decoder(probe)
            except (TypeError, ValueError) as inner:
                first = str(inner).splitlines()[0]
                return ToolDefinitionError(
                    f"tool `{self.name}`: parameter `{field_name}` has a type msgspec cannot "
                    f"decode from JSON: {first}"
                )
        return ToolDefinitionError(f"tool `{self.name}`: {str(exc).splitlines()[0]}")

    # -------------------------------------------------------------------- views

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a fresh copy; no `$ref` except recursive types)."""
        return copy.deepcopy(self._schema)

    def to_wire(self) -> dto.Tool:
        """The tool as the chat-completion request carries it (made once, shared by requests)."""
        cached = self._wire
        if cached is not None and cached[0] == (self.name, self.description):
            return cached[1]
        wire = dto.Tool.of(self.name, parameters=self.schema, description=self.description or None)
        self._wire = ((self.name, self.description), wire)
        return wire

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, right={self.right!r}, resource={self.resource!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    # --------------------------------------------------------------- validation

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """The checked keyword arguments of a call, every parameter included.

        `arguments` is the JSON text a model sent (an empty text means no
        arguments) or a mapping. No value is coerced across types (``"3"`` is
        not an int). Raises :class:`ToolArgumentError` naming the argument path.
        """
        try:
            if isinstance(arguments, (str, bytes, bytearray, memoryview)):
                value = self._decode(arguments)
            elif isinstance(arguments, Mapping):
                value = msgspec.convert(dict(arguments), self.argument_type, strict=True)
            else:
                raise self._error(
                    "$", f"expected a JSON text or a mapping, got `{type(arguments).__name__}`"
                )
        except msgspec.ValidationError as exc:
            raise self._translate(str(exc)) from None
        except msgspec.DecodeError as exc:
            detail = str(exc).removeprefix("JSON is ")
            raise self._error("$", f"not valid JSON: {detail}") from None
        except RecursionError:
            raise self._error("$", "nested too deeply") from None
        return msgspec.structs.asdict(value)

    def _decode(self, arguments: str | bytes | bytearray | memoryview) -> msgspec.Struct:
        if isinstance(arguments, str):
            if len(arguments) > MAX_ARGUMENT_BYTES:
                raise self._too_long(len(arguments.encode("utf-8", "surrogatepass")))
            try:
                raw = arguments.encode("utf-8")
            except UnicodeEncodeError:
                raise self._error("$", "not valid UTF-8 text (a lone surrogate)") from None
        else:
            raw = bytes(arguments)
        if len(raw) > MAX_ARGUMENT_BYTES:
            raise self._too_long(len(raw))
        if not raw.strip():
            raw = b"{}"
        return self._decoder.decode(raw)

    def _too_long(self, size: int) -> ToolArgumentError:
        return self._error(
            "$", f"{size} bytes of text, over the limit of {MAX_ARGUMENT_BYTES} bytes"
        )

    def _error(self, path: str, detail: str) -> ToolArgumentError:
        where = "invalid arguments" if path == "$" else f"argument `{path}`"
        return ToolArgumentError(
            f"tool `{self.name}`: {where}: {detail}", tool=self.name, path=path
        )

    def _translate(self, message: str) -> ToolArgumentError:
        """A msgspec validation message, reworded with the tool's name and the full path."""
        path = "$"
        if match := _KEY_AT_RE.fullmatch(message):
            message, path = (
                f"object key: {match.group(1)[:1].lower()}{match.group(1)[1:]}",
                match.group(2),
            )
        elif match := _AT_RE.fullmatch(message):
            message, path = match.group(1), match.group(2)
        if match := _MISSING_RE.fullmatch(message):
            return self._error(f"{path}.{match.group(1)}", "required but missing")
        if match := _UNKNOWN_RE.fullmatch(message):
            what = "unknown argument" if path == "$" else "unknown field"
            return self._error(f"{path}.{_show(match.group(1))}", what)
        return self._error(path, message[:1].lower() + message[1:])

    # --------------------------------------------------------------- invocation

    async def invoke(self, arguments: Mapping[str, Any]) -> Any:
        """Call the function with validated `arguments` and return its result.

        Async functions are awaited; sync ones run in a worker thread unless
        ``blocking=False``. An awaitable result is awaited. Exceptions propagate.
        """
        positional = [arguments[n] for n in self._positional if n in arguments]
        named = {k: v for k, v in arguments.items() if k not in self._positional}
        fn: Callable[..., Any] = self.fn
        if self.is_async:
            result = await fn(*positional, **named)
        elif self.blocking:
            result = await anyio.to_thread.run_sync(functools.partial(fn, *positional, **named))
        else:
            result = fn(*positional, **named)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    fn: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    resource: str | None = None,
    right: str = "call",
    trust: Trust = "untrusted",
    side_effects: bool = True,
    blocking: bool = True,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    resource: str | None = None,
    right: str = "call",
    trust: Trust = "untrusted",
    side_effects: bool = True,
    blocking: bool = True,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a :class:`Tool`: ``@tool`` or ``@tool(name=..., resource=...)``."""

    def wrap(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            f,
            name=name,
            description=description,
            resource=resource,
            right=right,
            trust=trust,
            side_effects=side_effects,
            blocking=blocking,
        )

    return wrap if fn is None else wrap(fn)


# ------------------------------------------------------------------------ registry


@runtime_checkable
class ToolLike(Protocol):
    """What a branch needs from a tool: :class:`Tool` fits, and so does a tool that is
    not a Python function (an MCP server's tool, see :mod:`lion.services.mcp`)."""

    name: str
    description: str
    resource: str
    right: str
    trust: Trust

    @property
    def schema(self) -> dict[str, Any]: ...

    def to_wire(self) -> dto.Tool: ...

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]: ...

    async def invoke(self, arguments: Mapping[str, Any]) -> Any: ...


def as_tool(item: ToolLike | Callable[..., Any]) -> ToolLike:
    """`item` if it is a tool already, else ``Tool(item)`` (a plain function)."""
    if isinstance(item, Tool | ToolLike):
        return item
    return Tool(item)


class ToolRegistry(Mapping[str, ToolLike]):
    """Tools by name, in registration order; a name is registered once."""

    __slots__ = ("_tools",)

    def __init__(self, tools: Iterable[ToolLike | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, ToolLike] = {}
        for item in tools:
            self.register(item)

    def register(self, item: ToolLike | Callable[..., Any], /) -> ToolLike:
        """Add a tool (a plain function becomes ``Tool(fn)``); returns it."""
        new = as_tool(item)
        if new.name in self._tools:
            raise ToolDefinitionError(f"a tool named `{new.name}` is already registered")
        self._tools[new.name] = new
        return new

    def __getitem__(self, name: str) -> ToolLike:
        try:
            return self._tools[name]
        except (KeyError, TypeError):
            known = ", ".join(f"`{n}`" for n in self._tools) or "none"
            shown = _show(name) if isinstance(name, str) else repr(name)
            raise UnknownToolError(f"unknown tool `{shown}`; known tools: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._tools)!r})"

    def to_wire(self) -> list[dto.Tool]:
        """Every tool as the request carries it, in registration order."""
        return [t.to_wire() for t in self._tools.values()]

    def resolve(self, call: dto.ToolCall) -> tuple[ToolLike, dict[str, Any]]:
        """The tool a model's call names and its validated arguments."""
        found = self[call.function.name]
        return found, found.validate(call.function.arguments)
