"""An agent step: the model asks for one tool call, the tool runs, the model answers.

LION's `Branch.operate` passes every call through the kernel (two model calls
and one tool call, each a capability check, a policy decision, a ledger
reservation and an Observation), on each backend. Three settings:

1. In process: LION with a `ScriptedModel` against pydantic-ai's `Agent` with a
   `FunctionModel` playing the same script and the same tool, ungated; and the
   gate's own cost (the same step with a gate that performs without asking
   the IPU).
2. Over HTTP, against a scripted OpenAI-compatible server on 127.0.0.1
   (`benchmarks._scripted_server`, its own process), all clients in one event
   loop, each contender in turn for several rounds (the order rotating), the
   best round of each reported:

   * LION gated: ``ClientModel(ChatClient(OpenAI(base_url)), "scripted")`` in
     a `Session`, ``branch.operate("What is LION?")``.
   * lionagi 0.36, ungated: ``Branch(chat_model=iModel(provider="openai",
     base_url=..., model="scripted", requires_tokens=False,
     allow_local_network=True), tools=[search])`` and
     ``branch.ReAct(instruct={"instruction": ...}, extension_allowed=False,
     include_token_usage_to_model=False)``: its tool loop, one round with
     actions then the final answer (two model calls, one tool call). lionagi
     has no native tool calls: the tool schemas go in the prompt and the
     model answers JSON with ``action_requests``; the server speaks that
     dialect to it. ``requires_tokens=False`` and no token usage in the
     prompt, because otherwise lionagi counts tokens with tiktoken, which
     downloads its encoding (no network here; it only makes lionagi cheaper);
     ``allow_local_network`` lifts its SSRF guard for 127.0.0.1. The branch's
     log is not saved to ./data/logs at exit.
   * pydantic-ai, ungated: ``Agent(OpenAIChatModel("scripted",
     provider=OpenAIProvider(base_url=..., api_key=...)))`` with
     ``agent.tool_plain(search)``, ``await agent.run("What is LION?")``.
   * floors: a bare ``httpx.AsyncClient`` posting the step's two requests,
     and a raw socket doing the same (the server's own floor).

   Each contender's answer is checked every step, and after each round its
   transcript (the tool ran and returned ``found lion``) and the server's
   counters (exactly one tool-call answer and one final answer per step), so
   every contender did the same work. Target: LION gated at least 2x faster
   per step than either peer.
3. Against the real llama.cpp server (SmolLM2-135M, started as the wire tests
   start it), ``branch.operate(..., max_rounds=1,
   tool_choice=ToolChoice.named("search"))`` at temperature 0: the gate's
   share of the step's wall time. Gated and ungated steps (the ungated gate of
   setting 1) run in back-to-back pairs, the order alternating, and the share
   is the median paired difference over the median gated step, with the
   quartiles of the differences (the noise it sits in: a step takes about
   half a second, the gate well under a millisecond). So the time spent
   inside the gate but outside the model call is also timed directly in each
   gated step. Both branches must get the same answers.

Knobs: LION_BENCH_RUNTIME_ROUNDS (rounds over HTTP, default 20) and
LION_BENCH_LLAMA_PAIRS (gated/ungated pairs on llama.cpp, default 10).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import time
import typing
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio

from benchmarks import _scripted_server as scripted
from benchmarks._table import Row

STEPS = 300
ROUNDS = int(os.environ.get("LION_BENCH_RUNTIME_ROUNDS", "20"))
LLAMA_PAIRS = int(os.environ.get("LION_BENCH_LLAMA_PAIRS", "10"))
KEY = b"bench-runtime-" * 3
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("search") permit(principal, action == Action::"search", resource);
"""
QUESTION = "What is LION?"


def search(query: str) -> str:
    """Look something up.

    Args:
        query: what to look for
    """
    return f"found {query}"


