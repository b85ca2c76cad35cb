"""Structured answers: `operate`, `ReAct` and `communicate` with a response_format."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from lion.domain import FieldModel, OperableModel
from lion.errors import ReplyValidationError, ServiceError
from lion.services.models import ScriptedModel, call
from lion.services.session import Session
from lion.services.tools import Tool

KEY = b"structured-test-key-0123456789abcdef-0123"
POLICIES = """
@id("chat") permit(principal, action == Action::"chat", resource);
@id("lookup") permit(principal, action == Action::"lookup", resource);
"""


class Answer(msgspec.Struct):
    city: str
    population: int


def lookup(city: str) -> dict[str, Any]:
    """Facts about a city."""
    return {"city": city, "population": 2_100_000}


@pytest.fixture(params=["python", "rust"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(backend: str, script: Any) -> Session:
    return Session(policies=POLICIES, model=ScriptedModel(script), key=KEY, backend=backend)


def tool_then_json(messages: list[Any]) -> Any:
    """Ask for the tool, then say something, then give JSON when asked for the format."""
    last = messages[-1]
    if last.role == "user" and "Paris" in str(last.content):
        return call("lookup", {"city": "Paris"})
    if last.role == "tool":
        return "Paris has about 2.1 million people."
    return '{"city": "Paris", "population": 2100000}'


def test_operate_uses_the_tools_then_returns_the_parsed_answer(backend: str) -> None:
    s = make(backend, tool_then_json)
    branch = s.new_branch("b", tools=[Tool(lookup, blocking=False)])
    answer = anyio.run(lambda: branch.operate("How many live in Paris?", response_format=Answer))
    assert answer == Answer(city="Paris", population=2_100_000)
    requests = s.model.requests  # type: ignore[attr-defined]
    # tools offered while acting; the format asked for only in the last request, without tools
    assert requests[0].tools and requests[0].response_format is None
    assert requests[-1].tools is None
    assert requests[-1].response_format.json_schema.name == "Answer"
    assert [(o.effect.action, o.permitted) for o in s.log] == [
        ("chat", True),
        ("call", True),
        ("chat", True),
        ("chat", True),
    ]


def test_operate_with_an_operable_model_and_field_models(backend: str) -> None:
    fields = [FieldModel(str, name="city"), FieldModel(int, name="population")]
    for response_format in (OperableModel(fields), fields):
        s = make(backend, tool_then_json)
        branch = s.new_branch("b", tools=[Tool(lookup, blocking=False)])
        answer = anyio.run(
            lambda b=branch, rf=response_format: b.operate("Paris?", response_format=rf)
        )
        assert msgspec.structs.asdict(answer) == {"city": "Paris", "population": 2_100_000}


def test_operate_retries_a_reply_that_does_not_fit_then_gives_up(backend: str) -> None:
    replies = iter(['{"city": "Paris"}', '{"city": "Paris", "population": 2100000}'])

    def script(messages: list[Any]) -> Any:
        first = messages[-1].role == "user" and len(messages) == 1
        return "I know this." if first else next(replies)

    s = make(backend, script)
    branch = s.new_branch("b")
    assert anyio.run(lambda: branch.operate("Paris?", response_format=Answer)) == Answer(
        "Paris", 2_100_000
    )
    retry = s.model.requests[-1].messages[-1]  # type: ignore[attr-defined]
    assert retry.role == "user" and "population" in retry.content

    s = make(backend, lambda messages: "never JSON")
    branch = s.new_branch("b")
    with pytest.raises(ReplyValidationError):
        anyio.run(lambda: branch.operate("Paris?", response_format=Answer, parse_retries=1))
    assert len(s.log) == 3  # the plain round, then two format attempts: each a gated call


def test_react_returns_a_parsed_answer(backend: str) -> None:
    s = make(backend, tool_then_json)
    branch = s.new_branch("b", tools=[Tool(lookup, blocking=False)])
    answer = anyio.run(lambda: branch.ReAct("Paris?", max_extensions=1, response_format=Answer))
    assert answer.population == 2_100_000


def test_a_bad_format_or_strategy_fails_before_any_call(backend: str) -> None:
    s = make(backend, tool_then_json)
    branch = s.new_branch("b")
    with pytest.raises(ServiceError, match="response_format must be a type"):
        anyio.run(lambda: branch.operate("x", response_format=42))  # type: ignore[call-overload]
    with pytest.raises(ServiceError, match="strategy must be"):
        anyio.run(lambda: branch.operate("x", action_strategy="parallel"))  # type: ignore[call-overload]
    with pytest.raises(ServiceError, match="parse_retries"):
        anyio.run(lambda: branch.operate("x", response_format=Answer, parse_retries=-1))
    assert len(s.log) == 0 and len(branch.messages) == 0
