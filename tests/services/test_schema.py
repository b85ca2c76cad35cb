"""The Cedar schema made from tools: Cedar's validator takes fitting policies, refuses others."""

from __future__ import annotations

import enum

import cedarpy
import pytest

from lion.services.schema import cedar_schema
from lion.services.tools import Tool


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


def send_email(
    to: str,
    subject: str,
    cc: list[str],
    urgent: bool,
    priority: int,
    level: Level,
    score: float = 0.5,
) -> str:
    """Send an email."""
    return to


def search(query: str) -> str:
    """Search."""
    return query


SCHEMA = cedar_schema([Tool(send_email), Tool(search)])


def valid(policy: str) -> tuple[bool, list[str]]:
    result = cedarpy.validate_policies(policy, SCHEMA.schema)
    return result.validation_passed, [str(e.error) for e in result.errors]


@pytest.mark.parametrize(
    "policy",
    [
        'permit(principal, action == Action::"send_email", resource) when {'
        ' context.arguments.to like "*@example.com" && !context.arguments.urgent'
        ' && context.arguments.cc.contains("boss@example.com") && context.arguments.priority < 3'
        ' && context.arguments.level == "low" };',
        'permit(principal, action == Action::"search", resource == Tool::"search")'
        ' when { context.session == "s1" };',
        'permit(principal is Agent, action == Action::"chat", resource is Model)'
        " when { context.messages < 50 };",
        'forbid(principal, action in [Action::"send_email", Action::"search"], resource);',
    ],
)
def test_policies_that_fit_the_tools_validate(policy: str) -> None:
    assert valid(policy) == (True, [])


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        (
            'permit(principal, action == Action::"send_email", resource)'
            ' when { context.arguments.recipient == "x" };',
            "arguments.recipient",
        ),
        (
            'permit(principal, action == Action::"send_email", resource)'
            ' when { context.arguments.priority == "high" };',
            "Long and String",
        ),
        ('permit(principal, action == Action::"delete_all", resource);', "delete_all"),
        (  # a float cannot be typed in Cedar: reading it is refused, not guessed
            'permit(principal, action == Action::"send_email", resource)'
            " when { context.arguments.score == 1 };",
            "arguments.score",
        ),
    ],
)
def test_policies_that_do_not_fit_are_refused(policy: str, why: str) -> None:
    ok, errors = valid(policy)
    assert not ok and any(why in e for e in errors), errors


def test_what_cannot_be_typed_is_listed() -> None:
    assert SCHEMA.unmapped == {"send_email": ("$.score",)}
    actions = SCHEMA.schema[""]["actions"]
    assert set(actions) == {"chat", "send_email", "search"}
    arguments = actions["send_email"]["appliesTo"]["context"]["attributes"]["arguments"]
    assert arguments["attributes"]["cc"] == {
        "type": "Set",
        "element": {"type": "String"},
        "required": True,
    }
