"""Session and Branch: every model and tool call of a conversation passes the kernel."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from lion.domain import Pile
from lion.errors import ReplyValidationError, ServiceError
from lion.kernel.decision import Decision
from lion.kernel.ipu import EffectDenied, EffectRequest, PolicyResponse
from lion.kernel.observable import Effect
from lion.services.branch import Branch
from lion.services.messages import ActionResponse, AssistantResponse, Instruction, RoledMessage
from lion.services.models import ScriptedModel, call
from lion.services.session import Session
from lion.services.tools import Tool

KEY = b"session-test-key-0123456789abcdef-012345"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("search") permit(principal, action == Action::"search", resource);
@id("no-delete") forbid(principal, action == Action::"delete", resource);
@id("pay-limit") permit(principal, action == Action::"pay", resource)
  when { context.arguments.amount < principal.limit };
"""


def search(query: str) -> str:
    """Look something up."""
    return f"found {query}"


def delete(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


PAID: list[int] = []


def pay(amount: int) -> str:
    """Pay someone."""
    PAID.append(amount)
    return "paid"


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def session(backend: str, script: Any, **kwargs: Any) -> Session:
    return Session(
        policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend, **kwargs
    )


def kinds(branch: Branch) -> list[str]:
    return [type(m).__name__ for m in branch.messages]


def test_operate_runs_a_permitted_tool_and_answers(backend: str) -> None:
    s = session(backend, [call("search", {"query": "lion"}), "LION is an agent runtime."])
    branch = s.new_branch("b1", tools=[Tool(search)], system="Be brief.")
    answer = anyio.run(branch.operate, "What is LION?")
    assert answer == "LION is an agent runtime."
    assert kinds(branch) == [
        "System",
        "Instruction",
        "AssistantResponse",
        "ActionRequest",
        "ActionResponse",
        "AssistantResponse",
    ]
    response = next(m for m in branch.messages if isinstance(m, ActionResponse))
    assert (response.content, response.outcome) == ("found lion", "done")
    log = s.log.snapshot()
    assert [(o.effect, o.decision, o.principal) for o in log] == [
        (Effect("chat", "model/scripted"), Decision.PERMIT, "b1"),
        (Effect("call", "tool/search"), Decision.PERMIT, "b1"),
        (Effect("chat", "model/scripted"), Decision.PERMIT, "b1"),
    ]
    # the model saw the tool's answer as a tool message with the call's id
    last_request = s.model.requests[-1]  # type: ignore[attr-defined]
    assert last_request.messages[-1].role == "tool"
    assert last_request.messages[-1].content == "found lion"


def test_a_denied_tool_is_told_to_the_model_or_raised(backend: str) -> None:
    s = session(backend, [call("delete", {"path": "/"}), "I could not delete it."] * 2)
    told = s.new_branch("b1", tools=[Tool(delete)])
    assert anyio.run(told.operate, "Delete everything") == "I could not delete it."
    response = next(m for m in told.messages if isinstance(m, ActionResponse))
    assert response.outcome == "denied" and "no-delete" in response.content
    strict = s.new_branch("b2", tools=[Tool(delete)], on_deny="raise")
    with pytest.raises(EffectDenied) as info:
        anyio.run(strict.operate, "Delete everything")
    assert info.value.observation.determining == ("no-delete",)


def test_indeterminate_goes_to_the_approver_with_the_explanation(backend: str) -> None:
    seen: list[tuple[str, Decision]] = []

    def approver(request: EffectRequest, response: PolicyResponse) -> bool:
        amount = request.context["arguments"]["amount"]
        seen.append((request.effect.resource, response.decision))
        return bool(amount < 10)

    PAID.clear()
    script = [call("pay", {"amount": 5}), call("pay", {"amount": 500}), "done"]
    s = session(backend, script, approver=approver)
    branch = s.new_branch("b1", tools=[Tool(pay)])
    assert anyio.run(branch.operate, "pay twice") == "done"
    assert PAID == [5]
    assert seen == [("tool/pay", Decision.INDETERMINATE)] * 2
    outcomes = [m.outcome for m in branch.messages if isinstance(m, ActionResponse)]
    assert outcomes == ["done", "denied"]


def test_bad_arguments_and_unknown_tools_are_told_not_performed(backend: str) -> None:
    script = [[call("search", '{"query": 7}'), call("rm_rf", {})], "sorry"]
    s = session(backend, script)
    branch = s.new_branch("b1", tools=[Tool(search)])
    assert anyio.run(branch.operate, "go") == "sorry"
    responses = [m for m in branch.messages if isinstance(m, ActionResponse)]
    assert [r.outcome for r in responses] == ["invalid", "invalid"]
    assert "expected `str`" in responses[0].content and "no tool `rm_rf`" in responses[1].content
    assert [o.effect.action for o in s.log] == ["chat", "chat"]  # no tool effect was asked for


def test_a_branch_can_only_use_its_own_authority(backend: str) -> None:
    s = session(backend, ["a", "b", "c"])
    b1 = s.new_branch("b1")
    b2 = s.new_branch("b2")
    thief = Branch("b2", gate=s.gate, model=s.model, tokens=b1.tokens)
    with pytest.raises(EffectDenied, match="held by `b1`, not `b2`"):
        anyio.run(thief.chat, "hi")
    assert anyio.run(b2.chat, "hi") == "a"
    s.remove_branch("b1")  # its tokens are revoked
    with pytest.raises(EffectDenied, match="revoked"):
        anyio.run(b1.chat, "hi")


def test_the_session_manages_its_branches(backend: str) -> None:
    async def main() -> None:
        async with session(backend, ["hello", "again", "twin"]) as s:
            assert await s.chat("Hi") == "hello"
            default = s.default_branch
            assert default.name == "default" and s.get_branch("default") is default
            assert kinds(default) == ["Instruction", "AssistantResponse"]
            assert await default.chat("not kept") == "again"
            assert len(default.messages) == 2
            twin = s.clone_branch(default, "twin")
            assert [m.content for m in twin.messages] == [m.content for m in default.messages]
            assert [s.authority.verify(t).holder for t in twin.tokens] == ["twin"]
            assert [s.authority.verify(t).parent for t in twin.tokens] == [
                s.authority.verify(t).id for t in default.tokens
            ]
            assert await twin.chat("?") == "twin"
            with pytest.raises(ServiceError, match="already exists"):
                s.new_branch("twin")
            with pytest.raises(ServiceError, match="no branch named `nope`"):
                s.get_branch("nope")
        with pytest.raises(ServiceError, match="closed"):
            s.new_branch("late")
        with pytest.raises(EffectDenied):  # closing revoked every branch's tokens
            await default.chat("after")

    anyio.run(main)


def test_messages_round_trip_to_json(backend: str) -> None:
    s = session(backend, [call("search", {"query": "x"}), "ok"])
    branch = s.new_branch("b1", tools=[Tool(search)], system="sys")
    anyio.run(branch.operate, "find x")
    data = branch.messages.to_json()
    back: Pile[RoledMessage] = Pile.from_json(data)
    assert [type(m) for m in back] == [type(m) for m in branch.messages]
    assert [m.content for m in back] == [m.content for m in branch.messages]
    first_answer = next(m for m in back if isinstance(m, AssistantResponse))
    assert first_answer.tool_calls[0].function.name == "search"
    assert isinstance(next(iter(back)), RoledMessage)
    assert not isinstance(next(iter(back)), Instruction)


def test_concurrent_tool_calls_are_chosen_by_the_host(backend: str) -> None:
    calls = [call("search", {"query": q}) for q in ("a", "b", "c")]
    s = session(backend, [calls, "all found"])
    branch = s.new_branch("b1", tools=[Tool(search)])
    assert anyio.run(lambda: branch.operate("find", action_strategy="concurrent")) == "all found"
    responses = [m.content for m in branch.messages if isinstance(m, ActionResponse)]
    assert responses == ["found a", "found b", "found c"]  # recorded in call order
    with pytest.raises(ServiceError, match="strategy"):
        anyio.run(lambda: branch.act(calls, strategy="parallel"))  # type: ignore[arg-type]


class Person(msgspec.Struct):
    name: str
    age: int


def test_communicate_parses_a_structured_reply_and_retries_when_it_does_not_fit(
    backend: str,
) -> None:
    script = ['```json\n{"name": "Ada", "age": "old"}\n```', '{"name": "Ada", "age": 36}']
    s = session(backend, script)
    branch = s.new_branch("b1")
    person = anyio.run(lambda: branch.communicate("Who?", response_format=Person))
    assert person == Person(name="Ada", age=36)
    requests = s.model.requests  # type: ignore[attr-defined]
    assert requests[0].response_format.json_schema.name == "Person"
    retry = requests[1].messages[-1]
    assert retry.role == "user" and "field `age`" in retry.content
    assert kinds(branch) == ["Instruction", "AssistantResponse", "Instruction", "AssistantResponse"]
    assert [o.effect.action for o in s.log] == ["chat", "chat"]  # each attempt passed the gate


def test_communicate_gives_up_after_its_retries(backend: str) -> None:
    s = session(backend, ["no json here", "still none"])
    branch = s.new_branch("b1")
    with pytest.raises(ReplyValidationError):
        anyio.run(lambda: branch.communicate("Who?", response_format=Person, parse_retries=1))
    with pytest.raises(ServiceError, match="parse_retries"):
        anyio.run(lambda: branch.communicate("Who?", response_format=Person, parse_retries=-1))
    with pytest.raises(ServiceError, match="unknown request options `temprature`"):
        s.new_branch("b2", options={"temprature": 0})


def test_react_extends_a_bounded_number_of_times(backend: str) -> None:
    looping = [call("search", {"query": str(i)}) for i in range(10)]
    s = session(backend, [*looping[:3], "final answer"])
    branch = s.new_branch("b1", tools=[Tool(search)])
    assert anyio.run(lambda: branch.ReAct("Dig deep", max_extensions=2)) == "final answer"
    searches = [o for o in s.log if o.effect.action == "call"]
    assert len(searches) == 3  # the first round and two extensions, no more
    requests = s.model.requests  # type: ignore[attr-defined]
    assert requests[-1].tools is None  # the answer is asked for without tools
    prompts = [m.content for m in branch.messages if isinstance(m, Instruction)]
    assert prompts[0].startswith("Dig deep") and "step by step" in prompts[0]
    assert prompts[-1].startswith("No more tool calls")
    assert len(prompts) == 4  # the task, two "look at the results", the final nudge


def test_react_stops_as_soon_as_the_model_answers(backend: str) -> None:
    s = session(backend, [call("search", {"query": "a"}), "enough"])
    branch = s.new_branch("b1", tools=[Tool(search)])
    assert anyio.run(lambda: branch.ReAct("Quick one")) == "enough"
    assert len(s.model.requests) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("misbehaves", ["raises", "garbage"])
def test_an_approver_that_misbehaves_denies(backend: str, misbehaves: str) -> None:
    def approver(request: EffectRequest, response: PolicyResponse) -> Any:
        if misbehaves == "raises":
            raise RuntimeError("approver crashed")
        return "yes"  # only the value True approves

    PAID.clear()
    s = session(backend, [call("pay", {"amount": 1}), "ok"], approver=approver)
    branch = s.new_branch("b1", tools=[Tool(pay)])
    assert anyio.run(branch.operate, "pay") == "ok"
    assert PAID == []
    (response,) = [m for m in branch.messages if isinstance(m, ActionResponse)]
    assert response.outcome == "denied"
    expected = "approver failed: RuntimeError" if misbehaves == "raises" else "approver refused"
    assert expected in response.content
    (denial,) = [o for o in s.log if o.decision is Decision.DENY]
    assert denial.effect == Effect("call", "tool/pay")


def test_stream_chat_passes_the_gate_and_records_once_the_stream_ends(backend: str) -> None:
    s = session(backend, ["Hello there, agent.", "second"])
    branch = s.new_branch("b1")

    async def main() -> list[str]:
        pieces = []
        async with branch.stream_chat("Hi") as stream:
            async for piece in stream:
                assert len(s.log) == 0  # the effect is recorded when the stream ends
                pieces.append(piece)
        return pieces

    assert anyio.run(main) == ["Hello ", "there, ", "agent."]
    (obs,) = s.log.snapshot()
    assert obs.decision is Decision.PERMIT and obs.effects == (Effect("chat", "model/scripted"),)
    assert len(branch.messages) == 0  # like chat, nothing is kept


def test_a_denied_stream_raises_before_any_text(backend: str) -> None:
    s = session(backend, ["never sent"])
    branch = s.new_branch("b1")
    s.authority.revoke(branch.tokens[0])  # its model capability

    async def main() -> None:
        async with branch.stream_chat("Hi") as stream:
            async for _ in stream:
                raise AssertionError("no text may arrive")

    with pytest.raises(EffectDenied, match="revoked"):
        anyio.run(main)
    assert s.model.requests == []  # type: ignore[attr-defined]


def test_a_reader_that_stops_early_ends_the_effect(backend: str) -> None:
    s = session(backend, ["one two three four five"])
    branch = s.new_branch("b1")

    async def main() -> str:
        async with branch.stream_chat("Hi") as stream:
            async for piece in stream:
                return piece
        return ""

    assert anyio.run(main) == "one "
    (obs,) = s.log.snapshot()
    assert obs.effects == () and "perform failed" in obs.reason  # cut short, and recorded so
