"""The kernel backends: the Python reference and the Rust core, behind one protocol.

The runtime and ``lion-verify`` never import a kernel module directly for the
parts both kernels implement; they ask for a `Backend`::

    from lion.kernel.backend import get_backend

    kernel = get_backend()               # LION_BACKEND, else rust when built, else python
    policies = kernel.policy_set('permit(principal, action, resource);')
    policies.evaluate({"principal": 'User::"a"', "action": 'Action::"r"',
                       "resource": 'Doc::"d"', "context": {}}).decision

Both backends return the same Python values (``Response``, ``Capability``,
``CapabilityToken``, ``Morphism``), so callers cannot tell them apart except
by speed. ``lion-verify --backend all`` checks that they agree with the spec
and with each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from lion.errors import BackendError
from lion.kernel import compose as _compose
from lion.kernel.actor import would_deadlock as _would_deadlock
from lion.kernel.capability import Capability, CapabilityAuthority, CapabilityToken
from lion.kernel.policy import Entities, PolicySet, Response
from lion.kernel.revocation import RevocationStore

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "Authority",
    "Backend",
    "PolicyEngine",
    "PythonBackend",
    "default_backend_name",
    "get_backend",
    "rust_available",
]

ENV_VAR: Final = "LION_BACKEND"
BACKENDS: Final = ("python", "rust")


class PolicyEngine(Protocol):
    """A parsed policy set: decide requests against entities.

    Templates are kept but never evaluated; ``ids`` lists the static policies
    in file order, then the linked ones in link order. A set is immutable:
    ``link`` and ``link_all`` return a new one.
    """

    def __len__(self) -> int: ...

    @property
    def ids(self) -> Sequence[str]:
        """The static and linked policy ids, in evaluation order."""
        ...

    @property
    def templates(self) -> Sequence[str]:
        """The template ids, in file order."""
        ...

    def link(self, template_id: str, new_id: str, slots: Mapping[str, Any]) -> PolicyEngine:
        """A new set with template ``template_id`` linked as ``new_id`` (PolicyError if not)."""
        ...

    def link_all(self, links: Any) -> PolicyEngine:
        """A new set with Cedar's JSON template links applied (all or nothing)."""
        ...

    def evaluate(self, request: Any, entities: Any = None) -> Response:
        """Decide one request (Cedar request JSON or a decoded dict)."""
        ...

    def evaluate_batch(self, requests: Sequence[Any], entities: Any = None) -> list[Response]:
        """Decide many requests against the same entities, in order."""
        ...


