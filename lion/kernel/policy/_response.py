"""What an evaluation returns: the decision, why, and what could not be evaluated."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from lion.kernel.decision import Decision
from lion.kernel.policy._ast import Effect
from lion.kernel.policy._combine import Kleene

__all__ = ["PolicyErrorInfo", "PolicyResult", "Response"]


@dataclass(frozen=True, slots=True, order=True)
class PolicyErrorInfo:
    """A policy that evaluated to UNKNOWN, with the message of its first error."""

    policy_id: str
    message: str


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's three-valued result for one request."""

    policy_id: str
    effect: Effect
    value: Kleene
    error: str | None = None


class Response(msgspec.Struct, frozen=True):
    """The decision for a request.

    ``determining`` holds the sorted ids of the policies that decided it (the
    TRUE forbids on a DENY by forbid, the TRUE permits on a PERMIT or an
    INDETERMINATE, none on a default DENY); ``errors`` every policy that
    evaluated to UNKNOWN; ``results`` every policy's value, in policy-set order.
    """

    decision: Decision
    determining: tuple[str, ...] = ()
    errors: tuple[PolicyErrorInfo, ...] = ()
    results: tuple[PolicyResult, ...] = ()

    @property
    def erroring(self) -> tuple[str, ...]:
        """The sorted ids of the policies that evaluated to UNKNOWN."""
        return tuple(e.policy_id for e in self.errors)

    def explain(self) -> str:
        """A few lines a person can read: the decision, the reason, the policies involved."""
        effects = {r.policy_id: r.effect for r in self.results}
        unknown_forbids = [e for e in self.errors if effects.get(e.policy_id) is Effect.FORBID]
        unknown_permits = [e for e in self.errors if effects.get(e.policy_id) is not Effect.FORBID]
        ids = ", ".join(f"`{p}`" for p in self.determining)
        if self.decision is Decision.PERMIT:
            reason = f"permitted by {ids}; no forbid is or might be satisfied"
        elif self.decision is Decision.DENY and self.determining:
            reason = f"forbidden by {ids}"
        elif self.decision is Decision.DENY:
            reason = "no permit is satisfied (default deny)"
        elif self.determining:
            names = ", ".join(f"`{e.policy_id}`" for e in unknown_forbids)
            reason = (
                f"permitted by {ids}, but forbid {names} could not be evaluated, "
                "so the request cannot be decided (fail closed)"
            )
        else:
            names = ", ".join(f"`{e.policy_id}`" for e in unknown_permits)
            reason = (
                f"no permit is satisfied, but permit {names} could not be evaluated, "
                "so the request cannot be decided (fail closed)"
            )
        lines = [f"{self.decision}: {reason}"]
        for err in self.errors:
            effect = effects.get(err.policy_id)
            kind = f" ({effect})" if effect is not None else ""
            lines.append(f"  unknown: `{err.policy_id}`{kind}: {err.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()
