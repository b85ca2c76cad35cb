"""What the IPU is asked and what it answers: requests, protocols, denials.

`EffectRequest` is one effect a principal asks for; `cedar_request` the
default policy request built from it; `Execution` what a permitted effect
returns; `EffectDenied` and its kinds what a refused one raises. The IPU
itself is in lion.kernel.ipu, which re-exports all of these.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Generic, Literal, Protocol, TypeVar

from lion.errors import CapabilityError, InvariantViolation, KernelError
from lion.kernel.capability import CapabilityToken
from lion.kernel.decision import Decision
from lion.kernel.ledger import Counters, Reservation, check_costs
from lion.kernel.observable import Effect, Observation, new_id

__all__ = [
    "DEFER",
    "Approver",
    "CapabilityDenied",
    "Cause",
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

Cause = Literal["capability", "policy", "approver", "deferred", "invariant", "none"]


class Defer:
    """What an approver answers to leave the decision to later (a person, another process).

    The effect is not performed; it is recorded as INDETERMINATE and
    `execute` raises EffectDeferred, whose observation names the call.
    """

    _instance: Defer | None = None

    def __new__(cls) -> Defer:  # one value, compared with `is`
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFER"


DEFER: Final = Defer()


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


#: An invariant: called with the ledger's counters as they would be; True means it holds.
#: It must be downward closed (holding for some counters, it holds for smaller ones).
Predicate = Callable[[Counters], bool]
#: Called on INDETERMINATE with the request and the policy response; True approves.
Approver = Callable[["EffectRequest", PolicyResponse], "Awaitable[bool | Defer] | bool | Defer"]


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectRequest:
    """A request to perform `effect` on behalf of `principal`.

    `tokens` are the capability tokens presented (strings or parsed tokens).
    `costs` are what the effect adds to the IPU's counters (non-negative
    ints, e.g. ``{"spent": 3}``); they are reserved at admission. `context`
    describes the effect (a tool's validated arguments) and goes into the
    policy request the IPU builds; the principal, action and resource of that
    request always come from `principal` and `effect`. `hold` is a batch's
    reservation (`IPU.reserve`): the costs are drawn from it instead of being
    checked alone, so a batch admitted as a whole cannot be cut short.
    """

    principal: str
    effect: Effect
    tokens: tuple[str | CapabilityToken, ...] = ()
    subject: uuid.UUID = field(default_factory=new_id)
    costs: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    hold: Reservation | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "costs", _frozen(check_costs(self.costs)))
        if not isinstance(self.context, Mapping):
            raise KernelError(f"context must be a mapping, got `{type(self.context).__name__}`")
        object.__setattr__(self, "context", _frozen(self.context))
        if self.hold is not None and not isinstance(self.hold, Reservation):
            raise KernelError(f"hold must be a Reservation, got `{type(self.hold).__name__}`")


def cedar_request(request: EffectRequest) -> dict[str, Any]:
    """The default policy request, from the effect itself.

    `Agent::"<principal>"` does `Action::"<action>"` on `Resource::"<resource>"`, with
    the request's context.
    """
    return {
        "principal": {"type": "Agent", "id": request.principal},
        "action": {"type": "Action", "id": request.effect.action},
        "resource": {"type": "Resource", "id": request.effect.resource},
        "context": dict(request.context),
    }


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


class EffectDeferred(EffectDenied):
    """Not performed, and not refused either: the approver deferred the decision (DEFER).

    The observation is INDETERMINATE; a later decision for exactly this call
    runs it through the IPU again.
    """


def describe_error(exc: BaseException) -> str:
    """``Type: message`` (or just ``Type``), as the IPU writes failures into reasons."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
