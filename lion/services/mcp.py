"""The tools of an MCP server as LION tools, each call passing the gate like any other.

:class:`MCPToolset` connects to a server through the ``fastmcp`` client (a
stdio subprocess, or a streamable HTTP URL), lists its tools and makes each an
:class:`MCPTool`: a :class:`~lion.services.tools.ToolLike` whose schema is the
server's ``inputSchema``, whose arguments are checked against it (with
``jsonschema``) before the gate is asked, and whose ``invoke`` sends
``tools/call``. A branch holds MCP tools exactly as it holds Python ones, so
every call is an effect (``call`` on ``tool/<name>`` by default) that the
capability, the policy and the invariants decide, recorded as an Observation.

```python
async with MCPToolset(Path("server.py")) as tools:
    branch = session.new_branch(tools=tools)
    answer = await branch.operate("What is 2 + 3?")
```

The connection lives as long as the ``async with`` block; leaving it ends the
server process (stdio) or the HTTP session. A call that gets no answer within
`timeout` seconds, or whose connection dropped, fails with
:class:`MCPConnectionError`; a call the server answers with an error fails
with :class:`MCPToolError`. The gate turns either into a failed tool call the
model is told about. The client offers no sampling or elicitation handler: a
server cannot reach the model except through its tools' results.
"""

from __future__ import annotations

import builtins
import copy
import os
import re
import shlex
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, overload

import anyio
import msgspec

from lion.errors import (
    MCPConnectionError,
    MCPError,
    MCPToolError,
    ServiceError,
    ToolDefinitionError,
)
from lion.services._json_arguments import JSONArguments
from lion.services.tools import Trust, check_authority
from lion.wire import dto

if TYPE_CHECKING:
    from types import TracebackType

    from fastmcp import Client
    from fastmcp.client.transports import ClientTransport

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MCPConnectionError",
    "MCPError",
    "MCPResult",
    "MCPTool",
    "MCPToolError",
    "MCPToolset",
]

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds a tool call may take before it fails (``timeout=``)."""

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
"""Seconds to connect and list the tools (``connect_timeout=``)."""

_GRACE: Final = 5.0  # the client's own timeout fires first; this catches a client that hangs
_NAME_RE: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_CONNECTION_CLOSED: Final = -32000  # JSON-RPC codes the MCP SDK uses for its own failures
_REQUEST_TIMEOUT: Final = -32001


def _show(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -------------------------------------------------------------------------- results


class MCPResult(str):
    """What an MCP tool returned: the text the model is shown (this string itself),
    `structured` (the result's ``structuredContent``, or None) and `blocks` (every
    content block, as JSON values).

    The text joins the text blocks with newlines; other blocks appear as a short
    ``[image image/png]``-style note; with no block at all, it is the structured
    content as JSON.
    """

    structured: dict[str, Any] | None
    blocks: tuple[dict[str, Any], ...]

    def __new__(
        cls,
        text: str,
        structured: dict[str, Any] | None = None,
        blocks: Sequence[dict[str, Any]] = (),
    ) -> MCPResult:
        self = super().__new__(cls, text)
        self.structured = structured
        self.blocks = tuple(blocks)
        return self


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource":
        resource = block.get("resource") or {}
        if "text" in resource:
            return str(resource["text"])
        return f"[resource {resource.get('uri', '')} {resource.get('mimeType', '')}]".strip()
    if kind == "resource_link":
        return f"[resource link {block.get('uri', '')}]"
    return f"[{kind} {block.get('mimeType', '')}]".replace(" ]", "]")


def _result(content: Sequence[Any], structured: dict[str, Any] | None) -> MCPResult:
    blocks = [
        b.model_dump(mode="json", by_alias=True, exclude_none=True)
        if hasattr(b, "model_dump")
        # a plain mapping (a test double, or a transport that hands over JSON)
        else dict(b)
        for b in content
    ]
    if blocks:
        text = "\n".join(_block_text(b) for b in blocks)
    elif structured is not None:
        text = msgspec.json.encode(structured).decode()
    else:
        text = ""
    return MCPResult(text, structured, blocks)


# ---------------------------------------------------------------------------- tools


class MCPTool:
    """One tool of an MCP server, offered to a model like a :class:`~lion.services.tools.Tool`.

    - `name`: the name the model and the policy see (``Action::"<name>"``);
      `mcp_name` is the server's own name for the tool
    - `schema`: the server's ``inputSchema`` (a JSON schema with ``type: object``
      at the root), checked when the tool is made: a malformed schema, or one
      that refers to another document, is a ToolDefinitionError
    - `resource`, `right`, `trust`: as for Tool (default ``call`` on ``tool/<name>``)
    - `call`: the coroutine that sends the call, ``call(mcp_name, arguments)``
      (an open MCPToolset provides it)
    """

    __slots__ = (
        "_arguments",
        "_call",
        "annotations",
        "description",
        "mcp_name",
        "name",
        "output_schema",
        "resource",
        "right",
        "trust",
    )

    def __init__(
        self,
        name: str,
        schema: Mapping[str, Any],
        *,
        call: Callable[[str, dict[str, Any]], Awaitable[MCPResult]],
        mcp_name: str | None = None,
        description: str = "",
        resource: str | None = None,
        right: str = "call",
        trust: Trust = "untrusted",
        output_schema: Mapping[str, Any] | None = None,
        annotations: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ToolDefinitionError(
                f"MCP tool name `{_show(str(name), 80)}` is not valid: expected 1-64 of "
                "[a-zA-Z0-9_-] (rename it with `names={...}` or choose a `prefix`)"
            )
        self.name: str = name
        self.mcp_name: str = name if mcp_name is None else mcp_name
        self.description: str = description or ""
        self.resource: str = check_authority(name, resource, right, trust)
        self.right: str = right
        self.trust: Trust = trust
        self.output_schema = copy.deepcopy(dict(output_schema)) if output_schema else None
        self.annotations = dict(annotations) if annotations else {}
        self._arguments = JSONArguments(name, schema)
        self._call = call

    # -------------------------------------------------------------------- views

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as the server gave it (a fresh copy)."""
        return self._arguments.schema

    def to_wire(self) -> dto.Tool:
        """The tool as the chat-completion request carries it."""
        return dto.Tool.of(self.name, parameters=self.schema, description=self.description or None)

    def __repr__(self) -> str:
        return (
            f"MCPTool(name={self.name!r}, mcp_name={self.mcp_name!r}, right={self.right!r}, "
            f"resource={self.resource!r})"
        )

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """The checked arguments of a call, with the schema's top-level defaults filled in.

        `arguments` is the JSON text a model sent (empty means none) or a mapping
        of JSON values. What is checked is exactly what will be sent (a mapping
        goes through JSON first). Raises ToolArgumentError naming the path.
        """
        return self._arguments.validate(arguments)

    # --------------------------------------------------------------- invocation

    async def invoke(self, arguments: Mapping[str, Any]) -> MCPResult:
        """Send the call to the server; its result, or MCPToolError / MCPConnectionError."""
        return await self._call(self.mcp_name, dict(arguments))