# lionagi reads a tool's annotations as classes, not the strings `from __future__` leaves
search.__annotations__ = typing.get_type_hints(search)


# ------------------------------------------------------------------ 1. in process


def _lion_step_us(backend: str, *, gated: bool = True) -> float:
    from lion.domain import Pile
    from lion.services import ScriptedModel, Session, Tool, call
    from lion.services.messages import RoledMessage

    def script(messages: list[Any]) -> Any:
        return "done" if messages[-1].role == "tool" else call("search", {"query": "lion"})

    session = Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend)
    tool = Tool(search, blocking=False)
    branch = session.new_branch("agent", tools=[tool])
    if not gated:
        branch.gate = _Ungated(session.gate.ipu)  # type: ignore[assignment]

    async def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            branch.messages = Pile(item_type=RoledMessage)  # each step starts a conversation
            answer = await branch.operate(QUESTION)
            assert answer == "done"
        return time.perf_counter() - start

    anyio.run(steps, 20)  # warm up
    best = min(anyio.run(steps, STEPS) for _ in range(3))
    if gated:
        assert len(session.log) >= 3 * STEPS
    return best / STEPS * 1e6


class _Ungated:
    """The gate's interface without the IPU: only for measuring the gate's share."""

    labels_wanted = False  # no policy reads provenance, as on the gated side
    approvals = None
    meter = None

    def __init__(self, ipu: Any) -> None:
        self.ipu = ipu

    def reserve_batch(self, caller: Any, calls: int) -> None:
        return None

    async def call_model(self, caller: Any, model: Any, request: Any, **_: Any) -> Any:
        return await model.complete(request)

    async def call_tool(self, caller: Any, tool: Any, call: Any, **_: Any) -> Any:
        from lion.services.gate import Outcome, ToolOutcome

        arguments = tool.validate(call.function.arguments)
        result = await tool.invoke(arguments)
        return ToolOutcome(call, Outcome.DONE, str(result), result=result)


def _pydantic_ai_step_us() -> float:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def script(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("search", {"query": "lion"})])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(script))
    agent.tool_plain(search)

    async def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            result = await agent.run(QUESTION)
            assert result.output == "done"
        return time.perf_counter() - start

    anyio.run(steps, 20)
    return min(anyio.run(steps, STEPS) for _ in range(3)) / STEPS * 1e6


def _in_process() -> list[Row]:
    peer = _pydantic_ai_step_us()
    rows = []
    for backend in ("rust", "python"):
        rows.append(
            Row(
                f"agent step, one tool call, gated ({backend} kernel)",
                _lion_step_us(backend),
                "pydantic-ai FunctionModel",
                peer,
                ">= 2x",
            )
        )
    ungated = _lion_step_us("rust", gated=False)
    gated = _lion_step_us("rust")
    rows.append(
        Row(
            "the gate per effect (rust; 3 effects a step) vs the ungated step",
            (gated - ungated) / 3,
            "ungated step",
            ungated,
            "gate < 10 us",
        )
    )
    return rows


# ------------------------------------------------------------------ 2. over HTTP


@dataclass
class _Contender:
    """One client playing the step against the scripted server."""

    label: str
    steps: int  # per round: more for the fast ones, so each round takes a similar time
    step: Callable[[], Awaitable[None]]  # one step; asserts its answer
    check: Callable[[], None]  # the last step's transcript shows the tool call and its result
    dialect: str  # "native" or "structured": the server counters its steps move
    best_us: float = float("inf")


