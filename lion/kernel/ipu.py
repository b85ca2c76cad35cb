"""The Invariant Protection Unit: the one gate every effect passes.

`IPU.validate` decides one `EffectRequest` in three steps, stopping at the
first that says no:

1. capability: some token the request presents verifies (signature, chain,
   expiry, revocation), is held by the requesting principal, and covers the
   effect's resource and right;
2. policy: the policy says PERMIT; INDETERMINATE goes to the approver
   callback if there is one, else it is denied;
3. invariants: every registered invariant holds on the state the step would
   produce (`EffectRequest.after`).

It is fail-closed: a policy or invariant that raises, or returns something
that is not a decision or a bool, denies. Every verdict, permit or deny,
becomes exactly one `Observation` in the IPU's `ObservationLog`.
`IPU.execute` runs an effect only after a PERMIT (complete mediation).
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

import anyio

from lion.errors import CapabilityError, InvariantViolation, KernelError
from lion.kernel.backend import Authority
from lion.kernel.capability import CapabilityToken, decode_token
from lion.kernel.decision import Decision
from lion.kernel.observable import Effect, Observation, ObservationLog

__all__ = [
    "IPU",
    "Approver",
    "CapabilityDenied",
    "EffectDenied",
    "EffectRequest",
    "Execution",
    "InvariantDenied",
    "Policy",
    "PolicyResponse",
    "Predicate",
]

T = TypeVar("T")

Cause = Literal["capability", "policy", "approver", "invariant", "none"]


class PolicyResponse(Protocol):
    """What the IPU needs from a policy answer."""

    @property
    def decision(self) -> Decision:
        """PERMIT, DENY or INDETERMINATE."""
        ...

    @property
    def determining(self) -> Collection[str]:
        """The ids of the policies that determined the decision."""
        ...


class Policy(Protocol):
    """Anything with `evaluate(request, entities)`; lion.kernel.policy's PolicySet fits."""

    def evaluate(self, request: Any, entities: Any) -> PolicyResponse:
        """Decide `request` against `entities`."""
        ...


