"""Observables, observations and the append-only observation log.

Every decision the kernel makes about an effect, permit or deny, becomes one
`Observation` appended to an `ObservationLog`. The log assigns consecutive
sequence numbers (0, 1, 2, ...) under a lock, so the audit trail is complete
and ordered even when many tasks or threads record at once.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Protocol, overload, runtime_checkable

import msgspec

from lion.errors import DeserializationError, KernelError
from lion.kernel.decision import Decision

__all__ = ["Effect", "Observable", "Observation", "ObservationLog", "new_id"]

_VERSION_4 = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant
_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


# Ids must be unique, not secret (nothing is authorized by knowing one), so they come from
# a PRNG seeded from the OS, reseeded in a forked child so parent and child never repeat.
_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


def new_id() -> uuid.UUID:
    """A random (version 4) UUID, unique but not unpredictable, at a fifth of `uuid4`'s cost.

    Every decision mints one or two ids, so this sits on the gate's hot path:
    no system call, and no `uuid.UUID.__init__` re-validating what is built
    correct here.
    """
    value = (_random.getrandbits(128) & _KEEP) | _VERSION_4
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", uuid.SafeUUID.unknown)
    return made


@runtime_checkable
class Observable(Protocol):
    """Anything the kernel can observe: it has a stable UUID."""

    @property
    def id(self) -> uuid.UUID:
        """The identity observations refer to."""
        ...


class Effect(msgspec.Struct, frozen=True, gc=False):
    """An effect on the world: exercise `action` (a right) on `resource`."""

    # gc=False here and on Observation: they hold only strings, ids and each other, so
    # they cannot be part of a cycle, and a long audit log no longer slows every
    # garbage collection down.

    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.action} {self.resource}"


class Observation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The record of one kernel decision about one effect.

    - `subject`: the id of the observed thing (a session, branch, actor, step)
    - `effect`: what was asked; `principal`: by whom
    - `requested`: ids of the capabilities presented; `granted`: the ones that
      covered the effect (empty unless the capability check passed)
    - `decision`, `reason`: the verdict and why, in words
    - `determining`: the policy ids that determined the decision
    - `effects`: the effects actually performed (empty for a deny, or for a
      permit whose effect was not carried out)
    - `timestamp`: seconds since the epoch; `sequence`: the position in the log
      (-1 until a log records it)
    """

    subject: uuid.UUID
    effect: Effect
    principal: str
    decision: Decision
    reason: str
    requested: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    determining: tuple[str, ...] = ()
    effects: tuple[Effect, ...] = ()
    id: uuid.UUID = msgspec.field(default_factory=new_id)
    timestamp: float = msgspec.field(default_factory=time.time)
    sequence: int = -1

    @property
    def permitted(self) -> bool:
        """True only for a PERMIT."""
        return self.decision is Decision.PERMIT


class ObservationLog:
    """An append-only, thread-safe log of observations with consecutive sequence numbers.

    `append` is the only way in; it stamps the next sequence number, so entry
    ``i`` always has ``sequence == i``. An observation id is recorded at most
    once. Entries are never changed or removed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Observation] = []
        self._ids: set[uuid.UUID] = set()

    def append(self, observation: Observation) -> Observation:
        """Record `observation` with the next sequence number and return the stored copy.

        Raises KernelError if it is not an Observation or its id is already recorded.
        """
        if not isinstance(observation, Observation):
            raise KernelError(f"expected an Observation, got `{type(observation).__name__}`")
        with self._lock:
            if observation.id in self._ids:
                raise KernelError(f"observation `{observation.id}` is already in the log")
            stored = msgspec.structs.replace(observation, sequence=len(self._entries))
            self._entries.append(stored)
            self._ids.add(stored.id)
        return stored

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Observation: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Observation, ...]: ...
    def __getitem__(self, index: int | slice) -> Observation | tuple[Observation, ...]:
        with self._lock:
            if isinstance(index, slice):
                return tuple(self._entries[index])
            return self._entries[index]

    def __iter__(self) -> Iterator[Observation]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"ObservationLog({len(self)} observations)"

    def snapshot(self) -> tuple[Observation, ...]:
        """Every entry so far, in order."""
        with self._lock:
            return tuple(self._entries)

    def for_subject(self, subject: uuid.UUID) -> tuple[Observation, ...]:
        """The entries about one subject, in order."""
        return tuple(obs for obs in self.snapshot() if obs.subject == subject)

    def to_json(self) -> bytes:
        """The whole log as a JSON array, in sequence order."""
        return msgspec.json.encode(self.snapshot())

    def to_msgpack(self) -> bytes:
        """The whole log as a MessagePack array, in sequence order."""
        return msgspec.msgpack.encode(self.snapshot())

    @classmethod
    def from_json(cls, data: bytes | str) -> ObservationLog:
        """Rebuild a log from `to_json` output; malformed or reordered data is refused."""
        try:
            entries = msgspec.json.decode(data, type=tuple[Observation, ...])
        except msgspec.DecodeError as exc:
            raise DeserializationError(f"observation log is malformed: {exc}") from None
        return cls._restore(entries)

    @classmethod
    def from_msgpack(cls, data: bytes) -> ObservationLog:
        """Rebuild a log from `to_msgpack` output; malformed or reordered data is refused."""
        try:
            entries = msgspec.msgpack.decode(data, type=tuple[Observation, ...])
        except msgspec.DecodeError as exc:
            raise DeserializationError(f"observation log is malformed: {exc}") from None
        return cls._restore(entries)

    @classmethod
    def _restore(cls, entries: Iterable[Observation]) -> ObservationLog:
        log = cls()
        for index, obs in enumerate(entries):
            if obs.sequence != index:
                raise DeserializationError(
                    f"observation log entry {index} has sequence `{obs.sequence}`: "
                    f"expected {index} (entries must be consecutive from 0)"
                )
            if obs.id in log._ids:
                raise DeserializationError(f"observation log records `{obs.id}` twice")
            log._entries.append(obs)
            log._ids.add(obs.id)
        return log
