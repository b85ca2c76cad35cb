"""Approvals that pause a run and resume it, in this process or another.

When a tool call's policy answer is INDETERMINATE and the session has no
approver callback, the IPU is told to defer (`DEFER`): the call is recorded
as INDETERMINATE and not performed, and the run stops with `RunPaused`,
whose `run` (a `PausedRun`) lists each pending call: its id, tool,
validated arguments and their hash, their provenance and the policy's
explanation. The paused run saves to JSON, sealed with a MAC under a key
derived from the session's capability key, so an edited save is refused.

Resuming (`Session.resume`) takes one decision per pending call:
`Approve`, `Deny` (with a message for the model) or `Edit` (approve with
edited arguments, which are validated and go through the gate again). A
decision names the call id and the hash of the arguments it was shown; one
that names anything else, or a call decided twice, is refused before
anything runs. Each decided call passes the gate again: the approval is an
approver answer for exactly that call (principal, tool, argument hash), and
the IPU records the outcome as usual.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, Literal

import msgspec

from lion.errors import ServiceError
from lion.kernel.capability import CapabilityToken
from lion.kernel.ipu import DEFER, Defer, EffectRequest, PolicyResponse
from lion.kernel.patterns import covers
from lion.services.context import policy_json

__all__ = [
    "Approve",
    "Decision",
    "Deny",
    "Edit",
    "PauseError",
    "PausedRun",
    "Pending",
    "RunPaused",
    "arguments_hash",
]

_TOOL_PREFIX: Final = "tool/"
#: How long a paused run can be resumed, in seconds, unless the session says otherwise.
DEFAULT_EXPIRY: Final = 7 * 24 * 3600


class PauseError(ServiceError):
    """A paused run that cannot be resumed: tampered, expired, resumed, or a bad decision."""


def arguments_hash(arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the arguments as the policy sees them, as canonical JSON (sorted keys):
    what a decision names."""
    data = msgspec.json.encode(policy_json(msgspec.to_builtins(arguments)), order="sorted")
    return hashlib.sha256(data).hexdigest()


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """One call waiting for a decision, with what a person needs to make it."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    arguments_hash: str
    provenance: dict[str, Any] = msgspec.field(default_factory=dict)
    explanation: str = ""  # the policy's explanation, as the observation recorded it


class Approve(msgspec.Struct, frozen=True, tag=True):
    """Run the call as it was asked; `sticky`: also approve this tool for this branch from now
    on, for as long as the branch presents the same capability for it."""

    call_id: str
    arguments_hash: str
    sticky: bool = False


class Deny(msgspec.Struct, frozen=True, tag=True):
    """Do not run it; the model is told `message`."""

    call_id: str
    arguments_hash: str
    message: str = "a person declined this call"


class Edit(msgspec.Struct, frozen=True, tag=True):
    """Run it with these arguments instead (validated, and decided by the gate again)."""

    call_id: str
    arguments_hash: str
    arguments: dict[str, Any]


Decision = Approve | Deny | Edit


class PausedRun(msgspec.Struct, frozen=True, kw_only=True):
    """A run stopped for decisions; `to_json` saves it, `Session.resume` continues it."""

    id: str
    branch: str
    operation: Literal["operate", "ReAct", "act"]
    rounds_left: int
    strategy: str
    messages: str  # the branch's history (Pile JSON), tool calls asked for included
    pending: tuple[Pending, ...]
    created: float
    expires: float
    mac: str = ""

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: str | bytes) -> PausedRun:
        """Read a saved run (only parsed: `Session.resume` checks its seal)."""
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.DecodeError as exc:
            raise PauseError(f"not a saved paused run: {exc}") from None


class RunPaused(ServiceError):
    """The run stopped: some tool calls wait for a decision (`run.pending`)."""

    def __init__(self, run: PausedRun) -> None:
        self.run = run
        calls = ", ".join(f"`{p.tool}` ({p.call_id})" for p in run.pending)
        super().__init__(f"run of branch `{run.branch}` paused: waiting for a decision on {calls}")


def _token_ids(tokens: Sequence[object]) -> list[str]:
    return [t.id for t in tokens if isinstance(t, CapabilityToken)]


def _body(run: PausedRun) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(run, mac=""), order="sorted")


_granted: contextvars.ContextVar[Mapping[tuple[str, str, str], bool] | None] = (
    contextvars.ContextVar("lion_granted_approvals", default=None)
)


class Approvals:
    """The session's part: the deferring approver, the seal, and which runs were resumed."""

    def __init__(self, key: bytes, *, expiry: float = DEFAULT_EXPIRY) -> None:
        self._key = hmac.new(key, b"lion paused run v1", hashlib.sha256).digest()
        self.expiry = expiry
        self._resumed: set[str] = set()
        # (principal, resource) -> the capability id the sticky approval is scoped to
        self.sticky: dict[tuple[str, str], str] = {}

    # --- the approver --------------------------------------------------------------------

    def approver(self, request: EffectRequest, response: PolicyResponse) -> bool | Defer:
        """A tool call: the decision given for exactly it, else DEFER. A model call: deny."""
        if not request.effect.resource.startswith(_TOOL_PREFIX):
            return False
        decided = _granted.get()
        if decided is not None:
            arguments = request.context.get("arguments", {})
            key = (request.principal, request.effect.resource, arguments_hash(arguments))
            if key in decided:
                return decided[key]
        scope = self.sticky.get((request.principal, request.effect.resource))
        if scope is not None and scope in _token_ids(request.tokens):
            return True  # "always approve this tool for this branch", with this capability
        return DEFER

    def stick(self, principal: str, resource: str, tokens: Sequence[object]) -> None:
        """Approve `resource` for `principal` from now on, scoped to the capability it holds."""
        ids = [
            t.id
            for t in tokens
            if isinstance(t, CapabilityToken) and covers(t.capability.resource, resource)
        ]
        if not ids:
            raise PauseError(
                f"a sticky approval needs the capability `{principal}` holds for `{resource}`"
            )
        self.sticky[(principal, resource)] = ids[0]

    @contextlib.contextmanager
    def deciding(self, decided: Mapping[tuple[str, str, str], bool]) -> Iterator[None]:
        """Within the block, the approver answers these decisions (principal, resource, hash)."""
        reset = _granted.set(dict(decided))
        try:
            yield
        finally:
            _granted.reset(reset)

    # --- pausing and resuming --------------------------------------------------------------

    def pause(
        self,
        branch: str,
        operation: Literal["operate", "ReAct", "act"],
        messages: str,
        pending: Sequence[Pending],
        *,
        rounds_left: int = 0,
        strategy: str = "sequential",
    ) -> PausedRun:
        now = time.time()
        run = PausedRun(
            id=uuid.uuid4().hex,
            branch=branch,
            operation=operation,
            rounds_left=rounds_left,
            strategy=strategy,
            messages=messages,
            pending=tuple(pending),
            created=now,
            expires=now + self.expiry,
        )
        return msgspec.structs.replace(run, mac=self._mac(run))

    def _mac(self, run: PausedRun) -> str:
        return hmac.new(self._key, _body(run), hashlib.sha256).hexdigest()

    def check(self, run: PausedRun, decisions: Sequence[Decision]) -> dict[str, Decision]:
        """The decisions by call id, after checking the seal, the expiry and every decision."""
        if not isinstance(run, PausedRun):
            raise PauseError(f"expected a PausedRun, got `{type(run).__name__}`")
        if not hmac.compare_digest(run.mac, self._mac(run)):
            raise PauseError(
                f"paused run `{run.id}` does not carry this session's seal: it was edited, "
                "or saved under another key"
            )
        if time.time() > run.expires:
            raise PauseError(f"paused run `{run.id}` expired at {run.expires:.0f}")
        if run.id in self._resumed:
            raise PauseError(f"paused run `{run.id}` was resumed already")
        pending = {p.call_id: p for p in run.pending}
        by_call: dict[str, Decision] = {}
        for decision in decisions:
            if not isinstance(decision, Approve | Deny | Edit):
                raise PauseError(f"expected Approve, Deny or Edit, got `{decision!r}`")
            wanted = pending.get(decision.call_id)
            if wanted is None:
                known = ", ".join(f"`{c}`" for c in pending)
                raise PauseError(
                    f"a decision names call `{decision.call_id}`, which is not pending "
                    f"(pending: {known})"
                )
            if decision.arguments_hash != wanted.arguments_hash:
                raise PauseError(
                    f"the decision for call `{decision.call_id}` names other arguments than "
                    "the ones pending (argument hash differs)"
                )
            if decision.call_id in by_call:
                raise PauseError(f"call `{decision.call_id}` is decided twice")
            by_call[decision.call_id] = decision
        undecided = [c for c in pending if c not in by_call]
        if undecided:
            raise PauseError(f"no decision for {', '.join(f'`{c}`' for c in undecided)}")
        return by_call

    def mark_resumed(self, run: PausedRun) -> None:
        self._resumed.add(run.id)
