"""`spec/integration.lion` machine `Runner` <-> the IPU (`lion.kernel.ipu`), concurrently.

A real `IPU` with a real capability authority, ledger and `ObservationLog`
runs up to three `execute` calls at once, one per lane, on a private event
loop. The adapter is the scheduler: each spec action resumes exactly one
await point of the real code and then lets the loop run until every task is
parked again, so a run is a deterministic interleaving that replays from its
recorded actions.

- `arrive(i, r)` starts `ipu.execute` for request `r` in lane `i`; it runs
  the capability check and the policy, then parks in the approver (policy
  INDETERMINATE), in `perform` (admitted), or ends with a recorded DENY.
- `approve(i, yes)` answers the approver parked in lane `i`.
- `finish(i, ok)` lets the `perform` parked in lane `i` return or raise.
- `revoke(r)` revokes, on the authority, the capability covering request `r`.

The policy answers from a table keyed by the effect the IPU asks about (the
spec's `policy`), so it can only answer for the effect itself. Every other
variable is read off the implementation: a lane's status from its task and
its one observation (decision, reason, granted, determining and effects must
all fit the status exactly, else the status is reported as the
observation's raw text and cannot match), `performs` from calls to
`perform`, `recorded` from the log entries about the lane's call, `spent`
and `reserved` from the IPU's ledger, `log_len` from the log (only if its
sequence numbers are 0, 1, 2, ...), and the ghost `sound` from an
independent check, when `perform` starts, that the lane's token verifies
and the table permitted that request (or the approver said yes).
"""

from __future__ import annotations

import asyncio
import atexit
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lion.errors import CapabilityError
from lion.kernel.backend import get_backend
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, EffectDenied, EffectRequest, PolicyResponse
from lion.kernel.observable import Effect, Observation
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = ["RunnerModel", "RustRunnerModel"]

KEY = b"lion-conformance-integration-key-0123456789"
WHO = ("Alice", "Bob")
OPS = ("Search", "Send", "Pay")
SPEND_LIMIT = 1
MAX_ARRIVALS = 6
_COST = {"Search": 0, "Send": 0, "Pay": 1}
_SETTLE_ROUNDS = 20  # loop iterations that park every task again (each call needs < 10)


@dataclass(frozen=True)
class _Answer:
    decision: Decision
    determining: Collection[str] = ()


class _PolicyTable:
    """The spec's `policy`: one decision per (principal, operation) of the effect asked about."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str], Decision] = {}

    def evaluate(self, request: Any, entities: Any) -> _Answer:
        assert isinstance(request, EffectRequest)
        key = (request.principal, request.effect.resource.removeprefix("tool/"))
        decision = self.table[key]
        determining = () if decision is Decision.INDETERMINATE else (f"p-{key[0]}-{key[1]}",)
        return _Answer(decision, determining)


class _PerformFailed(Exception):
    pass


@dataclass(eq=False)
class _Call:
    who: str
    op: str
    subject: uuid.UUID = field(default_factory=uuid.uuid4)
    task: asyncio.Task[Any] | None = None
    approval: asyncio.Future[bool] | None = None
    finish: asyncio.Future[bool] | None = None
    approved: bool = False
    performs: int = 0

    def open(self) -> bool:
        return self.task is not None and not self.task.done()


_LOOP: asyncio.AbstractEventLoop | None = None
_DRAINING: set[asyncio.Task[Any]] = set()


def _shared_loop() -> asyncio.AbstractEventLoop:
    """One private loop for every adapter: a run never nests inside another's loop."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
        _LOOP.set_exception_handler(_quiet_about_dropped_calls)
        atexit.register(_drain, _LOOP)
    return _LOOP


