"""`spec/delegation.lion` machine `Delegation` <-> the real `Orchestrator` (lion.services).

A real Session (its authority's clock is the spec's `now`, which `tick`
advances) and a real Orchestrator running on a private event loop. Spec
branch `i` is the branch named `b<i>`; rights keep their names and patterns
are written as the kernel writes them (`X/Y`, `X/*`, `*`).

- `root(b, ...)`: the host mints `b`'s capability (and a `chat` token on the
  session's model, outside the spec's patterns) and adds the branch.
- `delegate(kind, p, c, ...)`: `orch.spawn` or `orch.handoff` with
  `rights`, `scope` and `expiry` and no tools. `DelegationRefused` is an
  answered request (the spec counts it in `refused`); a ServiceError (no
  such parent, a taken name) means nothing was asked: not enabled.
- `revoke(b)`: `orch.revoke`. `tick`: the clock.

Every state variable is read off the implementation: `live` from the
orchestrator's branches, `held`, `parent` and `anc` from the signed chain of
each branch's token (the parent is the branch whose token is the previous
link), `revoked` from the authority's store, `answers` from the authority's
`verify` of each token, `refused` from the DENY Observations in the session
log. `last` is a ghost.

The spec's session log holds at most MAX_REFUSED refusals (a bounded model):
past that it does not model a refusal, so one beyond the bound is reported as
not enabled and `refused` saturates there, while a delegation the kernel
performs is still compared step for step however long the run.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from lion.errors import ActorError, CapabilityError, ServiceError
from lion.kernel.tokens import Capability, CapabilityToken, decode_token
from lion.services.branch import Branch
from lion.services.models import ScriptedModel
from lion.services.orchestrator import DelegationRefused, Orchestrator
from lion.services.session import Session
from lion.verify.bindings.capabilities import pattern_text, pattern_value
from lion.verify.values import EnumValue, MapValue, RecordValue

__all__ = ["DelegationModel", "RustDelegationModel"]

KEY = b"lion-conformance-delegation-key-0123456789"
BRANCHES = range(4)  # the spec's BranchId
MAX_TIME = 3  # the spec's Time
MAX_REFUSED = 4  # the spec's MAX_REFUSED: the refusals its log can hold
_POLICIES = '@id("chat") permit(principal, action == Action::"chat", resource);'
_MODEL = "model/"
T = TypeVar("T")

_UNUSED = RecordValue(
    "Held", {"holder": 0, "scope": pattern_value("*"), "rights": frozenset(), "expiry": 0}
)


def _name(b: int) -> str:
    return f"b{b}"


def _id(name: str) -> int | str:
    """The spec id of a branch name; anything else stays a string (and cannot match)."""
    return int(name[1:]) if name[:1] == "b" and name[1:].isdigit() else name


def _rights(rights: frozenset[EnumValue]) -> list[str]:
    return sorted(r.variant for r in rights)


def _chain(token: CapabilityToken | str) -> tuple[Capability, ...]:
    return tuple((decode_token(token) if isinstance(token, str) else token).chain)


class DelegationModel:
    """The spec's `Delegation` machine, played by a real Orchestrator."""

    backend: ClassVar[str] = "python"
    _open: ClassVar[list[DelegationModel]] = []

    def __init__(self) -> None:
        # The harness drops a model after its run; close those left open here.
        DelegationModel.close_all()
        self.now = 0
        self.session = Session(
            policies=_POLICIES,
            model=ScriptedModel(lambda messages: "done"),
            key=KEY,
            backend=self.backend,
        )
        # the spec's clock, for every check the session makes
        authority = self.session.backend.authority(KEY, clock=lambda: self.now)
        self.session.authority = authority
        self.session.ipu.authority = authority
        # a run (walk and segment) is far shorter: restarts never run out, so every
        # branch keeps its actor
        self.orch = Orchestrator(self.session, max_restarts=10_000)
        self.loop = asyncio.new_event_loop()  # after everything that may raise
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._main = self.loop.create_task(self._serve())
        DelegationModel._open.append(self)  # only a model that was made (a failed one has no loop)
        self._run(self._ready.wait)

    @staticmethod
    def close_all() -> None:
        """Close every model still open (the harness never says when a run is over)."""
        while DelegationModel._open:
            DelegationModel._open.pop().close()

    async def _serve(self) -> None:
        async with self.orch:
            self._ready.set()
            await self._stop.wait()

    def _run(self, fn: Callable[[], Awaitable[T]]) -> T:
        async def go() -> T:
            result = await fn()
            for _ in range(20):  # let started actors and handlers settle
                await asyncio.sleep(0)
            return result

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self._stop.set()
        self.loop.run_until_complete(asyncio.wait_for(self._main, 10))
        self.loop.close()

    # -- the spec's actions ----------------------------------------------------

    def init(self) -> bool:
        return True

    def step(self, action: str, *args: Any) -> bool:
        if action == "root":
            b, scope, rights, expiry = args
            return self._run(lambda: self._root(b, scope, rights, expiry))
        if action == "delegate":
            kind, *rest = args
            return self._run(lambda: self._delegate(kind.variant, *rest))
        if action == "revoke":
            (b,) = args
            if _name(b) not in self.orch.branches:
                return False
            self.orch.revoke(_name(b))
            return True
        if action == "tick":
            if self.now >= MAX_TIME:
                return False
            self.now += 1
            return True
        raise ValueError(f"unknown action `{action}`")

    async def _root(self, b: int, scope: RecordValue, rights: Any, expiry: int) -> bool:
        name = _name(b)
        if name in self.orch.branches:
            return False
        auth = self.session.authority
        tokens = [
            auth.mint(name, pattern_text(scope), _rights(rights), expiry),
            auth.mint(name, f"{_MODEL}{self.session.model.name}", ["chat"], MAX_TIME),
        ]
        branch = Branch(name, gate=self.session.gate, model=self.session.model, tokens=tokens)
        self.orch.add(branch)
        return True

    async def _delegate(
        self, kind: str, p: int, c: int, rights: Any, scope: RecordValue, expiry: int
    ) -> bool:
        names, granted, where = _rights(rights), pattern_text(scope), _name(c)
        try:
            if kind == "Spawn":
                self.orch.spawn(
                    _name(p), where, tools=(), rights=names, scope=granted, expiry=expiry
                )
            else:
                await self.orch.handoff(
                    _name(p),
                    where,
                    "go on",
                    tools=(),
                    rights=names,
                    scope=granted,
                    expiry=expiry,
                    op="chat",
                )
        except DelegationRefused:
            # answered: refused and recorded (beyond the spec's bounded log: not modelled)
            return len(self.orch.refusals()) <= MAX_REFUSED
        except ServiceError:
            return False  # no such parent, or the name is taken: nothing is asked
        except ActorError:
            return True  # the child was made; its first answer failed (an expired chat token)
        return True

    # -- the state, read off the implementation -------------------------------------

    def _capability(self, branch: Branch) -> Any:
        """The branch's one token outside the model's resources (or every one, if not one)."""
        caps = [t for t in branch.tokens if not _chain(t)[-1].resource.startswith(_MODEL)]
        return caps[0] if len(caps) == 1 else tuple(caps)

    def state(self) -> dict[str, Any]:
        branches = {_id(n): b for n, b in self.orch.branches.items()}
        tokens = {i: self._capability(b) for i, b in branches.items()}
        owner = {_chain(t)[-1].id: i for i, t in tokens.items() if not isinstance(t, tuple)}
        held: dict[Any, Any] = dict.fromkeys(BRANCHES, _UNUSED)
        parent: dict[Any, Any] = dict.fromkeys(BRANCHES)
        anc: dict[Any, Any] = {i: frozenset() for i in BRANCHES}
        answers: dict[Any, Any] = dict.fromkeys(BRANCHES, False)
        revoked = set()
        for i, token in tokens.items():
            if isinstance(token, tuple):
                held[i] = f"{len(token)} capabilities"  # cannot match the spec's one
                continue
            chain = _chain(token)
            cap = chain[-1]
            held[i] = RecordValue(
                "Held",
                {
                    "holder": _id(cap.holder),
                    "scope": pattern_value(cap.resource),
                    "rights": frozenset(EnumValue("Right", r) for r in cap.rights),
                    "expiry": cap.expiry,
                },
            )
            parent[i] = None if cap.parent is None else owner.get(cap.parent, cap.parent)
            anc[i] = frozenset(owner.get(x.id, x.id) for x in chain[:-1])
            answers[i] = self._verifies(token)
            if self.session.authority.is_revoked(cap.id):
                revoked.add(i)
        return {
            "live": frozenset(branches),
            "held": MapValue(held),
            "parent": MapValue(parent),
            "anc": MapValue(anc),
            "revoked": frozenset(revoked),
            "now": self.now,
            "answers": MapValue(answers),
            "refused": min(len(self.orch.refusals()), MAX_REFUSED),
        }

    def _verifies(self, token: Any) -> bool:
        try:
            self.session.authority.verify(token)
        except CapabilityError:
            return False
        return True


atexit.register(DelegationModel.close_all)


class RustDelegationModel(DelegationModel):
    """The same machine with the session on the Rust kernel."""

    backend = "rust"
