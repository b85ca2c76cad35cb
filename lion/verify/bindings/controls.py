"""`spec/integration.lion` machine `Controls` <-> a branch of the real runtime.

A real `Session` (capability authority, policy set, IPU, `Gate`, `Approvals`,
`Meter` with a budget of 2 tool calls and 3 output tokens) with one branch
`b` whose tools are `Read` (no side effects), `Mail` and `Transfer`, each
taking one string argument `v` (the spec's `Arg`: `"A0"` or `"A1"`). The
policy set is written from the spec's `policy` (PERMIT: a permit rule;
DENY: none, so default deny; INDETERMINATE: a permit rule whose condition
errors). The session has no approver callback, so an INDETERMINATE tool call
is deferred by `Approvals`, as in production. Everything runs on a private
event loop; the adapter drives it:

- `fix_plan(p)`: `Session.fix_plan(branch, Plan(tools=p))`; a PlanError is
  "not enabled".
- `call` / `batch`: `Branch.act` with one call (sequential) or two
  (concurrent: one batch, held whole by the gate).
- the first time calls are deferred, the run stops: the branch's pending
  outcomes, in call-id order, become a sealed `PausedRun` (`Branch._paused`,
  what `operate` raises with in `RunPaused`).
- `decide(c, x, yes)` (a paused call) and `stray(c, x, yes)` (another):
  append `Approve` or `Deny` naming call `c` and the hash of arguments
  `{"v": x}` to the decisions the owner will send.
- `resume(yes, misnamed)`: `Session.resume(run, decisions)` with the
  decisions made by hand and, for each other pending call, one naming it and
  its own argument hash (for `misnamed`, the hash of the other argument
  value), approving it if `yes` says so; a PauseError leaves
  everything as it was, and the owner starts a new list of decisions.
- `expire`: the clock `Approvals` reads moves past the run's expiry.
- `ask(m, bound)` / `reply(m, used)` / `fail(m)`: a model call through
  `Gate.call_model` with `max_tokens=bound`, parked in the model until the
  adapter answers with a usage report of `used` output tokens, or raises.

The state is read off the real objects: `authority` by authorizing each of
the branch's tokens, `fixed`/`plan` from `Session.plan_of`, a call's status
from its last `ToolOutcome` (its outcome, error class and observation must
fit exactly), `performs` from the tools' own invocations, `run`/`inrun`/
`expired` from the `PausedRun` and the session's `Approvals`, the counters
from the IPU's ledger, a model call's status from its task and `mheld` from
the `max_tokens` the model received. The ghosts are checked independently
when a tool starts: `plan_ok` against the fixed plan, `approval_ok` by
consuming an approving decision that names a paused call with this tool and
this argument hash (each usable once, only while resuming), and `batch_ok`
from the ledger before a batch that could not fit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from unittest import mock

import msgspec

from lion.errors import CapabilityError
from lion.kernel.decision import Decision
from lion.kernel.ipu import CapabilityDenied, EffectDenied, InvariantDenied
from lion.services import approvals as approvals_module
from lion.services.approvals import Approve, Deny, PausedRun, PauseError, arguments_hash
from lion.services.budget import Budget
from lion.services.gate import Outcome, ToolOutcome, current_call
from lion.services.plan import Plan, PlanError
from lion.services.session import Session
from lion.services.tools import Tool
from lion.verify.bindings.integration import _DRAINING, _shared_loop
from lion.verify.values import EnumValue, MapValue
from lion.wire.dto import (
    ChatCompletion,
    ChatRequest,
    Choice,
    FunctionCall,
    Message,
    ToolCall,
    Usage,
)

__all__ = ["ControlsModel", "RustControlsModel"]

KEY = b"lion-conformance-controls-key-0123456789abcdef"
TOOLS = ("Read", "Mail", "Transfer")
CALLS = ("C0", "C1", "C2")
SLOTS = ("M0", "M1")
CALL_LIMIT = 2
TOKEN_LIMIT = 3
BRANCH = "b"
_START = 1_000_000.0  # the fake clock the paused runs are stamped with
_SETTLE_ROUNDS = 20
# `Session.resume` continues an "act" run by returning its outcomes (Branch types only its own)
_ACT: Any = "act"


class _ModelFailed(Exception):
    pass


class _Clock:
    """What `lion.services.approvals` sees as its `time` module while the adapter acts."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@dataclass(eq=False)