async def _lion_http(stack: AsyncExitStack, base_url: str, backend: str) -> _Contender:
    from lion.domain import Pile
    from lion.kernel.decision import Decision
    from lion.kernel.observable import Effect
    from lion.services import ClientModel, Session, Tool
    from lion.services.messages import ActionResponse, RoledMessage
    from lion.wire import ChatClient, OpenAI

    client = await stack.enter_async_context(ChatClient(OpenAI(base_url, api_key="bench")))
    model = ClientModel(client, scripted.MODEL)
    session = Session(policies=POLICIES, model=model, key=KEY, backend=backend)
    branch = session.new_branch("agent", tools=[Tool(search, blocking=False)])

    async def step() -> None:
        branch.messages = Pile(item_type=RoledMessage)
        answer = await branch.operate(QUESTION)
        assert answer == scripted.ANSWER, answer

    def check() -> None:
        chat = Effect("chat", f"model/{scripted.MODEL}")
        last = session.log.snapshot()[-3:]
        assert [o.decision for o in last] == [Decision.PERMIT] * 3, last
        assert [o.effects for o in last] == [(chat,), (Effect("call", "tool/search"),), (chat,)]
        (response,) = [m for m in branch.messages if isinstance(m, ActionResponse)]
        assert (response.outcome, response.content) == ("done", scripted.TOOL_OUTPUT)

    return _Contender(f"LION gated ({backend})", 60, step, check, "native")


async def _lionagi_http(base_url: str) -> _Contender:
    from lionagi import Branch, iModel
    from lionagi.protocols.messages import ActionResponse

    model = iModel(
        provider="openai",
        base_url=base_url,
        api_key="bench",
        model=scripted.MODEL,
        requires_tokens=False,
        allow_local_network=True,
    )
    branch = Branch(chat_model=model, tools=[search], log_config={"auto_save_on_exit": False})
    # lionagi's providers run logging.basicConfig(level=INFO) when imported (by iModel):
    # every request would be printed
    logging.getLogger().setLevel(logging.WARNING)

    async def step() -> None:
        branch.msgs.clear_messages()  # type: ignore[no-untyped-call]
        answer = await branch.ReAct(
            instruct={"instruction": QUESTION},
            extension_allowed=False,
            include_token_usage_to_model=False,
        )
        assert answer == scripted.ANSWER, answer

    def check() -> None:
        done = [
            (m.content.function, m.content.output)
            for m in branch.msgs.messages  # type: ignore[has-type]
            if isinstance(m, ActionResponse)
        ]
        assert done == [("search", scripted.TOOL_OUTPUT)], done

    return _Contender("lionagi 0.36 Branch.ReAct", 12, step, check, "structured")


async def _pydantic_ai_http(stack: AsyncExitStack, base_url: str) -> _Contender:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ToolReturnPart
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=base_url, api_key="bench")
    await stack.enter_async_context(provider.client)  # closed with the others
    agent = Agent(OpenAIChatModel(scripted.MODEL, provider=provider))
    agent.tool_plain(search)
    transcript: list[ModelMessage] = []

    async def step() -> None:
        result = await agent.run(QUESTION)
        assert result.output == scripted.ANSWER, result.output
        transcript[:] = result.all_messages()

    def check() -> None:
        returns = [
            (p.tool_name, p.content)
            for m in transcript
            for p in m.parts
            if isinstance(p, ToolReturnPart)
        ]
        assert returns == [("search", scripted.TOOL_OUTPUT)], returns

    return _Contender("pydantic-ai OpenAIChatModel", 12, step, check, "native")