# -------------------------------------------------------------------------- toolset


def _transport(
    target: Any, env: Mapping[str, str] | None, cwd: str | Path | None, stderr: Path | None
) -> ClientTransport | Any:
    """What fastmcp's Client is given: stdio transports we build end the process with us."""
    try:
        from fastmcp.client.transports import (
            ClientTransport,
            NodeStdioTransport,
            PythonStdioTransport,
            StdioTransport,
        )
    except ImportError as exc:  # pragma: no cover - the extra is part of dev
        raise ServiceError("MCP tools need the fastmcp client: pip install 'lion[mcp]'") from exc

    options: dict[str, Any] = {
        "env": dict(env) if env is not None else None,
        "cwd": str(cwd) if cwd is not None else None,
        "keep_alive": False,
        "log_file": stderr,
    }
    if isinstance(target, ClientTransport):
        return target
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        return target  # streamable HTTP (or SSE for a URL ending in /sse)
    if isinstance(target, str):
        argv = shlex.split(target)
        if len(argv) == 1 and argv[0].endswith((".py", ".js")) and Path(argv[0]).is_file():
            target = Path(argv[0])
        else:
            target = argv
    if isinstance(target, Path):
        if target.suffix == ".py":
            return PythonStdioTransport(target, **options)
        if target.suffix == ".js":
            return NodeStdioTransport(target, **options)
        raise ServiceError(f"MCP server script `{target}`: expected a .py or .js file")
    if isinstance(target, Sequence) and not isinstance(target, str | bytes):
        argv = [str(a) for a in target]
        if not argv:
            raise ServiceError("MCP server command is empty")
        return StdioTransport(argv[0], argv[1:], **options)
    return target  # a FastMCP server object (in memory) or an MCP config mapping


