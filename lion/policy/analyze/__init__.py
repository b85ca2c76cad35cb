"""Policy analysis with Z3: equivalent, implies, always-allows/denies, never-indeterminate, diff.

Policies are compiled to Z3 over a symbolic request (principal, action,
resource, context) and a symbolic entity store (existence, types,
attributes, tags, an acyclic transitive hierarchy), three-valued: each
policy is TRUE, FALSE or UNKNOWN exactly as the evaluator would find it, and
the decision is LION's ``combine`` (forbid overrides, default deny,
INDETERMINATE). A claim that fails comes with a counterexample in Cedar JSON
that has been replayed through the evaluator of both backends::

    from lion.policy.analyze import implies

    answer = implies(new_policies, old_policies)   # does new permit anything old does not?
    if not answer.holds:
        print(answer.counterexample.request, answer.counterexample.entities)

A construct the encoding cannot decide exactly raises ``AnalysisError``
naming it; a counterexample that does not replay raises
``AnalysisInternalError``. Values are dynamically typed; with a
``lion.policy.Schema`` (``schema=``) only conforming requests and stores are
considered, and each counterexample is checked to conform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lion.policy.analyze._queries import (
    DEFAULT_TIMEOUT_MS,
    Analysis,
    Counterexample,
    PolicyInput,
    any_unknown,
    differ,
    prepare,
    run,
)
from lion.policy.analyze._sym import not_

if TYPE_CHECKING:
    from lion.policy.schema import Schema

__all__ = [
    "Analysis",
    "Counterexample",
    "PolicyInput",
    "always_allows",
    "always_denies",
    "diff",
    "equivalent",
    "implies",
    "never_indeterminate",
]


def equivalent(
    a: PolicyInput,
    b: PolicyInput,
    schema: Schema | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Analysis:
    """Do ``a`` and ``b`` give the same decision (PERMIT, DENY, INDETERMINATE) on every request?"""
    p = prepare([("a", a, None), ("b", b, None)], schema)
    return run("equivalent", p, differ(p.sets[0], p.sets[1]), timeout_ms=timeout_ms)


def implies(
    a: PolicyInput,
    b: PolicyInput,
    schema: Schema | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Analysis:
    """Does every request ``a`` permits get PERMIT from ``b`` too?

    A counterexample is a request that ``a`` permits and ``b`` does not: it
    answers "does ``a`` permit anything ``b`` does not?".
    """
    p = prepare([("a", a, None), ("b", b, None)], schema)
    goal = p.sets[0].permit & not_(p.sets[1].permit)
    return run("implies", p, goal, timeout_ms=timeout_ms)


def always_allows(
    a: PolicyInput, schema: Schema | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Analysis:
    """Is every request PERMIT?"""
    p = prepare([("a", a, None)], schema)
    return run("always-allows", p, not_(p.sets[0].permit), timeout_ms=timeout_ms)


def always_denies(
    a: PolicyInput, schema: Schema | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Analysis:
    """Is every request DENY?"""
    p = prepare([("a", a, None)], schema)
    return run("always-denies", p, not_(p.sets[0].deny), timeout_ms=timeout_ms)


def never_indeterminate(
    a: PolicyInput, schema: Schema | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Analysis:
    """Is no policy UNKNOWN on any request (so no decision is INDETERMINATE)?"""
    p = prepare([("a", a, None)], schema)
    return run("never-indeterminate", p, any_unknown(p.sets[0]), timeout_ms=timeout_ms)


def diff(
    a: PolicyInput,
    b: PolicyInput,
    schema: Schema | None = None,
    *,
    limit: int = 10,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Analysis:
    """Up to ``limit`` requests whose decision differs between ``a`` and ``b``.

    Counterexamples are distinct: each has some policy take another value
    than in every earlier one.
    """
    p = prepare([("a", a, None), ("b", b, None)], schema)
    return run("diff", p, differ(p.sets[0], p.sets[1]), limit=limit, timeout_ms=timeout_ms)