class Authority(Protocol):
    """A capability authority: `lion.kernel.capability.CapabilityAuthority` or the Rust one."""

    def now(self) -> int: ...

    def mint(
        self,
        holder: str,
        resource: str,
        rights: Iterable[str],
        expiry: int,
    ) -> CapabilityToken: ...

    def attenuate(
        self,
        token: CapabilityToken | str,
        *,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken: ...

    def transfer(
        self,
        token: CapabilityToken | str,
        holder: str,
        *,
        by: str,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken: ...

    def verify(self, token: CapabilityToken | str, *, now: int | None = None) -> Capability: ...

    def authorize(
        self,
        token: CapabilityToken | str,
        resource: str,
        right: str,
        *,
        holder: str | None = None,
        now: int | None = None,
    ) -> Capability: ...

    def revoke(self, target: str | Capability | CapabilityToken) -> None: ...

    def is_revoked(self, cap_id: str) -> bool: ...

    @property
    def revoked(self) -> frozenset[str]: ...


class Backend(Protocol):
    """What the runtime needs from a kernel implementation."""

    name: str

    def policy_set(self, text: str, path: str = "<policies>") -> PolicyEngine:
        """Parse Cedar-syntax policies once; PolicyError on bad text."""
        ...

    def entities(self, data: Any) -> Any:
        """Parse Cedar entities JSON once, for reuse across requests."""
        ...

    def authority(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revocations: RevocationStore | None = None,
    ) -> Authority:
        """A capability authority holding `key` (or LION_CAPABILITY_KEY), revoking into
        `revocations` (default: LION_REVOCATION_DB's SQLite store if set, else memory)."""
        ...

    def compose(self, f: _compose.Morphism, g: _compose.Morphism) -> _compose.Morphism:
        """`f` then `g`; CompositionError if `f`'s target is not `g`'s source."""
        ...

    def product(self, f: _compose.Morphism, g: _compose.Morphism) -> _compose.Morphism:
        """`f` and `g` side by side, ports united; CompositionError if they share a
        source or a target port. The same morphism whichever comes first."""
        ...

    def would_deadlock(
        self, waiting_on: Mapping[str, str | Collection[str]], waiter: str, target: str
    ) -> bool:
        """Would the wait `waiter -> target` close a cycle in the wait-for graph?

        `waiting_on` maps each actor to every actor it waits on (a collection,
        repeats allowed, or a single name).
        """
        ...


class _PythonPolicies:
    __slots__ = ("_set",)

    def __init__(self, policy_set: PolicySet) -> None:
        self._set = policy_set

    def __len__(self) -> int:
        return len(self._set)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._set.ids

    @property
    def templates(self) -> tuple[str, ...]:
        return self._set.templates

    def link(self, template_id: str, new_id: str, slots: Mapping[str, Any]) -> _PythonPolicies:
        return _PythonPolicies(self._set.link(template_id, new_id, slots))

    def link_all(self, links: Any) -> _PythonPolicies:
        return _PythonPolicies(self._set.link_all(links))

    def evaluate(self, request: Any, entities: Any = None) -> Response:
        return self._set.evaluate(request, entities)

    def evaluate_batch(self, requests: Sequence[Any], entities: Any = None) -> list[Response]:
        # parsed once for the whole batch (an Entities store passes through as it is)
        store = None if entities is None else Entities.from_json(entities, self._set.limits)
        return [self._set.evaluate(request, store) for request in requests]


class PythonBackend:
    """The reference kernel in `lion.kernel`: the oracle the Rust core is checked against."""

    name = "python"

    def policy_set(self, text: str, path: str = "<policies>") -> PolicyEngine:
        return _PythonPolicies(PolicySet.from_str(text, path))

    def entities(self, data: Any) -> Entities:
        return Entities.from_json(data)

    def authority(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revocations: RevocationStore | None = None,
    ) -> CapabilityAuthority:
        return CapabilityAuthority(key, clock=clock, revocations=revocations)

    def compose(self, f: _compose.Morphism, g: _compose.Morphism) -> _compose.Morphism:
        return _compose.compose(f, g)

    def product(self, f: _compose.Morphism, g: _compose.Morphism) -> _compose.Morphism:
        return _compose.product(f, g)

    def would_deadlock(
        self, waiting_on: Mapping[str, str | Collection[str]], waiter: str, target: str
    ) -> bool:
        return _would_deadlock(waiting_on, waiter, target)

    def __repr__(self) -> str:
        return "PythonBackend()"


_RUST_EXPORTS: Final = ("PolicySet", "Entities", "CapabilityAuthority", "compose_morphisms")


def rust_available() -> bool:
    """True if the Rust extension is built and exports the kernel."""
    try:
        from lion import _native
    except ImportError:
        return False
    return all(hasattr(_native, name) for name in _RUST_EXPORTS)


def default_backend_name() -> str:
    """``LION_BACKEND`` if set, else ``rust`` when the extension is built, else ``python``."""
    chosen = os.environ.get(ENV_VAR, "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise BackendError(
                f"{ENV_VAR}=`{chosen}` is not a backend: expected one of {', '.join(BACKENDS)}"
            )
        return chosen
    return "rust" if rust_available() else "python"


_CACHE: dict[str, Backend] = {}


def get_backend(name: str | None = None) -> Backend:
    """The backend called `name` (default: `default_backend_name()`).

    BackendError if there is no such backend or it is not built.
    """
    chosen = default_backend_name() if name is None else name
    if chosen in _CACHE:
        return _CACHE[chosen]
    backend: Backend
    if chosen == "python":
        backend = PythonBackend()
    elif chosen == "rust":
        if not rust_available():
            raise BackendError(
                "the rust backend is not built: run `make build` (maturin develop) "
                f"or set {ENV_VAR}=python"
            )
        from lion.kernel._rust import RustBackend

        backend = RustBackend()
    else:
        raise BackendError(f"`{chosen}` is not a backend: expected one of {', '.join(BACKENDS)}")
    _CACHE[chosen] = backend
    return backend
