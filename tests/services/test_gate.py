"""The gate: tool and model calls become IPU effects, decided by a real policy on each backend."""

from __future__ import annotations

import enum
from typing import Any

import anyio
import pytest

from lion.errors import ToolArgumentError
from lion.kernel.backend import get_backend
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, EffectDenied, EffectRequest
from lion.kernel.observable import Effect
from lion.services.gate import Caller, Gate, Outcome, runtime_request
from lion.services.models import ScriptedModel, call
from lion.services.tools import Tool
from lion.wire.dto import ChatRequest, Message

KEY = b"gate-test-key-0123456789abcdef-0123456789"
POLICIES = """
@id("search-ok") permit(principal == Agent::"b1", action == Action::"search", resource);
@id("chat-ok") permit(principal, action == Action::"chat", resource == Model::"scripted");
@id("delete-asks") permit(principal, action == Action::"delete", resource)
  when { context.arguments.sure };
@id("explode-ok") permit(principal, action == Action::"explode", resource);
@id("never-secret") forbid(principal, action, resource)
  when { context has arguments && context.arguments has path
         && context.arguments.path == "secret" };
"""


def search(query: str, limit: int = 3) -> list[str]:
    """Search the corpus.

    Args:
        query: what to look for
        limit: at most this many hits
    """
    return [f"{query}-{i}" for i in range(limit)]


def delete(path: str, sure: bool) -> str:
    """Delete a file."""
    return f"deleted {path}"


def explode(path: str) -> str:
    """Always fails."""
    raise OSError(f"disk on fire near {path}")


@pytest.fixture(params=["python", "rust"])
def world(request: pytest.FixtureRequest) -> tuple[Gate, Caller, dict[str, Tool[..., Any]]]:
    backend = get_backend(str(request.param))
    authority = backend.authority(KEY, clock=lambda: 100)
    tools = {t.name: t for t in (Tool(search), Tool(delete), Tool(explode))}
    tokens = (
        authority.mint("b1", "tool/*", ["call"], 10_000),
        authority.mint("b1", "model/scripted", ["chat"], 10_000),
    )
    ipu = IPU(authority, backend.policy_set(POLICIES), request_adapter=runtime_request)
    return Gate(ipu), Caller("b1", tokens, session="s1"), tools


def run_tool(world: Any, name: str, arguments: Any) -> Any:
    gate, caller, tools = world
    return anyio.run(gate.call_tool, caller, tools.get(name), call(name, arguments, id="c1"))


def test_a_permitted_call_runs_and_is_recorded(world: Any) -> None:
    gate = world[0]
    outcome = run_tool(world, "search", {"query": "lion", "limit": 2})
    assert outcome.outcome is Outcome.DONE and outcome.ok
    assert outcome.result == ["lion-0", "lion-1"]
    assert outcome.content == '["lion-0","lion-1"]'
    obs = outcome.observation
    assert obs.decision is Decision.PERMIT and obs.effects == (Effect("call", "tool/search"),)
    assert obs.determining == ("search-ok",)
    assert gate.ipu.log.snapshot() == (obs,)


def test_the_policy_sees_the_tool_as_action_and_the_arguments_as_context(world: Any) -> None:
    request = EffectRequest(
        principal="b1",
        effect=Effect("call", "tool/delete"),
        context={"arguments": {"path": "a", "sure": True}, "session": "s1"},
    )
    assert runtime_request(request) == {
        "principal": {"type": "Agent", "id": "b1"},
        "action": {"type": "Action", "id": "delete"},
        "resource": {"type": "Tool", "id": "delete"},
        "context": {"arguments": {"path": "a", "sure": True}, "session": "s1"},
    }
    assert run_tool(world, "delete", {"path": "a", "sure": True}).outcome is Outcome.DONE
    refused = run_tool(world, "delete", {"path": "a", "sure": False})
    assert refused.outcome is Outcome.DENIED
    assert refused.content.startswith("denied: policy denied")
    forbidden = run_tool(world, "delete", {"path": "secret", "sure": True})
    assert "never-secret" in forbidden.content


