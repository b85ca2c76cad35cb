"""`spec/integration.lion` machine `Runner` <-> the IPU (`lion.kernel.ipu`).

A real `IPU` with a real capability authority and `ObservationLog`:
principal `who` holds one capability per operation it is granted
(resource `tool/<op>`, right `call`), and every request presents all of
them, so the IPU must pick the one that covers the effect. The policy's
decision and the approver's answer are spec inputs, so the policy is a stub
that answers the step's decision and the approver (absent for `none`)
answers the step's `approved`. The invariant `spend_limit` is registered
with the IPU and checked on the spend the step would reach.

Every reported state variable is read off the kernel: `holds` from which
tokens still verify, `permitted`/`executed` from the log's verdicts and
recorded effects, `log_len`/`last_seq` from the log itself; `spent` is the
world that `perform` changes. The adapter counts `decisions` (calls made).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from lion.errors import CapabilityError
from lion.kernel.backend import get_backend
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, EffectDenied, EffectRequest
from lion.kernel.observable import Effect
from lion.verify.bindings.capabilities import KEY
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = ["RunnerModel", "RustRunnerModel"]

WHO = ("Alice", "Bob")
OPS = ("Search", "Send", "Pay")
SPEND_LIMIT = 1
MAX_DECISIONS = 6  # the spec's model bound
_COST = {"Search": 0, "Send": 0, "Pay": 1}


@dataclass(frozen=True)
class _Answer:
    decision: Decision
    determining: Collection[str] = ()


class _DecisionIsInput:
    """A policy whose answer is the step's input decision (passed as the policy request)."""

    def evaluate(self, request: Any, entities: Any) -> _Answer:
        return _Answer(request)


def _resource(op: str) -> str:
    return f"tool/{op}"


def _request(who: str, op: str) -> RecordValue:
    return RecordValue("Request", {"who": EnumValue("Who", who), "op": EnumValue("Op", op)})


class RunnerModel:
    """The spec's `Runner` machine, played by an IPU on a backend's authority."""

    backend: ClassVar[str] = "python"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.authority = get_backend(self.backend).authority(KEY, clock=lambda: 0)
        self.ipu = IPU(
            self.authority,
            _DecisionIsInput(),
            {"spend_limit": lambda after: after <= SPEND_LIMIT},
        )
        self.tokens: dict[tuple[str, str], Any] = {}
        self.spent = 0
        self.decisions = 0

    def __del__(self) -> None:
        self.loop.close()

    def init(self, h: MapValue) -> bool:
        for who, ops in h.items():
            for op in ops:
                key = (who.variant, op.variant)
                self.tokens[key] = self.authority.mint(
                    who.variant, _resource(op.variant), ["call"], 2**40, id=f"{key[0]}-{key[1]}"
                )
        return True

    def _effect_request(self, r: RecordValue, d: EnumValue) -> EffectRequest:
        who, op = r["who"].variant, r["op"].variant
        return EffectRequest(
            principal=who,
            effect=Effect(action="call", resource=_resource(op)),
            tokens=tuple(t for (w, _), t in self.tokens.items() if w == who),
            after=self.spent + _COST[op],
            policy_request=Decision[d.variant],
        )

    def step(self, action: str, *args: Any) -> bool:
        if action in ("validate", "execute"):
            r, d, approved = args
            if self.decisions >= MAX_DECISIONS:
                return False
            self.ipu.approver = None if approved is None else (lambda req, resp: approved)
            request = self._effect_request(r, d)
            self.decisions += 1
            if action == "validate":
                self.loop.run_until_complete(self.ipu.validate(request))
                return True

            def perform() -> None:
                self.spent += _COST[r["op"].variant]

            with contextlib.suppress(EffectDenied):  # a deny is recorded, then raised
                self.loop.run_until_complete(self.ipu.execute(request, perform))
            return True
        if action == "revoke":
            w, e = args
            token = self.tokens.get((w.variant, e.variant))
            if token is not None:
                self.authority.revoke(token)
            return True
        raise ValueError(f"unknown action `{action}`")

    def _holds(self, who: str, op: str) -> bool:
        token = self.tokens.get((who, op))
        if token is None:
            return False
        try:
            self.authority.verify(token)
        except CapabilityError:
            return False
        return True

    def state(self) -> dict[str, Any]:
        log = self.ipu.log.snapshot()
        permitted = frozenset(
            _request(o.principal, o.effect.resource.removeprefix("tool/"))
            for o in log
            if o.decision is Decision.PERMIT
        )
        executed = frozenset(
            _request(o.principal, e.resource.removeprefix("tool/")) for o in log for e in o.effects
        )
        return {
            "holds": MapValue(
                {
                    EnumValue("Who", w): frozenset(
                        EnumValue("Op", op) for op in OPS if self._holds(w, op)
                    )
                    for w in WHO
                }
            ),
            "executed": executed,
            "permitted": permitted,
            "spent": self.spent,
            "decisions": self.decisions,
            "log_len": len(log),
            "last_seq": log[-1].sequence + 1 if log else 0,
        }


class RustRunnerModel(RunnerModel):
    """The same machine with the Rust core's capability authority behind the IPU."""

    backend = "rust"
