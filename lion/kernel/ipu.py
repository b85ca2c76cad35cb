"""The Invariant Protection Unit: the one gate every effect passes.

`IPU.execute` decides one `EffectRequest` and runs it only on a PERMIT:

1. capability: some presented token verifies (signature, chain, expiry,
   revocation), is held by the requesting principal, and covers the effect;
2. policy: the policy, asked about the request the IPU's adapter builds from
   the effect itself, says PERMIT; INDETERMINATE goes to the approver if there
   is one, else it is denied. An approver is an await point, so after it the
   capability is authorized again: a token revoked or expired while the
   approver thought is a deny;
3. invariants: each registered invariant holds on the IPU's ledger as it
   would be with this effect's costs reserved (``committed + reserved +
   costs``); the check and the reservation are one atomic step, so two
   concurrent effects can never both be admitted on the same headroom.

Then `perform` runs; when it returns the reservation is committed, when it
fails it is released. Nothing awaits between the last check and the start of
`perform`. The IPU is fail-closed (a policy, approver or invariant that
raises or answers something odd denies) and every verdict, permit or deny,
becomes exactly one `Observation` in its `ObservationLog`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import anyio

from lion.errors import CapabilityError, InvariantViolation, KernelError
from lion.kernel.backend import Authority
from lion.kernel.capability import CapabilityToken, decode_token
from lion.kernel.decision import Decision
from lion.kernel.effects import (
    DEFER,
    Approver,
    CapabilityDenied,
    Cause,
    Defer,
    EffectDeferred,
    EffectDenied,
    EffectRequest,
    Execution,
    InvariantDenied,
    Policy,
    PolicyResponse,
    Predicate,
    cedar_request,
    describe_error,
)
from lion.kernel.ledger import Counters, Ledger, Reservation, check_costs, exceeds
from lion.kernel.observable import Effect, Observation, ObservationLog

__all__ = [
    "DEFER",
    "IPU",
    "Approver",
    "CapabilityDenied",
    "Defer",
    "EffectDeferred",
    "EffectDenied",
    "EffectRequest",
    "Execution",
    "InvariantDenied",
    "Policy",
    "PolicyResponse",
    "Predicate",
    "cedar_request",
    "describe_error",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Verdict:
    decision: Decision
    reason: str
    cause: Cause
    requested: tuple[str, ...]
    granted: tuple[str, ...] = ()
    determining: tuple[str, ...] = ()

    @property
    def permits(self) -> bool:
        return self.decision is Decision.PERMIT


@dataclass(frozen=True, slots=True)
class _Ask:
    """An INDETERMINATE policy answer that goes to the approver."""

    base: _Verdict
    response: Any
    unknown: str  # why the policy could not decide, for the reason


class IPU:
    """The Invariant Protection Unit: capabilities, then policy, then invariants.

    `invariants` is a mapping or iterable of (name, predicate), checked in
    registration order on the ledger's counters; `budgets` adds one
    invariant ``budget `name``` per entry (the counter stays at or below the
    limit); `state` gives the counters' starting values (e.g. carried over
    from an earlier run), on which every invariant must hold. `approver`
    resolves INDETERMINATE policy answers; it may be async; with
    `approval_timeout` (seconds) an approver that takes longer is a deny.
    `request_adapter` builds the policy request from an EffectRequest
    (default `cedar_request`); `entities` are what the policy sees. `clock`
    stamps observations (seconds since the epoch).
    """

    def __init__(
        self,
        authority: Authority,
        policy: Policy,
        invariants: Mapping[str, Predicate] | Iterable[tuple[str, Predicate]] | None = None,
        *,
        budgets: Mapping[str, int] | None = None,
        state: Mapping[str, int] | None = None,
        approver: Approver | None = None,
        approval_timeout: float | None = None,
        log: ObservationLog | None = None,
        entities: Any = None,
        request_adapter: Callable[[EffectRequest], Any] = cedar_request,
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
        self._ledger = Ledger(state)
        self._invariants: dict[str, Predicate] = {}
        pairs = invariants.items() if isinstance(invariants, Mapping) else (invariants or ())
        for name, predicate in pairs:
            self.register(name, predicate)
        for counter, limit in check_costs(budgets or {}, "budgets").items():
            self.register(f"budget `{counter}`", _within(counter, limit))

    def register(self, name: str, predicate: Predicate) -> None:
        """Add an invariant; names are unique and checked in registration order.

        It must hold on the current counters (committed and reserved), and no
        effect may be in flight: effects admitted before it never checked it.
        """
        if not isinstance(name, str) or not name:
            raise KernelError(f"invariant name `{name!r}` is not valid: expected a non-empty str")
        if not callable(predicate):
            raise KernelError(f"invariant `{name}` is not callable")
        if name in self._invariants:
            raise KernelError(f"invariant `{name}` is already registered")
        if self._ledger.in_flight:
            raise KernelError(
                f"cannot register invariant `{name}` while {self._ledger.in_flight} effects "
                "are in flight: they were admitted without it"
            )
        problem = _broken({name: predicate}, self._ledger.projected())
        if problem is not None:
            raise InvariantViolation(f"cannot register: {problem} on the current state")
        self._invariants[name] = predicate

    @property
    def invariants(self) -> tuple[str, ...]:
        """The registered invariant names, in checking order."""
        return tuple(self._invariants)

    @property
    def committed(self) -> Counters:
        """The counters of the effects that completed."""
        return self._ledger.committed

    @property
    def reserved(self) -> Counters:
        """The costs reserved by effects admitted and still performing."""
        return self._ledger.reserved

    @property
    def projected(self) -> Counters:
        """Committed plus reserved: what the next admission is checked against."""
        return self._ledger.projected()

    @property
    def in_flight(self) -> int:
        """How many admitted effects are still performing."""
        return self._ledger.in_flight

    # --- the checks ------------------------------------------------------------------------

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
                # the authority parses the token itself; it is parsed here only for the record
                cap = self.authority.authorize(
                    token, effect.resource, effect.action, holder=request.principal, now=now
                )
            except CapabilityError as exc:
                problems.append(exc.args[0] if exc.args else str(exc))
                token_id = _token_id(token)
                if token_id is not None:
                    requested.append(token_id)
                continue
            requested.append(cap.id)
            return _Verdict(Decision.PERMIT, "", "none", tuple(requested), granted=(cap.id,))
        if not problems:
            reason = f"`{request.principal}` presented no capability for `{effect}`"
        else:
            reason = f"no presented capability covers `{effect}`: " + "; ".join(problems)
        return _Verdict(Decision.DENY, reason, "capability", tuple(requested))

    def _check_policy(self, request: EffectRequest, base: _Verdict) -> _Verdict | _Ask:
        """The policy's verdict, or an `_Ask` when it is INDETERMINATE and an approver may say."""
        try:
            response = self.policy.evaluate(self.request_adapter(request), self.entities)
            decision = response.decision
            determining = tuple(sorted(map(str, response.determining)))
        except Exception as exc:  # fail closed: a broken policy or adapter denies
            return _deny(base, f"policy evaluation failed: {describe_error(exc)}", "policy")
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
        return _Ask(base, response, unknown)

    async def _ask_approver(self, request: EffectRequest, ask: _Ask) -> _Verdict:
        """The approver's answer to an INDETERMINATE policy (the only await in a decision)."""
        base, unknown = ask.base, ask.unknown
        assert self.approver is not None  # _check_policy asks only when there is one
        try:
            with anyio.fail_after(self.approval_timeout):
                answer = self.approver(request, ask.response)
                if inspect.isawaitable(answer):
                    answer = await answer
        except Exception as exc:  # fail closed: a broken approver denies
            return _deny(base, f"{unknown}; approver failed: {describe_error(exc)}", "approver")
        if answer is DEFER:
            return _Verdict(
                Decision.INDETERMINATE,
                f"{unknown}; deferred to a later decision",
                "deferred",
                base.requested,
                base.granted,
                base.determining,
            )
        if answer is not True:
            return _deny(base, f"{unknown}; approver refused", "approver")
        return _Verdict(
            Decision.PERMIT,
            f"{unknown}; approver approved",
            "none",
            base.requested,
            base.granted,
            base.determining,
        )

    def _recheck_capability(self, request: EffectRequest, base: _Verdict) -> _Verdict:
        """After an await: the capability must still cover the effect now."""
        again = self._check_capability(request)
        if again.permits:
            return base
        return _Verdict(
            Decision.DENY,
            f"{base.reason}, but the capability no longer covers it: {again.reason}",
            "capability",
            base.requested,
            (),
            base.determining,
        )

    def _check_invariants(self, counters: Counters) -> str | None:
        return _broken(self._invariants, counters)

    async def _decide(self, request: EffectRequest) -> _Verdict:
        """Capability, policy (with approver), and the re-check after the approver's await."""
        if not isinstance(request, EffectRequest):
            raise KernelError(f"expected an EffectRequest, got `{type(request).__name__}`")
        if not isinstance(request.effect, Effect):
            raise KernelError(f"expected an Effect, got `{type(request.effect).__name__}`")
        verdict = self._check_capability(request)
        if not verdict.permits:
            return verdict
        checked = self._check_policy(request, verdict)
        if isinstance(checked, _Verdict):
            return checked
        verdict = await self._ask_approver(request, checked)
        if verdict.permits:  # the approver's await came between: check the capability again
            verdict = self._recheck_capability(request, verdict)
        return verdict

    def _permit_reason(self, verdict: _Verdict, costs: Mapping[str, int]) -> str:
        why = f"capability {_quoted(verdict.granted)}, policy{_by(verdict.determining)}"
        if verdict.reason:
            why = f"{why}; {verdict.reason}"
        if self._invariants:
            why = f"{why}; invariants {_quoted(self._invariants)} hold"
        if costs:
            why += "; reserved " + ", ".join(f"{k}={v}" for k, v in sorted(costs.items()))
        return f"permitted by {why}"

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

    def _permitted(self, verdict: _Verdict, reserved: Mapping[str, int]) -> _Verdict:
        """The final PERMIT, its reason naming every check that passed."""
        return _Verdict(
            Decision.PERMIT,
            self._permit_reason(verdict, reserved),
            "none",
            verdict.requested,
            verdict.granted,
            verdict.determining,
        )

    def _admit(
        self, request: EffectRequest, verdict: _Verdict
    ) -> tuple[_Verdict, Reservation | None]:
        """The invariants on the counters with this effect reserved; reserve if they hold."""
        if not verdict.permits:
            return verdict, None
        # no invariants, nothing to check: skip building the projected counters
        check = self._check_invariants if self._invariants else None
        if request.hold is not None:  # a batch's reservation, checked when it was made
            admitted = self._ledger.draw(request.hold, request.costs)
        else:
            admitted = self._ledger.admit(request.costs, check)
        if isinstance(admitted, str):
            return _deny(verdict, admitted, "invariant"), None
        return self._permitted(verdict, request.costs), admitted

    # --- public entry points ---------------------------------------------------------------

    def reserve(self, costs: Mapping[str, int]) -> Reservation:
        """Hold `costs` for a batch of effects, checked against the invariants as one step.

        Each effect of the batch names the hold (`EffectRequest.hold`) and
        draws its costs from it; `release` gives back what is left. If the
        batch as a whole does not fit, the hold is refused (`refusal` says
        which invariant) and every effect that draws on it is denied and recorded.
        """
        admitted = self._ledger.admit(costs, self._check_invariants)
        if isinstance(admitted, str):
            return Reservation({}, refusal=f"the batch does not fit: {admitted}")
        return admitted

    def release(self, hold: Reservation) -> None:
        """Give back what is left of a batch's hold (a refused hold needs no release)."""
        if hold.refusal is None:
            self._ledger.release(hold)

    async def validate(self, request: EffectRequest) -> Observation:
        """Decide `request` and record the verdict; nothing is reserved or performed."""
        verdict = await self._decide(request)
        if verdict.permits:
            problem = self._check_invariants(self._ledger.projected(request.costs))
            verdict = (
                _deny(verdict, problem, "invariant")
                if problem is not None
                else self._permitted(verdict, {})
            )
        return self._record(request, verdict)

    @overload
    async def execute(
        self,
        request: EffectRequest,
        perform: Callable[[], Awaitable[T]],
        *,
        spent: Callable[[T], Mapping[str, int]] | None = None,
    ) -> Execution[T]: ...
    @overload
    async def execute(
        self,
        request: EffectRequest,
        perform: Callable[[], T],
        *,
        spent: Callable[[T], Mapping[str, int]] | None = None,
    ) -> Execution[T]: ...
    async def execute(
        self,
        request: EffectRequest,
        perform: Callable[[], Awaitable[T] | T],
        *,
        spent: Callable[[T], Mapping[str, int]] | None = None,
    ) -> Execution[T]:
        """Run `perform` only if `request` is permitted; record the verdict and the effect.

        A deny is recorded and raised as EffectDenied (CapabilityDenied or
        InvariantDenied for those causes); `perform` is not called. On a
        permit the effect's costs are reserved and `perform` starts with no
        await in between; the one observation, with the effect performed, is
        recorded when it returns (the reservation committed) or fails (the
        reservation released, the failure noted in the reason, the effect
        left out, and the exception re-raised).

        `costs` are an upper bound when the real use is known only afterwards
        (a model's tokens): `spent(result)` then says what was used, and only
        that is committed; a report above the reservation is cut to it and
        noted in the reason (nothing can spend what was not reserved).
        """
        verdict, reservation = self._admit(request, await self._decide(request))
        if reservation is None:
            observation = self._record(request, verdict)
            raise _denied(observation, verdict.cause)
        try:
            outcome = perform()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            result: T = outcome
        except BaseException as exc:
            self._ledger.release(reservation)
            self._record(request, verdict, (), f"; perform failed: {describe_error(exc)}")
            raise
        if spent is None:
            self._ledger.commit(reservation)
            return Execution(self._record(request, verdict, (request.effect,)), result)
        used, note = _within_reservation(spent, result, reservation.costs)
        self._ledger.commit(reservation, used)
        return Execution(self._record(request, verdict, (request.effect,), note), result)