def test_bad_arguments_and_unknown_tools_never_reach_the_ipu(world: Any) -> None:
    gate = world[0]
    bad = run_tool(world, "search", '{"query": 3}')
    assert bad.outcome is Outcome.INVALID and isinstance(bad.error, ToolArgumentError)
    assert "invalid arguments" in bad.content and "nothing was done" in bad.content
    assert run_tool(world, "search", "{not json").outcome is Outcome.INVALID
    unknown = run_tool(world, "format_disk", {})
    assert unknown.outcome is Outcome.INVALID and "no tool `format_disk`" in unknown.content
    assert len(gate.ipu.log) == 0


def test_a_tool_that_raises_is_reported_to_the_model(world: Any) -> None:
    outcome = run_tool(world, "explode", {"path": "x"})
    assert outcome.outcome is Outcome.FAILED
    assert "tool `explode` failed: OSError: disk on fire near x" in outcome.content
    assert outcome.observation is not None
    assert "perform failed" in outcome.observation.reason and outcome.observation.effects == ()


def test_a_call_without_a_covering_capability_is_denied(world: Any) -> None:
    gate, caller, tools = world
    outsider = Caller("b2", caller.tokens, session="s1")  # b1's tokens do not make b2 b1
    outcome = anyio.run(gate.call_tool, outsider, tools["search"], call("search", {"query": "q"}))
    assert outcome.outcome is Outcome.DENIED
    assert "held by `b1`, not `b2`" in outcome.content
    assert outcome.observation.granted == ()


def test_model_calls_are_effects_too(world: Any) -> None:
    gate, caller, _ = world
    model = ScriptedModel(["hello", "again"])
    request = ChatRequest(model="scripted", messages=[Message.user("hi")])
    completion = anyio.run(gate.call_model, caller, model, request)
    assert completion.choices[0].message.content == "hello"
    (obs,) = gate.ipu.log.snapshot()
    assert obs.effect == Effect("chat", "model/scripted") and obs.determining == ("chat-ok",)
    other = ScriptedModel(["x"], name="other")
    with pytest.raises(EffectDenied):
        anyio.run(gate.call_model, caller, other, request)
    assert other.requests == []  # denied: the model was never asked


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


SEEN_MODES: list[Mode] = []


def delete_with(path: str, sure: bool, mode: Mode) -> str:
    """Delete, in a mode."""
    SEEN_MODES.append(mode)
    return path


def test_typed_arguments_reach_the_policy_as_json_and_the_tool_as_typed(world: Any) -> None:
    gate, caller, _ = world
    SEEN_MODES.clear()
    tool = Tool(delete_with, name="delete")
    arguments = {"path": "a", "sure": True, "mode": "safe"}
    outcome = anyio.run(gate.call_tool, caller, tool, call("delete", arguments))
    assert outcome.outcome is Outcome.DONE, outcome.content
    assert SEEN_MODES == [Mode.SAFE]
    (obs,) = gate.ipu.log.snapshot()
    assert obs.determining == ("delete-asks",)


def test_the_caller_presents_the_token_that_names_the_effect(world: Any) -> None:
    gate, caller, tools = world
    tool_token, model_token = caller.tokens
    assert caller.presenting(Effect("call", "tool/search")) == (tool_token,)
    assert caller.presenting(Effect("chat", "model/scripted")) == (model_token,)
    # nothing fits: every token is shown, and the denial says why each one fails
    assert caller.presenting(Effect("chat", "model/other")) == caller.tokens
    model = ScriptedModel(["hi"], name="other")
    request = ChatRequest(model="other", messages=[Message.user("hi")])
    with pytest.raises(EffectDenied) as denied:
        anyio.run(gate.call_model, caller, model, request)
    assert denied.value.observation.requested == tuple(t.id for t in caller.tokens)
    # text tokens cannot be read without parsing: they are presented as they are
    as_text = Caller("b1", tuple(t.encode() for t in caller.tokens))
    assert as_text.presenting(Effect("call", "tool/search")) == as_text.tokens
    assert run_tool((gate, as_text, tools), "search", {"query": "q"}).ok


def test_a_tool_can_tell_which_call_it_serves(world: Any) -> None:
    from lion.services.gate import current_call

    gate, caller, _ = world
    seen: list[str] = []

    def search(query: str) -> str:
        """Search."""
        served = current_call()
        assert served is not None
        seen.append(served.id)
        return "ok"

    tool = Tool(search, blocking=False)
    for call_id in ("c1", "c2"):
        anyio.run(gate.call_tool, caller, tool, call("search", {"query": "same"}, id=call_id))
    assert seen == ["c1", "c2"] and current_call() is None