class _Ask:
    task: asyncio.Task[Any]
    reply: asyncio.Future[ChatCompletion] | None = None
    max_tokens: int | None = None


class _ParkedModel:
    """A model whose answer the adapter gives later: each request parks on a future."""

    def __init__(self, owner: ControlsModel) -> None:
        self.owner = owner

    @property
    def name(self) -> str:
        return "parked"

    async def complete(self, request: ChatRequest) -> ChatCompletion:
        ask = self.owner.asks[self.owner.asking]
        ask.max_tokens = request.max_tokens
        ask.reply = self.owner.loop.create_future()
        return await ask.reply

    async def stream(self, request: ChatRequest) -> Any:  # pragma: no cover - never streamed
        raise NotImplementedError
        yield ""


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _policies(table: dict[str, Decision]) -> str:
    rules = ['permit(principal, action == Action::"chat", resource);']
    for name, decision in table.items():
        if decision is Decision.PERMIT:
            rules.append(f'permit(principal, action == Action::"{name}", resource);')
        elif decision is Decision.INDETERMINATE:  # the condition errors: INDETERMINATE
            rules.append(
                f'permit(principal, action == Action::"{name}", resource) '
                "when { context.no_such_attribute == 1 };"
            )
    return "\n".join(rules)


def _enum(name: str, variant: str) -> EnumValue:
    return EnumValue(name, variant)