class MCPToolset(Sequence[MCPTool]):
    """The tools of one MCP server, connected for the length of an ``async with`` block.

    `target` is what to connect to: an ``http(s)://`` URL (streamable HTTP), a
    command line (``"python server.py"``, or its argv as a list) or a script
    `Path` (stdio: the toolset starts the process and ends it on exit), or
    anything fastmcp's ``Client`` accepts (a transport, a FastMCP server object).

    - `prefix`: put before every tool name (``prefix="fs_"`` makes ``read`` ``fs_read``)
    - `include`: load only these tools (the server's names); the others are not offered
    - `names`: rename tools, server name -> LION name (before `prefix`)
    - `resource`: the resource a call needs, ``{name}`` standing for the tool's
      LION name (default ``tool/{name}``; ``mcp/files`` puts every tool on one)
    - `right`, `trust`: as for Tool (default ``call``, ``untrusted``)
    - `timeout`: seconds a call may take; `connect_timeout`: to connect and list
    - `env`, `cwd`: for a stdio server process; `stderr`: a file for its stderr
      (default this process's stderr, or nowhere if that has no file descriptor)

    The toolset is a sequence of :class:`MCPTool` (``session.new_branch(tools=toolset)``);
    ``toolset.get(name)`` finds one by its LION name.
    """

    def __init__(
        self,
        target: Any,
        *,
        prefix: str = "",
        include: Iterable[str] | None = None,
        names: Mapping[str, str] | None = None,
        resource: str = "tool/{name}",
        right: str = "call",
        trust: Trust = "untrusted",
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stderr: Path | None = None,
    ) -> None:
        for what, seconds in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ServiceError(f"{what} must be a positive number of seconds, got {seconds!r}")
        self.target = target
        self.server: str = str(target)
        self.prefix = prefix
        self.include = None if include is None else frozenset(include)
        self.names = dict(names or {})
        self.resource = resource
        self.right = right
        self.trust: Trust = trust
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self._transport = _transport(target, env, cwd, stderr)
        self._client: Client[Any] | None = None
        self._tools: list[MCPTool] = []
        self._lost = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> MCPToolset:
        if self._client is not None:
            raise ServiceError(f"the MCP toolset for `{self.server}` is already open")
        from fastmcp import Client  # present: the constructor needed it

        _route_stderr(self._transport)
        client = Client(self._transport, timeout=self.timeout, init_timeout=self.connect_timeout)
        try:
            with anyio.fail_after(self.connect_timeout + _GRACE):
                await client.__aenter__()  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise MCPConnectionError(
                f"could not connect to the MCP server `{self.server}`: {_describe(exc)}",
                server=self.server,
            ) from exc
        self._client, self._lost = client, False
        if client.server_info is not None and client.server_info.name:
            self.server = client.server_info.name
        try:
            with anyio.fail_after(self.connect_timeout):
                listed = await client.list_tools()
            self._tools = self._make_tools(listed)
        except BaseException as exc:
            await self.aclose(suppress=True)
            if isinstance(exc, Exception) and not isinstance(exc, ToolDefinitionError):
                raise MCPConnectionError(
                    f"could not list the tools of the MCP server `{self.server}`: {_describe(exc)}",
                    server=self.server,
                ) from exc
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # an error leaving the block wins over one closing a connection
        await self.aclose(suppress=exc is not None)

    async def aclose(self, *, suppress: bool = False) -> None:
        """Close the connection (ending a stdio server); the tools then fail if called.

        Closing a connection that already dropped is quiet; any other failure to
        close raises MCPConnectionError unless `suppress`.
        """
        client, self._client = self._client, None
        if client is None:
            return
        try:
            with anyio.fail_after(self.connect_timeout + _GRACE):
                await client.__aexit__(None, None, None)  # type: ignore[no-untyped-call]
        except Exception as exc:
            if not (suppress or self._lost):
                raise MCPConnectionError(
                    f"closing the connection to the MCP server `{self.server}` failed: "
                    f"{_describe(exc)}",
                    server=self.server,
                ) from exc

    def _make_tools(self, listed: Sequence[Any]) -> list[MCPTool]:
        tools: list[MCPTool] = []
        seen: set[str] = set()
        for definition in listed:
            mcp_name = str(definition.name)
            if self.include is not None and mcp_name not in self.include:
                continue
            name = self.prefix + self.names.get(mcp_name, mcp_name)
            if name in seen:
                raise ToolDefinitionError(
                    f"MCP server `{self.server}`: two tools would be named `{name}`"
                )
            seen.add(name)
            annotations = getattr(definition, "annotations", None)
            try:
                made = MCPTool(
                    name,
                    definition.input_schema,
                    call=self._call,
                    mcp_name=mcp_name,
                    description=definition.description or "",
                    resource=self.resource.replace("{name}", name),
                    right=self.right,
                    trust=self.trust,
                    output_schema=definition.output_schema,
                    annotations=(
                        annotations.model_dump(exclude_none=True) if annotations else None
                    ),
                )
            except ToolDefinitionError as exc:
                raise ToolDefinitionError(f"MCP server `{self.server}`: {exc}") from None
            tools.append(made)
        missing = sorted((self.include or set()) - {t.mcp_name for t in tools})
        if missing:
            offered = ", ".join(f"`{d.name}`" for d in listed) or "none"
            raise ToolDefinitionError(
                f"MCP server `{self.server}` has no tool "
                + ", ".join(f"`{m}`" for m in missing)
                + f" (it offers {offered})"
            )
        return tools

    # ------------------------------------------------------------------- calling

    async def _call(self, mcp_name: str, arguments: dict[str, Any]) -> MCPResult:
        """`tools/call` on the server: the result, or MCPToolError / MCPConnectionError."""
        from mcp.shared.exceptions import MCPError as SDKError

        client = self._client
        where = f"MCP server `{self.server}`"
        if client is None:
            raise MCPConnectionError(
                f"{where} is not connected (use the tools inside `async with MCPToolset(...)`)",
                server=self.server,
                tool=mcp_name,
            )
        try:
            with anyio.fail_after(self.timeout + _GRACE):
                answer = await client.call_tool_mcp(mcp_name, arguments, timeout=self.timeout)
        except builtins.TimeoutError:
            raise self._no_answer(mcp_name) from None
        except SDKError as exc:
            if exc.code == _REQUEST_TIMEOUT:
                raise self._no_answer(mcp_name) from None
            if exc.code == _CONNECTION_CLOSED:
                self._lost = True
                raise MCPConnectionError(
                    f"the connection to the {where} closed (did the server exit?): {exc.message}",
                    server=self.server,
                    tool=mcp_name,
                ) from None
            raise MCPToolError(
                f"the {where} refused the call (JSON-RPC error {exc.code}): {_show(exc.message)}",
                server=self.server,
                tool=mcp_name,
            ) from None
        except Exception as exc:  # the transport broke (connection refused, reset, ...)
            self._lost = True
            raise MCPConnectionError(
                f"calling the {where} failed: {_describe(exc)}", server=self.server, tool=mcp_name
            ) from exc
        structured = answer.structured_content
        result = _result(answer.content, dict(structured) if structured is not None else None)
        if answer.is_error:
            raise MCPToolError(
                f"the {where} answered with an error: {_show(str(result)) or 'no detail'}",
                server=self.server,
                tool=mcp_name,
            )
        return result

    def _no_answer(self, mcp_name: str) -> MCPConnectionError:
        return MCPConnectionError(
            f"the MCP server `{self.server}` did not answer within {self.timeout:g}s",
            server=self.server,
            tool=mcp_name,
        )

    # ------------------------------------------------------------------ sequence

    @overload
    def __getitem__(self, index: int) -> MCPTool: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[MCPTool]: ...

    def __getitem__(self, index: int | slice) -> MCPTool | Sequence[MCPTool]:
        return self._tools[index]

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> MCPTool | None:
        """The tool with this LION name, or None."""
        return next((t for t in self._tools if t.name == name), None)

    @property
    def connected(self) -> bool:
        """Whether the toolset is open and its connection has not been seen to drop."""
        return self._client is not None and not self._lost

    def __repr__(self) -> str:
        state = "open" if self._client is not None else "closed"
        return f"MCPToolset({self.server!r}, {state}, tools={[t.name for t in self._tools]!r})"


def _route_stderr(transport: Any) -> None:
    """A stdio server's stderr goes to ours, which needs a file descriptor: without one
    (a notebook, captured output) the process could not start, so it goes nowhere."""
    from fastmcp.client.transports import StdioTransport

    if not isinstance(transport, StdioTransport) or transport.log_file is not None:
        return
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        transport.log_file = Path(os.devnull)


def _describe(exc: BaseException) -> str:
    """An exception (or the first of a group) as ``Type: message``."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {_show(text)}" if text else type(exc).__name__
