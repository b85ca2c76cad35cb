"""MCP tools: a real fastmcp server (stdio and streamable HTTP on 127.0.0.1), every call gated."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import runpy
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import cedarpy
import pytest

from lion.errors import ServiceError, ToolArgumentError, ToolDefinitionError
from lion.kernel.decision import Decision
from lion.kernel.observable import Effect
from lion.services import MCPToolset
from lion.services.branch import Branch
from lion.services.mcp import MCPConnectionError, MCPResult, MCPTool
from lion.services.messages import ActionResponse
from lion.services.models import ScriptedModel, call
from lion.services.schema import CedarSchema, cedar_schema
from lion.services.session import Session

SERVER = Path(__file__).parent / "mcp_servers" / "counter.py"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"
SLOW = 60  # seconds to start a server process: generous, for a loaded machine
KEY = b"mcp-test-key-0123456789abcdef-0123456789"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("small-adds") permit(principal, action == Action::"add", resource)
  when { context.arguments.a < 100 };
@id("info") permit(principal, action == Action::"info", resource)
  when { context.arguments has tags };
@id("fail") permit(principal, action == Action::"fail", resource);
@id("crash") permit(principal, action == Action::"crash", resource);
@id("hang") permit(principal, action == Action::"hang", resource);
@id("delete") permit(principal, action == Action::"delete", resource);
@id("no-delete") forbid(principal, action == Action::"delete", resource);
"""


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    """The file the server appends each call's tool name to (what reached it)."""
    return tmp_path / "calls.txt"