class ControlsModel:
    """The spec's `Controls` machine, played by a Session on a backend."""

    backend: ClassVar[str] = "python"

    def __init__(self) -> None:
        self.loop = _shared_loop()
        self.clock = _Clock(_START)
        self.table: dict[str, Decision] = {}
        self.calls: dict[str, tuple[str, str]] = {}  # call id -> (tool, arg) as sent
        self.outcomes: dict[str, ToolOutcome] = {}
        self.performs: dict[str, int] = dict.fromkeys(CALLS, 0)
        self.in_play: tuple[str, ...] = ()  # the call ids the running action may start
        self.run: PausedRun | None = None
        self.decisions: list[Approve | Deny] = []  # made by hand since the last attempt
        self.sending: list[Approve | Deny] = []  # what the resume under way sent
        self.used_decisions: set[int] = set()
        self.resuming = False
        self.resumes = 0
        self.asks: dict[str, _Ask] = {}
        self.asking = "M0"
        self.plan_ok = True
        self.approval_ok = True
        self.batch_ok = True
        self.starts = 0

    def __del__(self) -> None:
        for ask in getattr(self, "asks", {}).values():
            if not ask.task.done():
                ask.task.cancel()
                _DRAINING.add(ask.task)
                ask.task.add_done_callback(_DRAINING.discard)

    # --- running the real code ---------------------------------------------------------------

    @contextlib.contextmanager
    def _clock(self) -> Iterator[None]:
        with mock.patch.object(approvals_module, "time", self.clock):
            yield

    def _run(self, coro: Any) -> Any:
        with self._clock():
            return self.loop.run_until_complete(coro)

    async def _settle(self) -> None:
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)

    def _tool(self, name: str) -> Tool[Any, Any]:
        async def invoke(v: str) -> str:
            self._started(name, v)
            return f"{name} done"

        return Tool(invoke, name=name, trust="trusted", side_effects=name != "Read")

    def _started(self, name: str, v: str) -> None:
        """A tool runs: count it for its call, and check the ghosts independently."""
        self.starts += 1
        serving = current_call()  # the call the gate is performing, by its id
        if serving is not None and serving.id in self.performs:
            self.performs[serving.id] += 1
        plan = self.session.plan_of(BRANCH)
        if plan is not None and name != "Read" and name not in plan.tools:
            self.plan_ok = False
        if self.table[name] is Decision.INDETERMINATE and not self._consume_approval(name, v):
            self.approval_ok = False

    def _consume_approval(self, name: str, v: str) -> bool:
        if not self.resuming or self.run is None:
            return False
        wanted = arguments_hash({"v": v})
        pending = {p.call_id: p for p in self.run.pending}
        for i, decision in enumerate(self.sending):
            p = pending.get(decision.call_id)
            once = sum(1 for d in self.sending if d.call_id == decision.call_id) == 1
            if (
                i not in self.used_decisions
                and isinstance(decision, Approve)
                and once
                and p is not None
                and p.tool == name
                and p.arguments_hash == decision.arguments_hash == wanted
            ):
                self.used_decisions.add(i)
                return True
        return False

    # --- the machine interface ---------------------------------------------------------------

    def init(self, p: MapValue) -> bool:
        self.table = {t.variant: Decision[d.variant] for t, d in p.items()}
        self.session = Session(
            policies=_policies(self.table),
            model=_ParkedModel(self),
            key=KEY,
            backend=self.backend,
            budget=Budget(tool_calls=CALL_LIMIT, output_tokens=TOKEN_LIMIT),
        )
        self.branch = self.session.new_branch(BRANCH, tools=[self._tool(n) for n in TOOLS])
        return True

    def step(self, action: str, *args: Any) -> bool:
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            raise ValueError(f"unknown action `{action}`")
        enabled = bool(handler(*args))
        if enabled:
            self._run(self._settle())
        return enabled

    def _do_fix_plan(self, p: frozenset[EnumValue]) -> bool:
        try:
            self.session.fix_plan(self.branch, Plan(tools=frozenset(t.variant for t in p)))
        except PlanError:
            return False
        return True

    def _act(self, calls: list[tuple[str, str, str]], strategy: Any) -> None:
        sent = []
        for c, name, x in calls:
            self.calls[c] = (name, x)
            arguments = msgspec.json.encode({"v": x}).decode()
            sent.append(ToolCall(id=c, function=FunctionCall(name=name, arguments=arguments)))
        self.in_play = tuple(c for c, _, _ in calls)
        try:
            outcomes = self._run(self.branch.act(sent, strategy=strategy))
        finally:
            self.in_play = ()
        for outcome in outcomes:
            self.outcomes[outcome.call.id] = outcome
        self._pause()

    def _do_call(self, c: EnumValue, t: EnumValue, x: EnumValue) -> bool:
        if self._paused() or c.variant in self.calls:
            return False  # a paused run makes no calls; a call id is used once
        self._act([(c.variant, t.variant, x.variant)], "sequential")
        return True

    def _do_batch(
        self, c: EnumValue, t: EnumValue, x: EnumValue, d: EnumValue, u: EnumValue, y: EnumValue
    ) -> bool:
        if self._paused() or c == d or c.variant in self.calls or d.variant in self.calls:
            return False
        ipu = self.session.ipu
        fits = ipu.committed["tool_calls"] + ipu.reserved["tool_calls"] + 2 <= CALL_LIMIT
        before = self.starts
        self._act(
            [(c.variant, t.variant, x.variant), (d.variant, u.variant, y.variant)], "concurrent"
        )
        if not fits and self.starts != before:
            self.batch_ok = False
        return True

    def _pause(self) -> None:
        """The first deferred call stops the run, as `operate` does: the calls waiting then."""
        pending = [self.outcomes[c] for c in CALLS if c in self.outcomes]
        pending = [o for o in pending if o.outcome is Outcome.PENDING]
        if self.run is None and pending:
            with self._clock():
                self.run = self.branch._paused(_ACT, 0, "sequential", pending).run

    def _paused(self) -> bool:
        return self.run is not None and not self._resumed()

    def _resumed(self) -> bool:
        return self.run is not None and self.run.id in self.session.approvals._resumed

    def _pending_ids(self) -> set[str]:
        return {p.call_id for p in self.run.pending} if self.run is not None else set()

    def _decide(self, c: str, x: str, yes: bool) -> None:
        kind = Approve if yes else Deny
        self.decisions.append(kind(call_id=c, arguments_hash=arguments_hash({"v": x})))

    def _do_decide(self, c: EnumValue, x: EnumValue, yes: bool) -> bool:
        if not self._paused() or c.variant not in self._pending_ids():
            return False
        if sum(1 for d in self.decisions if d.call_id == c.variant) >= 2:
            return False  # the spec bounds the decisions per call
        self._decide(c.variant, x.variant, yes)
        return True

    def _do_stray(self, c: EnumValue, x: EnumValue, yes: bool) -> bool:
        pending = self._pending_ids()
        if not self._paused() or c.variant in pending:
            return False
        if sum(1 for d in self.decisions if d.call_id not in pending) >= 2:
            return False  # the spec bounds the stray decisions
        self._decide(c.variant, x.variant, yes)
        return True

    def _do_resume(self, yes: MapValue, misnamed: EnumValue | None) -> bool:
        if self.run is None:
            return False
        by_hand = {d.call_id for d in self.decisions}
        sent = list(self.decisions)
        for p in self.run.pending:  # the owner decides the rest: each names its own hash
            if p.call_id not in by_hand:
                kind = Approve if yes[_enum("CallId", p.call_id)] else Deny
                digest = p.arguments_hash
                if misnamed is not None and misnamed.variant == p.call_id:
                    own = self.calls[p.call_id][1]
                    digest = arguments_hash({"v": "A1" if own == "A0" else "A0"})
                sent.append(kind(call_id=p.call_id, arguments_hash=digest))
        self.in_play = tuple(p.call_id for p in self.run.pending)
        self.resuming, self.sending, self.used_decisions = True, sent, set()
        try:
            outcomes = self._run(self.session.resume(self.run, sent))
        except PauseError:
            if not self._resumed():
                self.decisions, self.used_decisions = [], set()  # the owner decides again
            return True  # refused: nothing ran
        finally:
            self.resuming = False
            self.in_play = ()
        self.decisions = sent  # what was decided, for reading `dcount`, `dhash`, `dyes`
        self.resumes += 1
        for outcome in outcomes:
            self.outcomes[outcome.call.id] = outcome
        return True

    def _do_expire(self) -> bool:
        if self.run is None or self._resumed() or self.clock.now > self.run.expires:
            return False
        self.clock.now = self.run.expires + 1
        return True

    def _do_ask(self, m: EnumValue, bound: int) -> bool:
        current = self.asks.get(m.variant)
        if current is not None and not current.task.done():
            return False
        request = ChatRequest(model="parked", messages=[Message.user("go")], max_tokens=bound)
        self.asking = m.variant
        gate, caller = self.session.gate, self.branch.caller
        task = self.loop.create_task(gate.call_model(caller, self.branch.model, request))
        task.add_done_callback(_retrieved)  # a refused call is read from its task, not logged
        self.asks[m.variant] = _Ask(task)
        return True

    def _answer(self, m: EnumValue) -> asyncio.Future[ChatCompletion] | None:
        ask = self.asks.get(m.variant)
        if ask is None or ask.task.done() or ask.reply is None or ask.reply.done():
            return None
        return ask.reply

    def _do_reply(self, m: EnumValue, used: int) -> bool:
        reply = self._answer(m)
        if reply is None:
            return False
        message = Message(role="assistant", content="ok")
        usage = Usage(prompt_tokens=0, completion_tokens=used, total_tokens=used)
        reply.set_result(ChatCompletion(choices=[Choice(message=message)], usage=usage))
        return True

    def _do_fail(self, m: EnumValue) -> bool:
        reply = self._answer(m)
        if reply is None:
            return False
        reply.set_exception(_ModelFailed("the server broke"))
        return True

    # --- reading the implementation ----------------------------------------------------------

    def _authority(self) -> frozenset[EnumValue]:
        covered = set()
        authority = self.session.authority
        for name in TOOLS:
            resource = self.branch.tools[name].resource
            for token in self.branch.tokens:
                try:
                    authority.authorize(token, resource, "call", holder=BRANCH, now=authority.now())
                except CapabilityError:
                    continue
                covered.add(_enum("Tool", name))
                break
        return frozenset(covered)

    def _status(self, call: str) -> Any:
        outcome = self.outcomes.get(call)
        if outcome is None:
            return _enum("CallStatus", "Unused")
        obs, error = outcome.observation, outcome.error
        decision = obs.decision if obs is not None else None
        if outcome.outcome is Outcome.DONE and decision is Decision.PERMIT and obs and obs.effects:
            return _enum("CallStatus", "Ran")
        if outcome.outcome is Outcome.PENDING and decision is Decision.INDETERMINATE:
            return _enum("CallStatus", "Waiting")
        if outcome.outcome is Outcome.DENIED and decision is Decision.DENY:
            if isinstance(error, CapabilityDenied):
                return _enum("CallStatus", "NoCap")
            if isinstance(error, InvariantDenied):
                return _enum("CallStatus", "NoRoom")
            if isinstance(error, EffectDenied) and error.cause == "policy":
                return _enum("CallStatus", "Forbidden")
            if isinstance(error, EffectDenied) and error.cause == "approver":
                return _enum("CallStatus", "Declined")
        return f"outcome {outcome.outcome.value} with {obs!r} and {error!r}"

    def _model_status(self, slot: str) -> Any:
        ask = self.asks.get(slot)
        if ask is None:
            return _enum("ModelStatus", "Free")
        if not ask.task.done():
            parked = ask.reply is not None and not ask.reply.done()
            return _enum("ModelStatus", "Asking") if parked else "a model call parked elsewhere"
        error = ask.task.exception()
        if error is None:
            return _enum("ModelStatus", "Answered")
        if isinstance(error, _ModelFailed):
            return _enum("ModelStatus", "Crashed")
        if isinstance(error, InvariantDenied):
            return _enum("ModelStatus", "TooBig")
        return f"a model call that raised {error!r}"

    def _held(self, slot: str) -> int:
        ask = self.asks.get(slot)
        if ask is None or ask.task.done() or ask.max_tokens is None:
            return 0
        return ask.max_tokens

    def _decisions(self) -> tuple[dict[str, int], dict[str, str], dict[str, bool], int]:
        count: dict[str, int] = dict.fromkeys(CALLS, 0)
        digest: dict[str, str] = dict.fromkeys(CALLS, "A0")
        yes: dict[str, bool] = dict.fromkeys(CALLS, False)
        by_hash = {arguments_hash({"v": a}): a for a in ("A0", "A1")}
        pending, strays = self._pending_ids(), 0
        for d in self.decisions:
            if d.call_id not in pending:
                strays += 1
                continue
            if count[d.call_id] == 0:
                digest[d.call_id] = by_hash.get(d.arguments_hash, d.arguments_hash)
                yes[d.call_id] = isinstance(d, Approve)
            count[d.call_id] += 1
        return count, digest, yes, strays

    def state(self) -> dict[str, Any]:
        plan = self.session.plan_of(BRANCH)
        ipu = self.session.ipu
        count, digest, yes, strays = self._decisions()
        run = "Running" if self.run is None else "Resumed" if self._resumed() else "Paused"

        def per_call(value: Any) -> MapValue:
            return MapValue({_enum("CallId", c): value(c) for c in CALLS})

        return {
            "policy": MapValue(
                {_enum("Tool", t): _enum("Decision", d.name) for t, d in self.table.items()}
            ),
            "authority": self._authority(),
            "fixed": plan is not None,
            "plan": frozenset(_enum("Tool", t) for t in plan.tools) if plan else frozenset(),
            "status": per_call(self._status),
            "tool": per_call(lambda c: _enum("Tool", self.calls.get(c, ("Read", "A0"))[0])),
            "arg": per_call(lambda c: _enum("Arg", self.calls.get(c, ("Read", "A0"))[1])),
            "performs": per_call(lambda c: self.performs[c]),
            "run": _enum("RunState", run),
            "expired": self.run is not None and self.clock.now > self.run.expires,
            "inrun": frozenset(_enum("CallId", p.call_id) for p in self.run.pending)
            if self.run is not None
            else frozenset(),
            "dcount": per_call(lambda c: count[c]),
            "dhash": per_call(lambda c: _enum("Arg", digest[c])),
            "dyes": per_call(lambda c: yes[c]),
            "strays": strays,
            "resumes": self.resumes,
            "calls_spent": ipu.committed["tool_calls"],
            "calls_reserved": ipu.reserved["tool_calls"],
            "mstatus": MapValue({_enum("ModelSlot", s): self._model_status(s) for s in SLOTS}),
            "mheld": MapValue({_enum("ModelSlot", s): self._held(s) for s in SLOTS}),
            "tokens_spent": ipu.committed["output_tokens"],
            "tokens_reserved": ipu.reserved["output_tokens"],
            "plan_ok": self.plan_ok,
            "approval_ok": self.approval_ok,
            "batch_ok": self.batch_ok,
        }


class RustControlsModel(ControlsModel):
    """The same machine on a Session whose kernel is the Rust core."""

    backend = "rust"