def _within_reservation(
    spent: Callable[[T], Mapping[str, int]], result: T, reserved: Mapping[str, int]
) -> tuple[dict[str, int], str]:
    """What `spent` reports, cut to the reservation; and the note the record carries."""
    try:
        reported = check_costs(spent(result), "spent")
    except Exception as exc:  # the effect happened: charge the whole reservation
        return dict(reserved), f"; spent unknown ({describe_error(exc)}): charged as reserved"
    over = exceeds(reported, reserved)
    used = {k: min(v, reserved.get(k, 0)) for k, v in reported.items()}
    note = "; spent " + (", ".join(f"{k}={v}" for k, v in sorted(used.items())) or "nothing")
    if over:
        shown = ", ".join(f"{k} by {v}" for k, v in sorted(over.items()))
        note += f" (reported more than reserved, {shown}: cut to the reservation)"
    return used, note


def _token_id(token: object) -> str | None:
    """The id a presented token grants, if it parses (for `Observation.requested`)."""
    if isinstance(token, CapabilityToken):
        return token.id
    try:
        return decode_token(token).id
    except CapabilityError:
        return None


def _within(counter: str, limit: int) -> Predicate:
    def within(counters: Counters) -> bool:
        return counters[counter] <= limit

    within.__qualname__ = f"budget({counter!r} <= {limit})"
    return within