def reached(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def stdio(log: Path, **options: Any) -> MCPToolset:
    """A toolset on the counter server as a stdio subprocess (a command line, as users write it)."""
    command = shlex.join([sys.executable, str(SERVER)])
    return MCPToolset(command, env={"MCP_CALL_LOG": str(log)}, connect_timeout=SLOW, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server(calls: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The counter server over streamable HTTP on 127.0.0.1 (a free port), stopped after."""
    port = free_port()
    with (tmp_path / "server.err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, str(SERVER), "--http", str(port)],
            env={**os.environ, "MCP_CALL_LOG": str(calls)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the MCP server exited: {(tmp_path / 'server.err').read_text()}"
                )
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.kill()
        process.wait(10)


def session(script: Any, backend: str | None = None) -> Session:
    return Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend)


def counter_server() -> Any:
    """The same server object, loaded in this process (fastmcp's in-memory transport)."""
    spec = importlib.util.spec_from_file_location("mcp_counter_server", SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.server


@pytest.fixture
def memory(calls: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Toolsets on the counter server in this process: the real server and client, no
    subprocess (fast); `calls` still records what reached the server."""
    monkeypatch.setenv("MCP_CALL_LOG", str(calls))
    server = counter_server()
    return lambda **options: MCPToolset(server, **options)


def responses(branch: Branch) -> list[tuple[str, str, str]]:
    return [
        (m.function, m.outcome, m.content) for m in branch.messages if isinstance(m, ActionResponse)
    ]


def tool_decisions(s: Session) -> list[tuple[Effect, Decision]]:
    return [(o.effect, o.decision) for o in s.log if o.effect.action != "chat"]


# ------------------------------- gated calls (stdio, and the same server in memory)


def test_stdio_calls_pass_the_gate_and_only_permitted_ones_reach_the_server(calls: Path) -> None:
    s = session(
        [
            [
                call("add", {"a": 2, "b": 3}),
                call("delete", {"path": "/etc"}),
                call("add", {"a": 500}),
            ],
            "2 + 3 = 5; the rest was refused.",
        ]
    )

    async def main() -> str:
        async with stdio(calls) as tools:
            assert [t.name for t in tools] == [
                "add",
                "delete",
                "info",
                "picture",
                "fail",
                "crash",
                "hang",
            ]
            branch = s.new_branch("b1", tools=tools)
            answer = await branch.operate("Add 2 and 3, then clean up.")
            added, deleted, big = responses(branch)
            assert added == ("add", "done", "5")
            assert deleted[:2] == ("delete", "denied") and "no-delete" in deleted[2]
            assert big[:2] == ("add", "denied")  # `small-adds` does not hold: default deny
            return answer

    assert anyio.run(main) == "2 + 3 = 5; the rest was refused."
    assert reached(calls) == ["add"]  # the two denied calls never left the gate
    assert tool_decisions(s) == [
        (Effect("call", "tool/add"), Decision.PERMIT),
        (Effect("call", "tool/delete"), Decision.DENY),
        (Effect("call", "tool/add"), Decision.DENY),
    ]
    permitted = next(o for o in s.log if o.effect.resource == "tool/add")
    assert permitted.determining == ("small-adds",) and permitted.principal == "b1"
    # the model was offered the server's own schema
    offered = {t.function.name: t.function.parameters for t in s.model.requests[0].tools}  # type: ignore[attr-defined]
    assert offered["add"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "integer"}, "b": {"default": 0, "type": "integer"}},
        "required": ["a"],
    }


@pytest.mark.parametrize("backend", ["python", "rust"])
def test_a_call_no_capability_covers_is_denied_and_never_sent(
    calls: Path, memory: Any, backend: str
) -> None:
    s = session([call("info", {"name": "x"}), "no"], backend)

    async def main() -> None:
        async with memory() as tools:
            add = tools.get("add")
            assert add is not None
            granted = s.new_branch("b1", tools=[add])  # capabilities for chat and add only
            # the same principal, holding every tool but only b1's capabilities
            wide = Branch("b1", gate=s.gate, model=s.model, tools=tools, tokens=granted.tokens)
            await wide.operate("describe x")
            ((name, outcome, content),) = responses(wide)
            assert (name, outcome) == ("info", "denied")
            assert "capability" in content and "tool/info" in content

    anyio.run(main)
    assert reached(calls) == []
    ((effect, decision),) = tool_decisions(s)
    assert (effect, decision) == (Effect("call", "tool/info"), Decision.DENY)


def test_bad_arguments_are_refused_before_the_gate(calls: Path, memory: Any) -> None:
    s = session([[call("add", {"a": "2"}), call("add", {"a": 1, "c": 2}), call("add", "{}")], "ok"])

    async def main() -> None:
        async with memory() as tools:
            branch = s.new_branch("b1", tools=tools)
            await branch.operate("add")
            assert responses(branch) == [
                (
                    "add",
                    "invalid",
                    "error: invalid arguments: tool `add`: argument `$.a`: expected `integer`, "
                    "got `string`; nothing was done",
                ),
                (
                    "add",
                    "invalid",
                    "error: invalid arguments: tool `add`: argument `$.c`: unknown argument; "
                    "nothing was done",
                ),
                (
                    "add",
                    "invalid",
                    "error: invalid arguments: tool `add`: argument `$.a`: required but missing; "
                    "nothing was done",
                ),
            ]

    anyio.run(main)
    assert reached(calls) == []
    assert tool_decisions(s) == []  # nothing was asked for, so nothing was decided


def test_structured_results_are_kept_and_tool_errors_are_told_to_the_model(
    calls: Path, memory: Any
) -> None:
    s = session(["unused"])

    async def main() -> None:
        async with memory() as tools:
            branch = s.new_branch("b1", tools=tools)
            outcomes = await branch.act(
                [call("info", {"name": "lion"}), call("fail", {"reason": "disk full"})],
                strategy="concurrent",
            )
            info, fail = outcomes
            assert info.ok and isinstance(info.result, MCPResult)
            assert info.result.structured == {"name": "lion", "tags": []}
            assert info.content == '{"name":"lion","tags":[]}'
            assert info.result.blocks[0]["type"] == "text"
            assert fail.outcome.value == "failed"
            assert fail.content.startswith("error: tool `fail` failed: MCPToolError: ")
            assert "disk full" in fail.content

    anyio.run(main)
    assert sorted(reached(calls)) == ["fail", "info"]
    observed = {o.effect.resource: o for o in s.log if o.effect.action == "call"}
    # `info` is permitted only when the policy sees `tags`: the schema's default, filled in
    assert observed["tool/info"].decision is Decision.PERMIT
    assert observed["tool/info"].determining == ("info",)
    assert observed["tool/fail"].decision is Decision.PERMIT
    assert "perform failed" in observed["tool/fail"].reason


def test_a_server_that_dies_mid_run_is_a_clear_failure_not_a_hang(calls: Path) -> None:
    s = session([[call("crash", {}), call("add", {"a": 1})], "the server is gone"])

    async def main() -> None:
        async with stdio(calls) as tools:
            branch = s.new_branch("b1", tools=tools)
            with anyio.fail_after(20):  # the calls end; nothing waits for a dead server
                assert await branch.operate("crash it") == "the server is gone"
            (_, crash, crash_text), (_, add, add_text) = responses(branch)
            assert (crash, add) == ("failed", "failed")
            assert "MCPConnectionError" in crash_text and "did the server exit?" in crash_text
            assert "MCPConnectionError" in add_text
            assert not tools.connected
        # leaving the block after the server died is quiet

    anyio.run(main)
    assert reached(calls) == ["crash"]


def test_a_call_that_gets_no_answer_times_out_and_the_connection_stays_usable(
    calls: Path, memory: Any
) -> None:
    s = session(["unused"])

    async def main() -> None:
        async with memory(timeout=1) as tools:
            branch = s.new_branch("b1", tools=tools)
            started = time.monotonic()
            (hung,) = await branch.act([call("hang", {})])
            assert time.monotonic() - started < 5
            assert hung.outcome.value == "failed"
            assert "did not answer within 1s" in hung.content
            (added,) = await branch.act([call("add", {"a": 4, "b": 5})])
            assert added.content == "9"

    anyio.run(main)
    assert reached(calls) == ["hang", "add"]


# --------------------------------------------------------------- streamable HTTP server


def test_http_calls_pass_the_gate(calls: Path, http_server: tuple[str, Any]) -> None:
    url, _ = http_server
    s = session([[call("add", {"a": 20, "b": 22}), call("delete", {"path": "x"})], "42"])

    async def main() -> None:
        async with MCPToolset(url, include=["add", "delete"], connect_timeout=SLOW) as tools:
            assert tools.server == "counter"
            branch = s.new_branch("b1", tools=tools)
            assert await branch.operate("add") == "42"
            (_, add, add_text), (_, delete, _) = responses(branch)
            assert (add, add_text, delete) == ("done", "42", "denied")

    anyio.run(main)
    assert reached(calls) == ["add"]
    assert tool_decisions(s) == [
        (Effect("call", "tool/add"), Decision.PERMIT),
        (Effect("call", "tool/delete"), Decision.DENY),
    ]


def test_an_http_server_killed_mid_run_fails_the_call(
    calls: Path, http_server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = http_server
    s = session(["unused"])

    async def main() -> None:
        async with MCPToolset(url, timeout=3, connect_timeout=SLOW) as tools:
            branch = s.new_branch("b1", tools=tools)
            (first,) = await branch.act([call("add", {"a": 1})])
            assert first.content == "1"
            process.kill()
            process.wait(10)
            with anyio.fail_after(20):
                (second,) = await branch.act([call("add", {"a": 2})])
            assert second.outcome.value == "failed"
            assert "MCPConnectionError" in second.content
            assert not tools.connected
        # leaving the block after the server was killed is quiet

    anyio.run(main)
    assert reached(calls) == ["add"]


def test_connecting_to_nothing_is_a_clear_error() -> None:
    async def main(target: Any) -> None:
        async with MCPToolset(target, connect_timeout=3):
            raise AssertionError("connected to nothing")

    with pytest.raises(MCPConnectionError, match="could not connect to the MCP server"):
        anyio.run(main, f"http://127.0.0.1:{free_port()}/mcp")
    with pytest.raises(MCPConnectionError, match="could not connect"):
        anyio.run(main, [sys.executable, "-c", "import sys; sys.exit(2)"])


def test_the_guide_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = GUIDE.read_text().split("## Example", 1)[1].split("\n## ", 1)[0]
    server, agent = re.findall(r"```python\n(.*?)```", example, re.S)
    (tmp_path / "server.py").write_text(server)
    (tmp_path / "agent.py").write_text(agent)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LION_CAPABILITY_KEY", "mcp-guide-key-0123456789abcdef-0123456789")
    runpy.run_path("agent.py", run_name="__main__")
    assert capsys.readouterr().out.splitlines() == [
        "Your note says: buy milk. I was not allowed to delete it.",
        "chat model/scripted PERMIT",
        "call tool/read_note PERMIT",
        "call tool/delete_note DENY",
        "chat model/scripted PERMIT",
    ]


# ------------------------------------------------- toolset options (in-memory server)


def test_prefix_include_names_and_resource_shape_the_tools() -> None:
    server = counter_server()

    async def main() -> None:
        toolset = MCPToolset(
            server,
            prefix="c_",
            include=["add", "info"],
            names={"info": "describe"},
            resource="mcp/counter/{name}",
            trust="trusted",
        )
        async with toolset as tools:
            assert [(t.name, t.mcp_name, t.resource) for t in tools] == [
                ("c_add", "add", "mcp/counter/c_add"),
                ("c_describe", "info", "mcp/counter/c_describe"),
            ]
            described = tools.get("c_describe")
            assert described is not None and described.trust == "trusted"
            result = await described.invoke(described.validate({"name": "n"}))
            assert result.structured == {"name": "n", "tags": []}
            picture = tools.get("c_picture")
            assert picture is None  # not included
        with pytest.raises(MCPConnectionError, match="is not connected"):
            await described.invoke({"name": "n"})

    anyio.run(main)


def test_a_cedar_schema_types_the_policies_from_the_servers_schemas(memory: Any) -> None:
    async def main() -> CedarSchema:
        async with memory(include=["add", "info"]) as tools:
            return cedar_schema(tools)

    schema = anyio.run(main).schema

    def valid(policy: str) -> bool:
        return bool(cedarpy.validate_policies(policy, schema).validation_passed)

    assert valid(
        'permit(principal, action == Action::"add", resource) when { context.arguments.a < 100 };'
    )
    assert valid(
        'permit(principal, action == Action::"info", resource) when {'
        ' context.arguments has tags && context.arguments.tags.contains("x")'
        ' && context.arguments.name == "n" };'
    )
    assert not valid(
        'permit(principal, action == Action::"add", resource)'
        ' when { context.arguments.a == "two" };'
    )  # `a` is an integer
    assert not valid('permit(principal, action == Action::"delete", resource);')  # not loaded


def test_content_blocks_other_than_text_are_noted_and_kept(memory: Any) -> None:
    async def main() -> MCPResult:
        toolset: MCPToolset = memory(include=["picture"])
        async with toolset as tools:
            return await tools[0].invoke({})

    result = anyio.run(main)
    assert result == "a red dot\n[image image/png]"
    assert result.structured is None
    assert [(b["type"], b.get("mimeType")) for b in result.blocks] == [
        ("text", None),
        ("image", "image/png"),
    ]
    assert result.blocks[1]["data"]  # the image itself, base64


def test_asking_for_a_tool_the_server_lacks_is_refused() -> None:
    async def main() -> None:
        async with MCPToolset(counter_server(), include=["add", "nope"]):
            raise AssertionError("unreachable")

    with pytest.raises(ToolDefinitionError, match=r"has no tool `nope` \(it offers `add`"):
        anyio.run(main)


def test_a_server_name_that_cannot_be_a_tool_name_needs_a_new_name() -> None:
    from fastmcp import FastMCP

    server = FastMCP("files")

    @server.tool(name="files.read")
    def read(path: str) -> str:
        return f"read {path}"

    async def main(**options: Any) -> list[str]:
        async with MCPToolset(server, **options) as tools:
            return [t.name for t in tools]

    with pytest.raises(ToolDefinitionError, match=r"MCP server `files`: .*`files\.read` is not"):
        anyio.run(main)
    assert anyio.run(functools.partial(main, names={"files.read": "read_file"})) == ["read_file"]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ServiceError, match="timeout must be a positive number"):
        MCPToolset("http://127.0.0.1:1/mcp", timeout=0)
    with pytest.raises(ServiceError, match=r"expected a \.py or \.js file"):
        MCPToolset(Path("server.txt"))
    with pytest.raises(ServiceError, match="command is empty"):
        MCPToolset([])


# ------------------------------------------------------- schemas and validation alone


async def _echo(name: str, arguments: dict[str, Any]) -> MCPResult:
    return MCPResult(f"{name} {arguments}")


SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "items": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "mode": {"enum": ["fast", "slow"], "default": "fast"},
        "where": {
            "type": "object",
            "properties": {"x": {"type": ["number", "null"]}},
            "additionalProperties": False,
        },
    },
    "required": ["title"],
    "additionalProperties": False,
}


def tool(schema: dict[str, Any] = SCHEMA) -> MCPTool:
    return MCPTool("plan", schema, call=_echo)


def refused(arguments: Any) -> tuple[str, str]:
    with pytest.raises(ToolArgumentError) as info:
        tool().validate(arguments)
    assert info.value.tool == "plan"
    return info.value.path, str(info.value)


def test_valid_arguments_come_back_with_defaults_filled() -> None:
    assert tool().validate('{"title": "t", "items": [1, 2]}') == {
        "title": "t",
        "items": [1, 2],
        "mode": "fast",
    }
    assert tool().validate({"title": "t", "mode": "slow", "where": {"x": None}}) == {
        "title": "t",
        "mode": "slow",
        "where": {"x": None},
    }
    assert tool({"type": "object"}).validate("") == {}


@pytest.mark.parametrize(
    ("arguments", "path", "detail"),
    [
        ('{"items": []}', "$.title", "required but missing"),
        ('{"title": "t", "items": [1, -2]}', "$.items[1]", "-2 is less than the minimum of 0"),
        ('{"title": "t", "items": [true]}', "$.items[0]", "expected `integer`, got `boolean`"),
        ('{"title": 3}', "$.title", "expected `string`, got `integer`"),
        ('{"title": "t", "where": {"x": "1"}}', "$.where.x", "expected `number` or `null`"),
        ('{"title": "t", "where": {"y": 1}}', "$.where.y", "unknown field"),
        ('{"title": "t", "size": 1}', "$.size", "unknown argument"),
        ('{"title": "t", "mode": "medium"}', "$.mode", "'medium' is not one of"),
        ('{"title": ""}', "$.title", "should be non-empty"),
        ("[1]", "$", "invalid arguments: expected `object`, got `array`"),
        ('{"title": "t"', "$", "invalid arguments: not valid JSON"),
        ({"title": object()}, "$", "invalid arguments: not JSON values"),
        (42, "$", "expected a JSON text or a mapping, got `int`"),
    ],
)
def test_arguments_that_do_not_fit_name_the_path(arguments: Any, path: str, detail: str) -> None:
    where, message = refused(arguments)
    assert where == path
    assert message.startswith("tool `plan`: ")
    assert detail in message
    if path != "$":
        assert f"argument `{path}`" in message


def test_too_long_arguments_are_refused() -> None:
    _, message = refused('{"title": "' + "x" * (1 << 20) + '"}')
    assert "over the limit of 1048576 bytes" in message


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "array"}, "must have `type: object` at its root"),
        ({"properties": {}}, "must have `type: object` at its root"),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "refers to `https://example.com/a.json`, outside itself",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "integr"}}},
            "is not a valid JSON schema",
        ),
    ],
)
def test_a_schema_that_cannot_be_checked_is_refused(schema: dict[str, Any], problem: str) -> None:
    with pytest.raises(ToolDefinitionError, match="tool `plan`: .*" + problem.replace("`", ".")):
        tool(schema)


def test_names_and_resources_are_checked() -> None:
    with pytest.raises(ToolDefinitionError, match=r"name `files\.read` is not valid"):
        MCPTool("files.read", {"type": "object"}, call=_echo)
    with pytest.raises(ToolDefinitionError, match="is not a resource path"):
        MCPTool("read", {"type": "object"}, call=_echo, resource="tool/*")


def test_local_references_are_followed() -> None:
    schema = {
        "type": "object",
        "$defs": {"point": {"type": "object", "required": ["x"]}},
        "properties": {"at": {"$ref": "#/$defs/point"}},
    }
    with pytest.raises(ToolArgumentError, match=r"argument `\$\.at\.x`: required but missing"):
        tool(schema).validate({"at": {}})
    assert tool(schema).validate({"at": {"x": 1}}) == {"at": {"x": 1}}
    wire = tool(schema).to_wire()
    assert wire.function.name == "plan" and wire.function.parameters == schema