def _quiet_about_dropped_calls(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A run that ends leaves calls parked in the approver or in perform; dropping them
    # at interpreter exit is expected. Anything else is reported as asyncio would.
    if str(context.get("message", "")).startswith("Task was destroyed but it is pending"):
        return
    loop.default_exception_handler(context)


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """At exit: let the cancelled calls of dropped adapters finish, then close the loop."""
    if not loop.is_closed() and not loop.is_running():
        pending = list(asyncio.all_tasks(loop))
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


# decision, granted, determining, effects, reason prefix(es), a phrase the reason must contain
_Ids = tuple[str, ...]
_Shape = tuple[Decision, _Ids, _Ids, tuple[Effect, ...], str | _Ids, str | None]


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _request(who: str, op: str) -> RecordValue:
    return RecordValue("Request", {"who": EnumValue("Who", who), "op": EnumValue("Op", op)})


def _status(name: str) -> EnumValue:
    return EnumValue("Status", name)


class RunnerModel:
    """The spec's `Runner` machine, played by an IPU on a backend's authority."""

    backend: ClassVar[str] = "python"

    def __init__(self) -> None:
        self.loop = _shared_loop()
        self.authority = get_backend(self.backend).authority(KEY, clock=lambda: 0)
        self.policy = _PolicyTable()
        self.ipu = IPU(
            self.authority,
            self.policy,
            budgets={"spent": SPEND_LIMIT},
            approver=self._approver,
            request_adapter=lambda request: request,
        )
        self.tokens: dict[tuple[str, str], Any] = {}
        self.lanes: dict[str, _Call] = {}
        self.by_subject: dict[uuid.UUID, _Call] = {}
        self.arrivals = 0
        self.sound = True

    def __del__(self) -> None:
        # Calls still parked are cancelled; the shared loop finishes them on its next run.
        for call in getattr(self, "lanes", {}).values():
            if call.task is not None and not call.task.done():
                call.task.cancel()
                _DRAINING.add(call.task)  # keep it alive until the loop has run it out
                call.task.add_done_callback(_DRAINING.discard)

    # --- the await points the adapter controls -----------------------------------------------

    async def _approver(self, request: EffectRequest, response: PolicyResponse) -> bool:
        call = self.by_subject[request.subject]
        call.approval = self.loop.create_future()
        answer = await call.approval
        call.approved = answer
        return answer

    def _perform(self, call: _Call) -> Any:
        async def perform() -> None:
            call.performs += 1
            # the ghost `sound`, checked independently of the IPU at the moment perform starts
            decision = self.policy.table[(call.who, call.op)]
            permitted = decision is Decision.PERMIT or (
                decision is Decision.INDETERMINATE and call.approved
            )
            self.sound = self.sound and self._holds(call.who, call.op) and permitted
            call.finish = self.loop.create_future()
            if not await call.finish:
                raise _PerformFailed("perform raised")

        return perform

    async def _settle(self) -> None:
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)

    def _run(self) -> None:
        self.loop.run_until_complete(self._settle())

    # --- the machine interface ---------------------------------------------------------------

    def init(self, p: MapValue, h: MapValue) -> bool:
        for request, decision in p.items():
            self.policy.table[(request["who"].variant, request["op"].variant)] = Decision[
                decision.variant
            ]
        for who, ops in h.items():
            for op in ops:
                key = (who.variant, op.variant)
                self.tokens[key] = self.authority.mint(key[0], f"tool/{key[1]}", ["call"], 2**40)
        return True

    def step(self, action: str, *args: Any) -> bool:
        if action == "arrive":
            lane, r = args[0].variant, args[1]
            current = self.lanes.get(lane)
            if self.arrivals >= MAX_ARRIVALS or (current is not None and current.open()):
                return False
            self._arrive(lane, r["who"].variant, r["op"].variant)
        elif action == "approve":
            call = self.lanes.get(args[0].variant)
            if call is None or call.approval is None or call.approval.done():
                return False
            call.approval.set_result(bool(args[1]))
        elif action == "finish":
            call = self.lanes.get(args[0].variant)
            if call is None or call.finish is None or call.finish.done():
                return False
            call.finish.set_result(bool(args[1]))
        elif action == "revoke":
            token = self.tokens.get((args[0]["who"].variant, args[0]["op"].variant))
            if token is not None:
                self.authority.revoke(token)
            return True
        else:
            raise ValueError(f"unknown action `{action}`")
        self._run()
        return True

    def _arrive(self, lane: str, who: str, op: str) -> None:
        call = _Call(who, op)
        self.lanes[lane] = call
        self.by_subject[call.subject] = call
        self.arrivals += 1
        request = EffectRequest(
            principal=who,
            effect=Effect("call", f"tool/{op}"),
            tokens=tuple(t for (w, _), t in self.tokens.items() if w == who),
            subject=call.subject,
            costs={"spent": _COST[op]} if _COST[op] else {},
        )
        call.task = self.loop.create_task(self.ipu.execute(request, self._perform(call)))
        # the outcome is read when the lane is classified; a call no state read reaches
        # (a run that stopped at a mismatch) must not be reported as never retrieved
        call.task.add_done_callback(_retrieve)

    # --- reading the implementation ----------------------------------------------------------

    def _holds(self, who: str, op: str) -> bool:
        token = self.tokens.get((who, op))
        if token is None:
            return False
        try:
            self.authority.verify(token)
        except CapabilityError:
            return False
        return True

    def _lane_status(self, call: _Call | None, log: tuple[Observation, ...]) -> Any:
        if call is None:
            return _status("Idle")
        assert call.task is not None
        if not call.task.done():
            if call.approval is not None and not call.approval.done():
                return _status("Approving")
            if call.finish is not None and not call.finish.done():
                return _status("Performing")
            return "a call parked outside the approver and perform"
        mine = [o for o in log if o.subject == call.subject]
        if not mine:
            return "a finished call with no observation"
        return self._classify(call, mine[-1])

    def _classify(self, call: _Call, obs: Observation) -> Any:
        """The status an observation records, if every field fits it exactly; else its text."""
        assert call.task is not None
        token = self.tokens.get((call.who, call.op))
        granted = (token.id,) if token is not None else ("?",)
        decision = self.policy.table[(call.who, call.op)]
        policy_ids = () if decision is Decision.INDETERMINATE else (f"p-{call.who}-{call.op}",)
        effect = Effect("call", f"tool/{call.op}")
        error = call.task.exception()
        no_capability = ("no presented capability covers", f"`{call.who}` presented no capability")
        denied = isinstance(error, EffectDenied) and error.observation == obs
        shapes: dict[str, _Shape] = {
            "Performed": (Decision.PERMIT, granted, policy_ids, (effect,), "permitted by ", None),
            "Failed": (Decision.PERMIT, granted, policy_ids, (), "permitted by ", "perform failed"),
            "NoCapability": (Decision.DENY, (), (), (), no_capability, None),
            "PolicyDenied": (Decision.DENY, granted, policy_ids, (), "policy denied", None),
            "Refused": (Decision.DENY, granted, (), (), "policy is indeterminate", "refused"),
            "Revoked": (Decision.DENY, (), (), (), "policy is indeterminate", "no longer covers"),
            "OverBudget": (Decision.DENY, granted, policy_ids, (), "invariant `budget", None),
        }
        for status, (dec, gr, det, eff, prefix, contains) in shapes.items():
            if status == "OverBudget" and call.approved:
                det = ()
            fits = (
                obs.decision is dec
                and obs.granted == gr
                and obs.determining == det
                and obs.effects == eff
                and obs.principal == call.who
                and obs.effect == effect
                and obs.reason.startswith(prefix)
                and (contains is None or contains in obs.reason)
            )
            expected_end = (
                error is None
                if status == "Performed"
                else isinstance(error, _PerformFailed)
                if status == "Failed"
                else denied
            )
            if fits and expected_end:
                return _status(status)
        return f"observation {obs!r} with outcome {error!r}"

    def state(self) -> dict[str, Any]:
        log = self.ipu.log.snapshot()
        consecutive = all(o.sequence == i for i, o in enumerate(log))
        lanes = ("L0", "L1", "L2")
        return {
            "policy": MapValue(
                {
                    _request(w, op): EnumValue("Decision", d.name)
                    for (w, op), d in self.policy.table.items()
                }
            ),
            "holds": MapValue(
                {
                    EnumValue("Who", w): frozenset(
                        EnumValue("Op", op) for op in OPS if self._holds(w, op)
                    )
                    for w in WHO
                }
            ),
            "status": MapValue(
                {EnumValue("Lane", n): self._lane_status(self.lanes.get(n), log) for n in lanes}
            ),
            "req": MapValue(
                {
                    EnumValue("Lane", n): _request(c.who, c.op)
                    if (c := self.lanes.get(n))
                    else _request("Alice", "Search")
                    for n in lanes
                }
            ),
            "performs": MapValue(
                {EnumValue("Lane", n): c.performs if (c := self.lanes.get(n)) else 0 for n in lanes}
            ),
            "recorded": MapValue(
                {
                    EnumValue("Lane", n): sum(1 for o in log if o.subject == c.subject)
                    if (c := self.lanes.get(n))
                    else 0
                    for n in lanes
                }
            ),
            "spent": self.ipu.committed["spent"],
            "reserved": self.ipu.reserved["spent"],
            "arrivals": self.arrivals,
            "log_len": len(log) if consecutive else -1,
            "sound": self.sound,
        }


class RustRunnerModel(RunnerModel):
    """The same machine with the Rust core's capability authority behind the IPU."""

    backend = "rust"