def _step_bodies() -> list[bytes]:
    """The two requests of a native step, as LION sends them (tool offered both times)."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Look something up.",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string"}},
                    "required": ["query"],
                },
            },
        }
    ]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "search", "arguments": '{"query": "lion"}'},
    }
    first = [{"role": "user", "content": QUESTION}]
    second = [
        *first,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": scripted.TOOL_OUTPUT},
    ]
    return [
        json.dumps({"model": scripted.MODEL, "messages": m, "tools": tools}).encode()
        for m in (first, second)
    ]


async def _httpx_floor(stack: AsyncExitStack, base_url: str) -> _Contender:
    import httpx

    client = await stack.enter_async_context(httpx.AsyncClient())
    url = f"{base_url}/chat/completions"
    bodies = _step_bodies()
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}

    async def step() -> None:
        for body in bodies:
            answer = await client.post(url, content=body, headers=headers)
            answer.raise_for_status()
            answer.json()

    return _Contender("bare httpx, 2 POSTs + json", 60, step, lambda: None, "native")


def _socket_floor(stack: AsyncExitStack, port: int) -> _Contender:
    conn = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    requests = [
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        for body in _step_bodies()
    ]

    def exchange(request: bytes) -> None:
        conn.sendall(request)
        data = b""
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += conn.recv(65536)
        length = int(data[:end].lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(data) < end + 4 + length:
            data += conn.recv(65536)

    async def step() -> None:  # blocking on purpose: the floor has no event loop in it
        for request in requests:
            exchange(request)

    return _Contender("raw socket, 2 requests", 200, step, lambda: None, "native")


async def _race(server: scripted.ScriptedServer) -> dict[str, float]:
    """Every contender in turn for ROUNDS rounds; the best microseconds per step of each."""
    async with AsyncExitStack() as stack:
        contenders = [
            await _lion_http(stack, server.base_url, "rust"),
            await _lion_http(stack, server.base_url, "python"),
            await _lionagi_http(server.base_url),
            await _pydantic_ai_http(stack, server.base_url),
            await _httpx_floor(stack, server.base_url),
            _socket_floor(stack, server.port),
        ]
        for c in contenders:  # warm up: imports, connections, first-call caches
            for _ in range(5):
                await c.step()
            c.check()
        for r in range(ROUNDS):
            for c in contenders[r % len(contenders) :] + contenders[: r % len(contenders)]:
                before = server.stats()
                start = time.perf_counter()
                for _ in range(c.steps):
                    await c.step()
                c.best_us = min(c.best_us, (time.perf_counter() - start) / c.steps * 1e6)
                c.check()
                moved = server.stats() - before
                # one tool-call answer and one final answer per step, nothing else (no retries)
                wanted = {f"{c.dialect} tool call": c.steps, f"{c.dialect} answer": c.steps}
                assert dict(moved) == wanted, f"{c.label}: the server saw {dict(moved)}"
        return {c.label: c.best_us for c in contenders}


def _over_http() -> list[Row]:
    with scripted.ScriptedServer() as server:
        best = anyio.run(_race, server)
    rows = []
    for backend in ("rust", "python"):
        lion = best[f"LION gated ({backend})"]
        for peer in ("lionagi 0.36 Branch.ReAct", "pydantic-ai OpenAIChatModel"):
            rows.append(
                Row(
                    f"agent step over HTTP (scripted server), gated ({backend} kernel)",
                    lion,
                    peer,
                    best[peer],
                    ">= 2x",
                )
            )
    lion = best["LION gated (rust)"]
    for floor, target in (
        ("bare httpx, 2 POSTs + json", ""),
        ("raw socket, 2 requests", "server floor <= 0.10x"),
    ):
        rows.append(
            Row("agent step over HTTP, gated (rust) vs a floor", lion, floor, best[floor], target)
        )
    return rows


# ------------------------------------------------------------------ 3. llama.cpp


class _TimedGate:
    """The session's gate, timing how long each step spends inside it."""

    def __init__(self, gate: Any) -> None:
        self.gate = gate
        self.ipu = gate.ipu
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:  # the rest of the gate's interface, untimed
        return getattr(self.gate, name)

    async def call_model(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await self.gate.call_model(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    async def call_tool(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await self.gate.call_tool(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


class _TimedModel:
    """A model that counts the time spent in its own completions."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return str(self.model.name)

    async def complete(self, request: Any) -> Any:
        start = time.perf_counter()
        try:
            return await self.model.complete(request)
        finally:
            self.seconds += time.perf_counter() - start

    def stream(self, request: Any) -> Any:
        return self.model.stream(request)


def _on_llama() -> list[Row]:
    case = "llama.cpp step (SmolLM2-135M)"
    try:
        from tests.wire.servers import start_llama_server, stop_llama_server

        server = start_llama_server()
    except Exception as exc:  # benchmarks are not tests: say why and go on
        why = str(exc).splitlines()[0]
        return [Row(f"{case}: SKIPPED, {why}", float("nan"), "-", float("nan"))]
    try:
        pairs = anyio.run(_llama_pairs, server)
    finally:
        stop_llama_server(server)
    gated = statistics.median(p.gated for p in pairs)
    ungated = statistics.median(p.ungated for p in pairs)
    # each pair ran back to back, so their difference is less exposed to the load of the moment
    differences = [p.gated - p.ungated for p in pairs]
    extra = statistics.median(differences)
    low, _, high = statistics.quantiles(differences, n=4)  # the noise the share sits in
    inside = statistics.median(p.inside for p in pairs)
    return [
        Row(
            f"{case}: A/B gate share {extra / gated:+.2%} ({len(pairs)} pairs; paired difference "
            f"{extra / 1e3:+,.1f} ms, quartiles {low / 1e3:+,.1f}..{high / 1e3:+,.1f} ms)",
            gated,
            "same step, ungated gate",
            ungated,
        ),
        Row(
            f"{case}: inside the gate, outside the model: {inside / gated:.3%} of the step",
            inside,
            "the whole gated step",
            gated,
        ),
    ]


@dataclass
class _Pair:
    """One gated step and one ungated step run back to back, in microseconds."""

    gated: float
    ungated: float
    inside: float  # of the gated step: time in the gate, less the model's own


async def _llama_pairs(server: Any) -> list[_Pair]:
    from lion.domain import Pile
    from lion.services import ClientModel, Session, Tool
    from lion.services.messages import ActionResponse, RoledMessage
    from lion.wire import ChatClient, LlamaCpp, ToolChoice

    async with ChatClient(LlamaCpp(server.base_url, api_key=server.api_key)) as client:
        model = _TimedModel(ClientModel(client, server.model))
        session = Session(policies=POLICIES, model=model, key=KEY, backend="rust")
        options = {"temperature": 0.0, "seed": 1, "max_tokens": 16}
        tools = [Tool(search, blocking=False)]
        gated = session.new_branch("gated", tools=tools, options=options)
        timed = _TimedGate(session.gate)
        gated.gate = timed  # type: ignore[assignment]
        ungated = session.new_branch("ungated", tools=tools, options=options)
        ungated.gate = _Ungated(session.gate.ipu)  # type: ignore[assignment]
        seen: set[tuple[str, str]] = set()

        async def step(branch: Any) -> tuple[float, float]:
            branch.messages = Pile(item_type=RoledMessage)
            timed.seconds = model.seconds = 0.0
            start = time.perf_counter()
            # the model is tiny: the host names the tool, and one round is allowed
            answer = await branch.operate(
                "Search for LION.", max_rounds=1, tool_choice=ToolChoice.named("search")
            )
            wall = time.perf_counter() - start
            (response,) = [m for m in branch.messages if isinstance(m, ActionResponse)]
            assert response.outcome == "done", response.content  # the tool really ran
            seen.add((response.content, answer))
            return wall * 1e6, (timed.seconds - model.seconds) * 1e6

        await step(gated)  # warm up: the server's prompt cache, our connection
        await step(ungated)
        pairs = []
        for i in range(LLAMA_PAIRS):
            if i % 2:
                (u, _), (g, inside) = await step(ungated), await step(gated)
            else:
                (g, inside), (u, _) = await step(gated), await step(ungated)
            pairs.append(_Pair(g, u, inside))
        # greedy decoding: every step asked the same and got the same, gated or not
        assert len(seen) == 1, f"the llama steps differ: {seen}"
        return pairs


def run() -> list[Row]:
    return _in_process() + _over_http() + _on_llama()
