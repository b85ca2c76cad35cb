"""A parsed, compiled set of policies, and its evaluation against requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lion.errors import PolicyError
from lion.kernel.policy._ast import Effect, Policy
from lion.kernel.policy._combine import Kleene, combine
from lion.kernel.policy._entities import Entities, Request
from lion.kernel.policy._evaluate import CompiledPolicy, Env, compile_policy, evaluate_policy
from lion.kernel.policy._limits import DEFAULT_LIMITS, Limits
from lion.kernel.policy._parse import parse_policies
from lion.kernel.policy._response import PolicyErrorInfo, PolicyResult, Response
from lion.kernel.policy._values import EntityUID

__all__ = ["PolicySet"]

_EMPTY_ENTITIES = Entities()


class PolicySet:
    """Policies parsed and compiled once, evaluated many times.

    Policy ids must be unique. Policies whose action scope is ``action == A``
    are indexed by ``A``, so a request only evaluates the policies that can
    apply to its action.
    """

    __slots__ = ("_by_action", "_compiled", "_false", "_general", "_policies", "limits")

    def __init__(self, policies: Iterable[Policy] = (), limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._policies = tuple(policies)
        if len(self._policies) > limits.max_policies:
            raise PolicyError(f"policy set has more than {limits.max_policies} policies")
        seen: set[str] = set()
        compiled: list[CompiledPolicy] = []
        for policy in self._policies:
            if not isinstance(policy, Policy):
                raise PolicyError(f"expected a `Policy`, got `{type(policy).__name__}`")
            if policy.id in seen:
                raise PolicyError(f"duplicate policy id `{policy.id}`")
            seen.add(policy.id)
            try:
                compiled.append(compile_policy(policy, limits))
            except ValueError as exc:
                raise PolicyError(f"policy `{policy.id}`: {exc}") from None
        self._compiled = tuple(compiled)
        # A FALSE result per policy, shared by every request the index skips it for.
        self._false = tuple(PolicyResult(p.id, p.effect, Kleene.FALSE) for p in self._policies)
        self._by_action: dict[EntityUID, list[int]] = {}
        self._general: list[int] = []
        for index, policy in enumerate(self._policies):
            if policy.action.op == "==":
                self._by_action.setdefault(policy.action.entities[0], []).append(index)
            else:
                self._general.append(index)

    @classmethod
    def from_str(
        cls, text: str, path: str = "<policies>", limits: Limits = DEFAULT_LIMITS
    ) -> PolicySet:
        """Parse Cedar-syntax policy text; ``path`` names it in error messages."""
        return cls(parse_policies(text, path, limits), limits)

    @classmethod
    def from_file(cls, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> PolicySet:
        """Read and parse a policy file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy file `{path}`: {exc}") from None
        return cls.from_str(text, str(path), limits)

    @property
    def policies(self) -> tuple[Policy, ...]:
        """The policies, in file order."""
        return self._policies

    def get(self, policy_id: str) -> Policy | None:
        """The policy with this id, or None."""
        return next((p for p in self._policies if p.id == policy_id), None)

    def __len__(self) -> int:
        return len(self._policies)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self._policies)

    def evaluate_policies(self, request: Any, entities: Any = None) -> tuple[PolicyResult, ...]:
        """Every policy's Kleene value for the request, in policy-set order.

        ``request`` is a ``Request`` or Cedar request JSON; ``entities`` an
        ``Entities``, Cedar entities JSON, or None for no entities.
        """
        req = Request.from_json(request, self.limits)
        store = _EMPTY_ENTITIES if entities is None else Entities.from_json(entities, self.limits)
        env = Env(req, store, self.limits)
        results = list(self._false)
        candidates = self._general
        indexed = self._by_action.get(req.action)
        if indexed:
            candidates = sorted(candidates + indexed)
        for index in candidates:
            compiled = self._compiled[index]
            value, error = evaluate_policy(compiled, env)
            if value is not Kleene.FALSE:
                policy = compiled.policy
                results[index] = PolicyResult(policy.id, policy.effect, value, error)
        return tuple(results)

    def evaluate(self, request: Any, entities: Any = None) -> Response:
        """Decide the request: PERMIT, DENY or INDETERMINATE, with the reasons."""
        results = self.evaluate_policies(request, entities)
        decision, determining = combine((r.effect, r.policy_id, r.value) for r in results)
        errors = tuple(
            sorted(
                PolicyErrorInfo(r.policy_id, r.error or "unknown")
                for r in results
                if r.value is Kleene.UNKNOWN
            )
        )
        return Response(decision, determining, errors, results)

    def __repr__(self) -> str:
        permits = sum(1 for p in self._policies if p.effect is Effect.PERMIT)
        return f"PolicySet({permits} permit, {len(self._policies) - permits} forbid)"
