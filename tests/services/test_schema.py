"""The Cedar schema made from tools: Cedar's validator takes fitting policies, refuses others."""

from __future__ import annotations

import enum

import cedarpy
import msgspec
import pytest

from lion.policy import Schema, conforms
from lion.services.context import policy_json
from lion.services.provenance import ProvenanceIndex, Source, to_context
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


# ---------------------------------------------------------------------------- LION's validator too


def lion_valid(policy: str, schema: object = SCHEMA) -> tuple[bool, list[str]]:
    report = schema.validate(policy, "agent.cedar")  # type: ignore[attr-defined]
    return report.ok, [str(i) for i in report.issues]


def test_the_schema_is_also_a_lion_schema() -> None:
    assert isinstance(SCHEMA.typed, Schema)
    assert SCHEMA.typed == Schema.from_json(SCHEMA.schema)


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
        'forbid(principal, action == Action::"search", resource) when {'
        " context has budget && context.budget has tool_calls && context.budget.tool_calls < 1 };",
        'forbid(principal, action == Action::"chat", resource) when {'
        " context has budget && context.budget has cost && context.budget.cost == 0 };",
        'forbid(principal, action == Action::"send_email", resource) when {'
        " context has provenance && context.provenance has to"
        " && context.provenance.to.untrusted_only };",
        'forbid(principal, action == Action::"send_email", resource) when {'
        " context has provenance && context.provenance has cc"
        ' && context.provenance.cc.tools.contains("crm") };',
    ],
)
def test_fitting_policies_validate_with_lion_and_with_cedar(policy: str) -> None:
    assert lion_valid(policy) == (True, [])
    assert valid(policy) == (True, [])


@pytest.mark.parametrize(
    ("policy", "ok"),
    [
        (  # budget is only there with budgets
            'forbid(principal, action == Action::"search", resource)'
            " when { context.budget.tool_calls < 1 };",
            False,
        ),
        (  # provenance is optional too
            'forbid(principal, action == Action::"send_email", resource)'
            " when { context.provenance.to.untrusted };",
            False,
        ),
        (  # and so is each of its entries
            'forbid(principal, action == Action::"send_email", resource)'
            " when { context has provenance && context.provenance.to.untrusted };",
            False,
        ),
        (  # search has no `to`, so `has to` is just false: valid, never satisfied
            'forbid(principal, action == Action::"search", resource)'
            " when { context has provenance && context.provenance has to };",
            True,
        ),
    ],
)
def test_optional_context_needs_has_in_both_validators(policy: str, ok: bool) -> None:
    assert lion_valid(policy)[0] is ok
    assert valid(policy)[0] is ok


def test_reading_an_argument_that_does_not_exist_is_refused_where_it_is_read() -> None:
    policy = (
        '@id("to-only")\n'
        'permit(principal, action == Action::"send_email", resource)\n'
        '  when { context.arguments.recipient == "x" };'
    )
    ok, issues = lion_valid(policy)
    assert not ok
    assert issues == [
        "agent.cedar:3:28: for policy `to-only`, attribute `recipient` in record not found"
    ]
    assert not valid(policy)[0]


MCP_TOOLS = [  # as an MCP server lists them (tools/list)
    {
        "name": "read_file",
        "description": "Read a file.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "limits": {
                    "type": "object",
                    "properties": {"max_bytes": {"type": "integer"}},
                    "required": ["max_bytes"],
                },
                "encodings": {"type": "array", "items": {"type": "string"}},
                "ratio": {"type": "number"},
            },
            "required": ["path"],
        },
    },
    {"name": "list_dir", "inputSchema": {"type": "object", "properties": {}}},
]


def test_a_schema_from_mcp_tool_descriptions() -> None:
    schema = cedar_schema(MCP_TOOLS)
    assert schema.unmapped == {"read_file": ("$.ratio",)}
    good = (
        'forbid(principal, action == Action::"read_file", resource) when {'
        ' context.arguments.path like "/etc/*"'
        " || (context.arguments has limits && context.arguments.limits.max_bytes > 1000000)"
        ' || (context.arguments has encodings && context.arguments.encodings.contains("raw"))'
        ' || (context has provenance && context.provenance has "limits.max_bytes"'
        ' && context.provenance["limits.max_bytes"].untrusted_only) };\n'
        'permit(principal, action in [Action::"read_file", Action::"list_dir"], resource);'
    )
    assert lion_valid(good, schema) == (True, [])
    assert cedarpy.validate_policies(good, schema.schema).validation_passed
    for bad in (
        'permit(principal, action == Action::"read_file", resource)'
        " when { context.arguments.limits.max_bytes > 1 };",  # `limits` is optional
        'permit(principal, action == Action::"read_file", resource)'
        " when { context.arguments.ratio > 1 };",  # a number cannot be typed
        'permit(principal, action == Action::"write_file", resource);',  # no such tool
    ):
        assert not lion_valid(bad, schema)[0], bad
        assert not cedarpy.validate_policies(bad, schema.schema).validation_passed, bad


def notify(to: str, cc: list[str], urgent: bool, priority: int, level: Level) -> str:
    """Notify someone."""
    return to


def test_what_the_gate_sends_conforms_to_the_schema() -> None:
    """The request the gate builds (arguments, session, budget, provenance) fits the schema."""
    tool = Tool(notify)
    schema = cedar_schema([tool])
    arguments = tool.validate(
        '{"to": "bob@corp.example", "cc": ["eve@x.example"], "urgent": true,'
        ' "priority": 2, "level": "high"}'
    )
    plain = policy_json(msgspec.to_builtins(arguments))
    index = ProvenanceIndex([Source.user("write to bob@corp.example")])
    context = {
        "arguments": plain,
        "session": "s1",
        "budget": {"tool_calls": 3, "cost": 10},
        "provenance": to_context(index.label(plain)),
    }
    request = {
        "principal": {"type": "Agent", "id": "main"},
        "action": {"type": "Action", "id": "notify"},
        "resource": {"type": "Tool", "id": "notify"},
        "context": context,
    }
    # Provenance also labels list elements (`cc[0]`), which no schema can declare (Cedar has
    # no open records); everything else the gate sends conforms. Reading an undeclared
    # attribute never validates, so these entries cannot make a validated policy UNKNOWN.
    problems = conforms(schema.typed, request, [])
    assert problems == ("request.context.provenance: attribute `cc[0]` is not declared",)
    context["provenance"] = {k: v for k, v in context["provenance"].items() if "[" not in k}
    assert conforms(schema.typed, request, []) == ()
    no_budget = {**request, "context": {k: v for k, v in context.items() if k != "budget"}}
    assert conforms(schema.typed, no_budget, []) == ()
    wrong = {**request, "context": {**context, "session": 1}}
    assert conforms(schema.typed, wrong, []) != ()
