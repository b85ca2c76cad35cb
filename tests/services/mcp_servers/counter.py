"""A small fastmcp server for the MCP tests: stdio by default, `--http PORT` for streamable HTTP.

Every tool call appends the tool's name to the file named by `MCP_CALL_LOG`, so a
test can see which calls reached the server (even after the server died).
"""

from __future__ import annotations

import os
import sys

import anyio
from fastmcp import FastMCP
from fastmcp.utilities.types import Image

server = FastMCP("counter")


def _record(name: str) -> None:
    path = os.environ.get("MCP_CALL_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(name + "\n")


@server.tool
def add(a: int, b: int = 0) -> int:
    """Add two numbers."""
    _record("add")
    return a + b


@server.tool
def delete(path: str) -> str:
    """Delete a file (it only says so)."""
    _record("delete")
    return f"deleted {path}"


@server.tool
def info(name: str, tags: list[str] = []) -> dict[str, object]:  # noqa: B006 - never mutated
    """Describe something: structured content."""
    _record("info")
    return {"name": name, "tags": tags}


@server.tool
def picture() -> list:  # type: ignore[type-arg]  # `list[object]` would ask for an output schema
    """Text and an image: two content blocks."""
    _record("picture")
    return ["a red dot", Image(data=b"\x89PNG\r\n\x1a\n", format="png")]


@server.tool
def fail(reason: str) -> str:
    """Always fails."""
    _record("fail")
    raise ValueError(reason)


@server.tool
def crash() -> str:
    """The server process exits in the middle of the call."""
    _record("crash")
    os._exit(3)


@server.tool
async def hang() -> str:
    """Never answers."""
    _record("hang")
    await anyio.sleep(3600)
    return "too late"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run(
            transport="http",
            host="127.0.0.1",
            port=int(sys.argv[2]),
            show_banner=False,
            log_level="warning",
        )
    else:
        server.run(show_banner=False, log_level="warning")