def _broken(invariants: Mapping[str, Predicate], counters: Counters) -> str | None:
    """Why the invariants do not all hold on `counters` (first in order), or None."""
    for name, predicate in list(invariants.items()):
        try:
            holds = predicate(counters)
        except Exception as exc:  # fail closed: an invariant that cannot be checked denies
            return f"invariant `{name}` raised {describe_error(exc)}"
        if not isinstance(holds, bool):
            return f"invariant `{name}` returned `{holds!r}`: expected a bool"
        if not holds:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(counters.items())) or "all 0"
            return f"invariant `{name}` would be broken (counters would be {shown})"
    return None


def _quoted(names: Iterable[str]) -> str:
    """```a`, `b```: names as reasons show them (a join, not a generator: the hot path)."""
    return "`" + "`, `".join(names) + "`"


def _by(determining: tuple[str, ...]) -> str:
    return f" (determining: {_quoted(determining)})" if determining else ""


def _erroring(response: object) -> str:
    """The erroring policy ids, if the response says (lion.kernel.policy's Response does)."""
    try:
        ids = tuple(str(pid) for pid in getattr(response, "erroring", ()))
    except Exception:  # an explanation only; never let it break the decision
        return ""
    return f" (erroring: {_quoted(ids)})" if ids else ""


def _deny(base: _Verdict, reason: str, cause: Cause) -> _Verdict:
    return _Verdict(Decision.DENY, reason, cause, base.requested, base.granted, base.determining)


def _denied(observation: Observation, cause: str) -> EffectDenied:
    if cause == "capability":
        return CapabilityDenied(observation, cause)
    if cause == "invariant":
        return InvariantDenied(observation, cause)
    if cause == "deferred":
        return EffectDeferred(observation, cause)
    return EffectDenied(observation, cause)
