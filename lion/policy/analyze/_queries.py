"""The analysis queries, their answers, and the replay of every counterexample.

Each query asks Z3 for a request and entity store on which the claim fails.
None (unsat): the claim holds. One: it is concretized to Cedar JSON and
replayed through the evaluator of every available backend; the responses
(decision, determining and erroring policies) must be the ones the encoding
computed, or ``AnalysisInternalError`` is raised instead of an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import z3

from lion.errors import AnalysisError, AnalysisInternalError, LionError, PolicyError
from lion.kernel.backend import PolicyEngine, get_backend, rust_available
from lion.kernel.decision import Decision
from lion.kernel.policy import Effect, Kleene, Policy, PolicySet, combine
from lion.policy.analyze._concretize import Concretizer
from lion.policy.analyze._encode import Encoder
from lion.policy.analyze._sym import and_, not_, or_
from lion.policy.analyze._world import World

__all__ = [
    "Analysis",
    "Counterexample",
    "PolicyInput",
    "Prepared",
    "any_unknown",
    "differ",
    "prepare",
    "run",
]

PolicyInput = str | Path | PolicySet

#: Z3's budget for one check, in milliseconds.
DEFAULT_TIMEOUT_MS = 60_000


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A request and entities (Cedar JSON) on which the claim fails.

    ``decisions`` maps each analysed set (``"a"``, ``"b"``) to the decision
    both backends gave; ``unknown`` the ids of the policies that evaluated to
    UNKNOWN in each set.
    """

    request: dict[str, Any]
    entities: list[dict[str, Any]]
    decisions: dict[str, str]
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The answer to one query: whether the claim holds, and if not, why not."""

    query: str
    holds: bool
    counterexample: Counterexample | None = None
    counterexamples: tuple[Counterexample, ...] = ()

    def __str__(self) -> str:
        if self.holds:
            return f"{self.query}: holds"
        return f"{self.query}: does not hold ({len(self.counterexamples)} counterexample(s))"


@dataclass(slots=True)
class _Encoded:
    """One policy set, encoded: its text for replay and each policy's Z3 conditions."""

    label: str
    text: str | None  # the source text; None when a PolicySet was given
    path: str
    policy_set: PolicySet
    values: list[tuple[Policy, Any, Any]]  # (policy, TRUE condition, UNKNOWN condition)
    permit: Any = None
    deny: Any = None
    rust: PolicyEngine | None = None  # the same set in the Rust core, built by the first replay


@dataclass(slots=True)
class Prepared:
    """The world and the encoded sets of one analysis."""

    world: World
    sets: list[_Encoded]
    schema: Any = None


def _load(source: PolicyInput, path: str | None) -> tuple[str | None, str, PolicySet]:
    """(text, path, parsed set); the text of a given PolicySet is made only if replay needs it."""
    if isinstance(source, PolicySet):
        return None, path or "<policies>", source
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file `{source}`: {exc}") from None
        name = path or str(source)
        return text, name, PolicySet.from_str(text, name)
    if not isinstance(source, str):
        raise AnalysisError(
            f"expected policy text, a path or a PolicySet, got `{type(source).__name__}`"
        )
    name = path or "<policies>"
    return source, name, PolicySet.from_str(source, name)


def prepare(sources: Sequence[tuple[str, PolicyInput, str | None]], schema: Any = None) -> Prepared:
    """Parse and encode each (label, policies, path) over one shared world."""
    world = World()
    if schema is not None:
        from lion.policy.analyze._schema import SchemaFacts
        from lion.policy.schema import Schema

        if not isinstance(schema, Schema):
            raise AnalysisError(f"expected a `Schema`, got `{type(schema).__name__}`")
        SchemaFacts(world, schema)
    sets = []
    for label, source, path in sources:
        text, name, policy_set = _load(source, path)
        enc = Encoder(world, name)
        policies = tuple(p for p in policy_set.policies if not getattr(p, "is_template", False))
        values = []
        for policy in policies:
            t, u = enc.policy(policy)
            values.append((policy, t, u))
        encoded = _Encoded(label, text, name, policy_set, values)
        tf = or_(*(t for p, t, _ in values if p.effect is Effect.FORBID))
        uf = or_(*(u for p, _, u in values if p.effect is Effect.FORBID))
        tp = or_(*(t for p, t, _ in values if p.effect is Effect.PERMIT))
        up = or_(*(u for p, _, u in values if p.effect is Effect.PERMIT))
        encoded.permit = and_(not_(tf), tp, not_(uf))
        encoded.deny = or_(tf, and_(not_(tp), not_(up)))
        sets.append(encoded)
    return Prepared(world, sets, schema)


def _solver(prepared: Prepared, goal: Any, timeout_ms: int) -> z3.Solver:
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(goal)
    solver.add(*prepared.world.finish())
    return solver


def _check(prepared: Prepared, solver: z3.Solver) -> z3.ModelRef | None:
    """A realizable model, or None; transitivity instances are added as models break it."""
    for _ in range(10_000):
        result = solver.check()
        if result == z3.unsat:
            return None
        if result == z3.unknown:
            raise AnalysisError(f"z3 could not decide the query: {solver.reason_unknown()}")
        model = solver.model()
        lemmas = prepared.world.transitivity_lemmas(model) + prepared.world.like_lemmas(model)
        if not lemmas:
            return model
        solver.add(*lemmas)
    raise AnalysisInternalError("the refinement of `in` and `like` did not converge")


