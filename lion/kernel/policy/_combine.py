"""Kleene truth values and the decision rule over per-policy values.

``combine`` is the whole decision rule of chapter 4 and nothing else; it is
bound to ``spec/policy.lion``, so it stays small and total.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from lion.kernel.decision import Decision
from lion.kernel.policy._ast import Effect

__all__ = ["Kleene", "combine"]


class Kleene(enum.Enum):
    """A strong Kleene truth value: TRUE, FALSE or UNKNOWN (an error or a missing fact)."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    def __and__(self, other: Kleene) -> Kleene:
        if self is Kleene.FALSE or other is Kleene.FALSE:
            return Kleene.FALSE
        if self is Kleene.UNKNOWN or other is Kleene.UNKNOWN:
            return Kleene.UNKNOWN
        return Kleene.TRUE

    def __or__(self, other: Kleene) -> Kleene:
        if self is Kleene.TRUE or other is Kleene.TRUE:
            return Kleene.TRUE
        if self is Kleene.UNKNOWN or other is Kleene.UNKNOWN:
            return Kleene.UNKNOWN
        return Kleene.FALSE

    def __invert__(self) -> Kleene:
        if self is Kleene.UNKNOWN:
            return self
        return Kleene.FALSE if self is Kleene.TRUE else Kleene.TRUE

    @classmethod
    def of(cls, value: bool) -> Kleene:
        """TRUE or FALSE from a Python bool."""
        return cls.TRUE if value else cls.FALSE

    def __str__(self) -> str:
        return self.name


def combine(policies: Iterable[tuple[Effect, str, Kleene]]) -> tuple[Decision, tuple[str, ...]]:
    """The decision and its determining policy ids from (effect, id, value) triples.

    - DENY when some forbid is TRUE (determining: the TRUE forbids), or when no
      permit is TRUE or UNKNOWN (default deny; determining: none);
    - PERMIT when some permit is TRUE and no forbid is TRUE or UNKNOWN
      (determining: the TRUE permits);
    - INDETERMINATE otherwise (determining: the TRUE permits, if any).

    Ids are returned sorted and without duplicates, so the result does not
    depend on the order of the triples or on repeated ones.
    """
    true_forbids: set[str] = set()
    true_permits: set[str] = set()
    unknown_forbid = False
    unknown_permit = False
    for effect, policy_id, value in policies:
        if value is Kleene.TRUE:
            (true_forbids if effect is Effect.FORBID else true_permits).add(policy_id)
        elif value is Kleene.UNKNOWN:
            if effect is Effect.FORBID:
                unknown_forbid = True
            else:
                unknown_permit = True
    if true_forbids:
        return Decision.DENY, tuple(sorted(true_forbids))
    if true_permits and not unknown_forbid:
        return Decision.PERMIT, tuple(sorted(true_permits))
    if not true_permits and not unknown_permit:
        return Decision.DENY, ()
    return Decision.INDETERMINATE, tuple(sorted(true_permits))
