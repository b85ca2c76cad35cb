"""Plans: a task's side effects fixed before the branch reads untrusted content.

A `Plan` names the side-effecting tools a task may call and, optionally,
where some of their arguments must come from (``{"send_email": {"to":
"user"}}``: the recipient is a value from the user's instruction). Fixing it
(`Session.fix_plan`, or `Session.plan` which asks a planning model that sees
only the instruction and the tool descriptions) does two things:

- the branch's capability is attenuated to the plan: its tokens are replaced
  by tokens derived from them that cover only the planned tools and the
  tools without side effects, so a call outside the plan is denied by the
  capability check, before any policy runs, whatever the model reads later;
- each argument constraint becomes a `forbid` policy for that branch and
  tool, unless `context.provenance` shows the value came from where the plan
  says (see docs/provenance.md); a missing label makes it INDETERMINATE,
  never a silent pass.

A plan is fixed once per branch, and only while the history holds no
untrusted content: after that, the model could already be following
someone else's instructions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from lion.errors import ServiceError
from lion.kernel.capability import CapabilityToken
from lion.kernel.patterns import covers
from lion.services.messages import ActionResponse, RoledMessage
from lion.services.tools import ToolLike

if TYPE_CHECKING:
    from lion.services.branch import Branch

__all__ = ["Origin", "Plan", "PlanError", "PlanReply", "plan_policies", "planning_prompt"]

Origin = Literal["user", "trusted", "ask"]
"""Where a constrained argument must come from: the user (or system prompt), or also a
trusted tool's result; `ask`: from the user, else a person decides (the policy answer is
INDETERMINATE, so the approver, or a paused run, has the last word)."""

_FLAGS: Mapping[str, str] = {
    "user": "user || {p}.system",
    "trusted": "user || {p}.system || {p}.trusted",
    "ask": "user || {p}.system",
}
# never set by the runtime: reading it is an error, so the policy's answer is UNKNOWN
_ASK_A_PERSON = "context.a_person_decides"


class PlanError(ServiceError):
    """A plan that cannot be fixed: unknown tools or arguments, too late, or fixed already."""


class Plan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The side-effecting tools a task may call, and where their arguments must come from."""

    tools: frozenset[str] = frozenset()
    arguments: dict[str, dict[str, Origin]] = msgspec.field(default_factory=dict)


class PlanReply(msgspec.Struct, forbid_unknown_fields=True):
    """What the planning model answers (a list, since JSON has no sets)."""

    tools: list[str]
    arguments: dict[str, dict[str, Origin]] = msgspec.field(default_factory=dict)


def planning_prompt(tools: Sequence[ToolLike]) -> str:
    """The system prompt of the planning call: the tools and their side effects, nothing else."""
    lines = [
        "You plan a task before it runs. List the tools with side effects that the task "
        "needs (`tools`), and for an argument that must be a value the user gave (a "
        'recipient, an account, a path), add it to `arguments` as {"tool": {"argument": '
        '"user"}}. Tools without side effects are always allowed: do not list them.',
        "Tools:",
    ]
    for tool in tools:
        kind = "side effects" if getattr(tool, "side_effects", True) else "reads only"
        properties = tool.schema.get("properties", {})
        lines.append(
            f"- {tool.name} ({kind}; arguments: {', '.join(properties) or 'none'}): "
            f"{tool.description}"
        )
    return "\n".join(lines)


def check_plan(plan: Plan, branch: Branch) -> None:
    """Refuse a plan naming tools or arguments the branch does not have, or fixed too late."""
    if not isinstance(plan, Plan):
        raise PlanError(f"expected a Plan, got `{type(plan).__name__}`")
    known = ", ".join(f"`{n}`" for n in branch.tools) or "none"
    for name in sorted(plan.tools | plan.arguments.keys()):
        if name not in branch.tools:
            raise PlanError(
                f"the plan names tool `{name}`, which branch `{branch.name}` does "
                f"not have (its tools: {known})"
            )
    for name, constraints in plan.arguments.items():
        properties = branch.tools[name].schema.get("properties", {})
        for path, origin in constraints.items():
            root = path.split(".")[0].split("[")[0]
            if root not in properties:
                raise PlanError(
                    f"the plan constrains `{path}` of tool `{name}`, which has no argument `{root}`"
                )
            if origin not in _FLAGS:
                raise PlanError(
                    f"origin `{origin}` of `{name}.{path}` must be `user`, `trusted` or `ask`"
                )
    untrusted = _first_untrusted(list(branch.messages))
    if untrusted is not None:
        raise PlanError(
            f"branch `{branch.name}` has already read untrusted content (the "
            f"result of `{untrusted}`): a plan must be fixed before that"
        )


def _first_untrusted(history: Sequence[RoledMessage]) -> str | None:
    for message in history:
        if not isinstance(message, ActionResponse):
            continue
        if message.outcome in ("done", "failed") and not message.trusted:
            return message.function
    return None


def allowed(plan: Plan, tools: Mapping[str, ToolLike]) -> list[ToolLike]:
    """The tools a planned branch may still call: the planned ones and those without effects."""
    return [
        t for t in tools.values() if t.name in plan.tools or not getattr(t, "side_effects", True)
    ]


def attenuated(
    tokens: Sequence[str | CapabilityToken],
    tools: Mapping[str, ToolLike],
    keep: Sequence[ToolLike],
    attenuate: Any,
) -> list[str | CapabilityToken]:
    """The branch's tokens narrowed to `keep`: derived from its own, never wider.

    A token that covers none of the branch's tools (its model's) stays. One
    that covers tools is replaced by one derived token per kept tool it
    covers, scoped to exactly that tool's resource and right.
    """
    narrowed: list[str | CapabilityToken] = []
    for token in tokens:
        if not isinstance(token, CapabilityToken):
            raise PlanError("a plan needs the branch's tokens parsed (CapabilityToken objects)")
        cap = token.capability
        covered = [t for t in tools.values() if covers(cap.resource, t.resource)]
        if not covered:
            narrowed.append(token)
            continue
        for tool in keep:
            if tool in covered and tool.right in cap.rights:
                if cap.resource == tool.resource and cap.rights == {tool.right}:
                    narrowed.append(token)  # exactly this tool already
                else:
                    narrowed.append(attenuate(token, resource=tool.resource, rights=[tool.right]))
    return narrowed


def _cedar_string(text: str) -> str:
    """A Cedar string literal (JSON's escapes are a subset Cedar reads)."""
    return json.dumps(text, ensure_ascii=True)


def plan_policies(branch: str, plan: Plan) -> str:
    """The `forbid` policies that hold the branch's argument constraints."""
    policies = []
    for tool, constraints in sorted(plan.arguments.items()):
        for path, origin in sorted(constraints.items()):
            pid = _cedar_string(f"plan/{branch}/{tool}/{path}")
            key = _cedar_string(path)
            entry = f"context.provenance[{key}]"
            flags = f"{entry}." + _FLAGS[origin].format(p=entry)
            condition = (
                f"when {{ !({flags}) && {_ASK_A_PERSON} }}"
                if origin == "ask"
                else f"unless {{ {flags} }}"
            )
            policies.append(
                f"@id({pid}) forbid(principal == Agent::{_cedar_string(branch)}, "
                f"action == Action::{_cedar_string(tool)}, resource)\n  {condition};"
            )
    return "\n".join(policies)