def _kleene(model: z3.ModelRef, t: Any, u: Any) -> Kleene:
    if z3.is_true(model.eval(t, model_completion=True)):
        return Kleene.TRUE
    if z3.is_true(model.eval(u, model_completion=True)):
        return Kleene.UNKNOWN
    return Kleene.FALSE


def _counterexample(prepared: Prepared, model: z3.ModelRef) -> Counterexample:
    concrete = Concretizer(prepared.world, model)
    request = concrete.request()
    entities = concrete.entities()
    if prepared.schema is not None:
        from lion.policy.validate import conforms

        problems = conforms(prepared.schema, request, entities)
        if problems:
            raise AnalysisInternalError(
                "a counterexample does not conform to the schema: " + "; ".join(problems[:3])
            )
    decisions: dict[str, str] = {}
    unknown: dict[str, tuple[str, ...]] = {}
    for encoded in prepared.sets:
        claimed = [(p, _kleene(model, t, u)) for p, t, u in encoded.values]
        decision, determining = combine((p.effect, p.id, k) for p, k in claimed)
        erroring = tuple(sorted(p.id for p, k in claimed if k is Kleene.UNKNOWN))
        _replay(encoded, request, entities, decision, determining, erroring)
        decisions[encoded.label] = decision.name
        unknown[encoded.label] = erroring
    return Counterexample(request, entities, decisions, unknown)


def _backends() -> tuple[str, ...]:
    return ("python", "rust") if rust_available() else ("python",)


def _replay(
    encoded: _Encoded,
    request: dict[str, Any],
    entities: list[dict[str, Any]],
    decision: Decision,
    determining: tuple[str, ...],
    erroring: tuple[str, ...],
) -> None:
    for name in _backends():
        try:
            if name == "python":  # the reference evaluator, on the very set that was encoded
                response = encoded.policy_set.evaluate(request, entities)
            else:
                response = _rust(encoded).evaluate(request, entities)
        except LionError as exc:
            raise AnalysisInternalError(
                f"the {name} backend could not replay a counterexample for `{encoded.path}`: {exc}"
            ) from None
        got = (response.decision, tuple(response.determining), tuple(response.erroring))
        want = (decision, determining, erroring)
        if got != want:
            raise AnalysisInternalError(
                f"counterexample for `{encoded.path}` does not replay on the {name} backend: "
                f"the encoding says {_show(want)}, the evaluator {_show(got)}; "
                f"request {request}, entities {entities}"
            )


def _rust(encoded: _Encoded) -> PolicyEngine:
    """The encoded set parsed by the Rust core, once: from its source text, or from a
    PolicySet's formatted text plus its links (linked policies are data, not text)."""
    if encoded.rust is None:
        if encoded.text is not None:
            engine = get_backend("rust").policy_set(encoded.text, encoded.path)
        else:
            from lion.policy.format import format_policies

            text = format_policies(encoded.policy_set)
            engine = get_backend("rust").policy_set(text, encoded.path)
            links = _links(encoded.policy_set)
            if links:
                engine = engine.link_all(links)
        encoded.rust = engine
    return encoded.rust


def _links(policy_set: PolicySet) -> list[dict[str, Any]]:
    """The Cedar template-links JSON that rebuilds ``policy_set``'s linked policies."""
    links = []
    for policy in policy_set.policies:
        template = policy_set.template(policy.template) if policy.template else None
        if template is None:
            continue
        values = {}
        for role in ("principal", "resource"):
            slot = getattr(template, role).slot
            if slot is not None:
                values[slot] = getattr(policy, role).entities[0].to_json()
        links.append({"templateId": policy.template, "newId": policy.id, "values": values})
    return links


def _show(result: tuple[Decision, tuple[str, ...], tuple[str, ...]]) -> str:
    decision, determining, erroring = result
    return f"{decision.name} (determining {list(determining)}, erroring {list(erroring)})"


def run(
    query: str,
    prepared: Prepared,
    goal: Any,
    *,
    limit: int = 1,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> Analysis:
    """Search for up to ``limit`` counterexamples that differ in some policy's value."""
    solver = _solver(prepared, goal, timeout_ms)
    found: list[Counterexample] = []
    while len(found) < limit:
        model = _check(prepared, solver)
        if model is None:
            break
        found.append(_counterexample(prepared, model))
        solver.add(_block(prepared, model))
    if not found:
        return Analysis(query, True)
    return Analysis(query, False, found[0], tuple(found))


def _block(prepared: Prepared, model: z3.ModelRef) -> Any:
    """Some policy must take another value than in ``model``."""
    changes: list[Any] = []
    for encoded in prepared.sets:
        for _, t, u in encoded.values:
            for term in (t, u):
                now = model.eval(term, model_completion=True)
                changes.append(term != now)
    return or_(*changes)


def differ(a: _Encoded, b: _Encoded) -> Any:
    """The decisions of ``a`` and ``b`` differ."""
    return or_(a.permit != b.permit, a.deny != b.deny)


def any_unknown(a: _Encoded) -> Any:
    return or_(*(u for _, _, u in a.values))