#: An invariant: called with the state the step would produce; must return True to hold.
Predicate = Callable[[Any], bool]
#: Called on INDETERMINATE with the request and the policy response; True approves.
Approver = Callable[["EffectRequest", PolicyResponse], "Awaitable[bool] | bool"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectRequest:
    """A request to perform `effect` on behalf of `principal`.

    `tokens` are the capability tokens presented (strings or parsed tokens).
    `after` is the state the step would produce; invariants are checked on it.
    `policy_request` and `entities` are handed to the policy as they are; when
    `policy_request` is None the IPU passes this EffectRequest itself (or what
    the IPU's `request_adapter` makes of it).
    """

    principal: str
    effect: Effect
    tokens: tuple[str | CapabilityToken, ...] = ()
    subject: uuid.UUID = field(default_factory=uuid.uuid4)
    after: Any = None
    policy_request: Any = None
    entities: Any = None


@dataclass(frozen=True, slots=True)
class Execution(Generic[T]):
    """The outcome of `IPU.execute`: the recorded observation and what `perform` returned."""

    observation: Observation
    result: T


class EffectDenied(KernelError):
    """The IPU denied an effect; `observation` is the recorded DENY, `cause` the failed check."""

    def __init__(self, observation: Observation, cause: str) -> None:
        self.observation = observation
        self.cause = cause
        super().__init__(f"effect `{observation.effect}` denied: {observation.reason}")


class CapabilityDenied(EffectDenied, CapabilityError):
    """Denied because no presented capability covers the effect."""


class InvariantDenied(EffectDenied, InvariantViolation):
    """Denied because the step would break (or could not check) an invariant."""


@dataclass(frozen=True, slots=True)
class _Verdict:
    decision: Decision
    reason: str
    cause: Cause
    requested: tuple[str, ...]
    granted: tuple[str, ...] = ()
    determining: tuple[str, ...] = ()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class IPU:
    """The Invariant Protection Unit: capabilities, then policy, then invariants.

    `invariants` is a mapping or iterable of (name, predicate), checked in
    registration order. `approver` resolves INDETERMINATE policy answers; it
    may be async; with `approval_timeout` (seconds) an approver that takes
    longer is a deny. `clock` stamps observations (seconds since the epoch).
    """

    def __init__(
        self,
        authority: Authority,
        policy: Policy,
        invariants: Mapping[str, Predicate] | Iterable[tuple[str, Predicate]] | None = None,
        *,
        approver: Approver | None = None,
        approval_timeout: float | None = None,
        log: ObservationLog | None = None,
        entities: Any = None,
        request_adapter: Callable[[EffectRequest], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authority = authority
        self.policy = policy
        self.approver = approver
        self.approval_timeout = approval_timeout
        self.log = log if log is not None else ObservationLog()
        self.entities = entities
        self.request_adapter = request_adapter
        self._clock = clock
        self._invariants: dict[str, Predicate] = {}
        pairs = invariants.items() if isinstance(invariants, Mapping) else (invariants or ())
        for name, predicate in pairs:
            self.register(name, predicate)

    def register(self, name: str, predicate: Predicate) -> None:
        """Add an invariant; names are unique and checked in registration order."""
        if not isinstance(name, str) or not name:
            raise KernelError(f"invariant name `{name!r}` is not valid: expected a non-empty str")
        if not callable(predicate):
            raise KernelError(f"invariant `{name}` is not callable")
        if name in self._invariants:
            raise KernelError(f"invariant `{name}` is already registered")
        self._invariants[name] = predicate

    @property
    def invariants(self) -> tuple[str, ...]:
        """The registered invariant names, in checking order."""
        return tuple(self._invariants)

    # --- the three checks ------------------------------------------------------------------

    def _check_capability(self, request: EffectRequest) -> _Verdict:
        effect = request.effect
        requested: list[str] = []
        problems: list[str] = []
        now = self.authority.now()
        tokens = request.tokens
        if isinstance(tokens, str | CapabilityToken):  # one token passed bare, not in a tuple
            tokens = (tokens,)
        for token in tokens:
            try:
                parsed = decode_token(token) if isinstance(token, str) else token
                if isinstance(parsed, CapabilityToken):
                    requested.append(parsed.id)
                cap = self.authority.authorize(
                    parsed, effect.resource, effect.action, holder=request.principal, now=now
                )
            except CapabilityError as exc:
                problems.append(exc.args[0] if exc.args else str(exc))
                continue
            return _Verdict(Decision.PERMIT, "", "none", tuple(requested), granted=(cap.id,))
        if not problems:
            reason = f"`{request.principal}` presented no capability for `{effect}`"
        else:
            reason = f"no presented capability covers `{effect}`: " + "; ".join(problems)
        return _Verdict(Decision.DENY, reason, "capability", tuple(requested))

    async def _check_policy(self, request: EffectRequest, base: _Verdict) -> _Verdict:
        entities = request.entities if request.entities is not None else self.entities
        try:
            if request.policy_request is not None:
                policy_request = request.policy_request
            elif self.request_adapter is not None:
                policy_request = self.request_adapter(request)
            else:
                policy_request = request
            response = self.policy.evaluate(policy_request, entities)
            decision = response.decision
            determining = tuple(sorted(str(pid) for pid in response.determining))
        except Exception as exc:  # fail closed: a broken policy denies
            return _deny(base, f"policy evaluation failed: {_describe(exc)}", "policy")
        if not isinstance(decision, Decision):
            return _deny(base, f"policy returned `{decision!r}`: expected a Decision", "policy")
        base = _Verdict(
            base.decision, base.reason, base.cause, base.requested, base.granted, determining
        )
        if decision is Decision.PERMIT:
            return base
        if decision is Decision.DENY:
            return _deny(base, "policy denied" + _by(determining), "policy")
        unknown = "policy is indeterminate" + _erroring(response)
        if self.approver is None:
            return _deny(base, f"{unknown} and no approver is configured", "policy")
        try:
            with anyio.fail_after(self.approval_timeout):
                answer = self.approver(request, response)
                if inspect.isawaitable(answer):
                    answer = await answer
        except Exception as exc:  # fail closed: a broken approver denies
            return _deny(base, f"{unknown}; approver failed: {_describe(exc)}", "approver")
        if answer is not True:
            return _deny(base, f"{unknown}; approver refused", "approver")
        return _Verdict(
            Decision.PERMIT,
            f"{unknown}; approver approved",
            "none",
            base.requested,
            base.granted,
            determining,
        )

    def _check_invariants(self, request: EffectRequest, base: _Verdict) -> _Verdict:
        for name, predicate in list(self._invariants.items()):
            try:
                holds = predicate(request.after)
            except Exception as exc:  # fail closed: an invariant that cannot be checked denies
                return _deny(base, f"invariant `{name}` raised {_describe(exc)}", "invariant")
            if not isinstance(holds, bool):
                return _deny(
                    base, f"invariant `{name}` returned `{holds!r}`: expected a bool", "invariant"
                )
            if not holds:
                return _deny(base, f"invariant `{name}` would be broken", "invariant")
        return base

    async def _decide(self, request: EffectRequest) -> _Verdict:
        if not isinstance(request, EffectRequest):
            raise KernelError(f"expected an EffectRequest, got `{type(request).__name__}`")
        if not isinstance(request.effect, Effect):
            raise KernelError(f"expected an Effect, got `{type(request.effect).__name__}`")
        verdict = self._check_capability(request)
        if verdict.decision is not Decision.PERMIT:
            return verdict
        verdict = await self._check_policy(request, verdict)
        if verdict.decision is not Decision.PERMIT:
            return verdict
        verdict = self._check_invariants(request, verdict)
        if verdict.decision is not Decision.PERMIT:
            return verdict
        granted = ", ".join(f"`{g}`" for g in verdict.granted)
        why = f"capability {granted}, policy" + _by(verdict.determining)
        if verdict.reason:
            why = f"{why}; {verdict.reason}"
        if self._invariants:
            names = ", ".join(f"`{name}`" for name in self._invariants)
            why = f"{why}; invariants {names} hold"
        return _Verdict(
            Decision.PERMIT,
            f"permitted by {why}",
            "none",
            verdict.requested,
            verdict.granted,
            verdict.determining,
        )

    def _record(
        self,
        request: EffectRequest,
        verdict: _Verdict,
        effects: tuple[Effect, ...] = (),
        note: str = "",
    ) -> Observation:
        return self.log.append(
            Observation(
                subject=request.subject,
                effect=request.effect,
                principal=request.principal,
                decision=verdict.decision,
                reason=verdict.reason + note,
                requested=verdict.requested,
                granted=verdict.granted,
                determining=verdict.determining,
                effects=effects,
                timestamp=self._clock(),
            )
        )

    # --- public entry points ---------------------------------------------------------------

    async def validate(self, request: EffectRequest) -> Observation:
        """Decide `request` and record the verdict; returns the recorded Observation."""
        verdict = await self._decide(request)
        return self._record(request, verdict)

    @overload
    async def execute(
        self, request: EffectRequest, perform: Callable[[], Awaitable[T]]
    ) -> Execution[T]: ...
    @overload
    async def execute(self, request: EffectRequest, perform: Callable[[], T]) -> Execution[T]: ...
    async def execute(
        self, request: EffectRequest, perform: Callable[[], Awaitable[T] | T]
    ) -> Execution[T]:
        """Run `perform` only if `request` is permitted; record the verdict and the effect.

        A deny is recorded and raised as EffectDenied (CapabilityDenied or
        InvariantDenied for those causes); `perform` is not called. On a
        permit, `perform` runs and the one observation, with the effect
        performed, is recorded when it returns or fails (a failure is noted
        in the reason, the effect left out, and the exception re-raised).
        """
        verdict = await self._decide(request)
        if verdict.decision is not Decision.PERMIT:
            observation = self._record(request, verdict)
            raise _denied(observation, verdict.cause)
        failure = "; perform did not finish"
        effects: tuple[Effect, ...] = ()
        try:
            outcome = perform()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            result: T = outcome
            failure, effects = "", (request.effect,)
        except BaseException as exc:
            failure = f"; perform failed: {_describe(exc)}"
            raise
        finally:
            observation = self._record(request, verdict, effects, failure)
        return Execution(observation, result)


def _by(determining: tuple[str, ...]) -> str:
    if not determining:
        return ""
    return " (determining: " + ", ".join(f"`{p}`" for p in determining) + ")"


def _erroring(response: object) -> str:
    """The erroring policy ids, if the response says (lion.kernel.policy's Response does)."""
    try:
        ids = tuple(str(pid) for pid in getattr(response, "erroring", ()))
    except Exception:  # an explanation only; never let it break the decision
        return ""
    return " (erroring: " + ", ".join(f"`{p}`" for p in ids) + ")" if ids else ""


def _deny(base: _Verdict, reason: str, cause: Cause) -> _Verdict:
    return _Verdict(Decision.DENY, reason, cause, base.requested, base.granted, base.determining)


def _denied(observation: Observation, cause: str) -> EffectDenied:
    if cause == "capability":
        return CapabilityDenied(observation, cause)
    if cause == "invariant":
        return InvariantDenied(observation, cause)
    return EffectDenied(observation, cause)
