"""A parsed, compiled set of policies, and its evaluation against requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
from lion.kernel.policy._templates import link_policy, parse_links
from lion.kernel.policy._values import EntityUID

__all__ = ["PolicySet"]

_EMPTY_ENTITIES = Entities()


class PolicySet:
    """Policies parsed and compiled once, evaluated many times.

    Policy ids must be unique. Policies whose action scope is ``action == A``
    are indexed by ``A``, so a request only evaluates the policies that can
    apply to its action. Templates (policies with a ``?principal`` or
    ``?resource`` slot) are kept apart and never evaluated; ``link`` and
    ``link_all`` return a new set with linked policies added.
    """

    __slots__ = (
        "_by_action",
        "_compiled",
        "_false",
        "_general",
        "_policies",
        "_templates",
        "limits",
    )

    def __init__(self, policies: Iterable[Policy] = (), limits: Limits = DEFAULT_LIMITS) -> None:
        given = tuple(policies)
        seen: set[str] = set()
        for policy in given:
            if not isinstance(policy, Policy):
                raise PolicyError(f"expected a `Policy`, got `{type(policy).__name__}`")
            if policy.id in seen:
                raise PolicyError(f"duplicate policy id `{policy.id}`")
            seen.add(policy.id)
        self._templates = {p.id: p for p in given if p.is_template}
        self._setup([p for p in given if not p.is_template], (), limits)

    def _setup(
        self, policies: list[Policy], compiled_before: tuple[CompiledPolicy, ...], limits: Limits
    ) -> None:
        """Compile the policies not compiled yet (``compiled_before`` is a prefix) and index."""
        self.limits = limits
        self._policies = tuple(policies)
        if len(self._policies) > limits.max_policies:
            raise PolicyError(f"policy set has more than {limits.max_policies} policies")
        compiled = list(compiled_before)
        for policy in self._policies[len(compiled) :]:
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
        """The static policies in file order, then the linked ones in link order."""
        return self._policies

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of ``policies``, in the same order."""
        return tuple(p.id for p in self._policies)

    @property
    def templates(self) -> tuple[str, ...]:
        """The template ids, in file order."""
        return tuple(self._templates)

    def template(self, template_id: str) -> Policy | None:
        """The template with this id, or None."""
        return self._templates.get(template_id)

    def link(self, template_id: str, new_id: str, slots: Mapping[str, Any]) -> PolicySet:
        """A new set with one more policy: template ``template_id`` with its slots filled.

        ``slots`` maps ``"?principal"`` / ``"?resource"`` to an entity uid in any
        form a request accepts. PolicyError on an unknown template, a missing or
        extra slot, or a ``new_id`` that is already a policy or template id.
        """
        return self._linked([(template_id, new_id, slots, "slots")])

    def link_all(self, links: Any) -> PolicySet:
        """A new set with every link of Cedar's JSON template-links form applied, in order:
        ``[{"templateId": "t", "newId": "l", "values": {"?principal": {...}}}, ...]``
        (JSON text or decoded). All or nothing: the first bad link raises PolicyError."""
        return self._linked(parse_links(links))

    def _linked(self, links: Iterable[tuple[str, str, Any, str]]) -> PolicySet:
        used = {p.id for p in self._policies} | set(self._templates)
        added: list[Policy] = []
        for template_id, new_id, slots, where in links:
            if not isinstance(new_id, str) or not new_id:
                raise PolicyError(f"a linked policy needs a non-empty string id, got {new_id!r}")
            template = self._templates.get(template_id)
            if template is None:
                what = (
                    "a static policy, not a template" if template_id in used else "not a template"
                )
                raise PolicyError(f"cannot link `{new_id}`: `{template_id}` is {what}")
            if new_id in used:
                kind = "template" if new_id in self._templates else "policy"
                raise PolicyError(f"cannot link `{new_id}`: a {kind} already has that id")
            added.append(link_policy(template, new_id, slots, where))
            used.add(new_id)
        result = object.__new__(PolicySet)
        result._templates = self._templates
        result._setup([*self._policies, *added], self._compiled, self.limits)
        return result

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
        extra = f", {len(self._templates)} templates" if self._templates else ""
        return f"PolicySet({permits} permit, {len(self._policies) - permits} forbid{extra})"
