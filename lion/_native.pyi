"""Type stubs for the Rust core, `lion._native` (checked by mypy.stubtest)."""

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, SupportsInt, final

from lion.kernel.revocation import RevocationStore

__all__ = [
    "CapabilityAuthority",
    "Entities",
    "Mailbox",
    "PolicySet",
    "__version__",
    "capability_covers",
    "capability_narrower_or_equal",
    "capability_payload",
    "compose_all_morphisms",
    "compose_morphisms",
    "grant_capabilities",
    "hmac_sha256",
    "hmac_sha256_verify",
    "identity_morphism",
    "morphism",
    "policy_combine",
    "product_morphisms",
    "secure_morphism",
    "would_deadlock",
]

__version__: str

def hmac_sha256(key: bytes, message: bytes) -> bytes: ...
def hmac_sha256_verify(key: bytes, message: bytes, tag: bytes) -> bool: ...

# --- policy (lion_rs/py/src/policy.rs) ---

#: `(decision, sorted determining ids, sorted (policy id, message) errors, hits)`;
#: `hits` lists the policies that are not FALSE in set order: a TRUE one by its
#: number, an UNKNOWN one as `(number, message)`.
_PolicyResult = tuple[
    str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[int | tuple[int, str], ...]
]

@final
class Entities:
    """A Cedar entity store: JSON text, or the decoded list; PolicyError on bad input."""

    def __new__(cls, data: object) -> Entities: ...
    def __len__(self) -> int: ...

@final
class PolicySet:
    """Cedar-syntax policies parsed once; PolicyError (with path:line:col) on bad text."""

    def __new__(cls, text: str, path: str = "<policies>") -> PolicySet: ...
    def __len__(self) -> int: ...
    @property
    def ids(self) -> list[str]: ...
    @property
    def effects(self) -> list[str]: ...
    @property
    def templates(self) -> list[str]: ...
    def link(self, template_id: str, new_id: str, slots: object) -> PolicySet: ...
    def link_all(self, links: object) -> PolicySet: ...
    def evaluate(self, request: object, entities: Entities | None = None) -> _PolicyResult: ...
    def evaluate_batch(
        self, requests: Iterable[object], entities: Entities | None = None
    ) -> list[_PolicyResult]: ...

def policy_combine(triples: Sequence[tuple[str, str, str]]) -> tuple[str, tuple[str, ...]]: ...

# --- capability (lion_rs/py/src/capability.rs) ---

#: A capability as `(id, holder, resource, rights, expiry, parent)`.
_CapabilityTuple = tuple[str, str, str, frozenset[str], int, str | None]

@final
class CapabilityAuthority:
    """The Rust capability authority; tokens are `lion1.<payload>.<tag>` strings."""

    def __new__(
        cls,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], SupportsInt] | None = None,
        revoked: Iterable[str] | None = None,
        revocations: RevocationStore | None = None,
    ) -> CapabilityAuthority: ...
    def now(self) -> int: ...
    def mint(
        self,
        holder: str,
        resource: str,
        rights: Iterable[str],
        expiry: int,
    ) -> str: ...
    def attenuate(
        self,
        token: str,
        *,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> str: ...
    def transfer(
        self,
        token: str,
        holder: str,
        *,
        by: str,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> str: ...
    def verify(self, token: str, *, now: int | None = None) -> _CapabilityTuple: ...
    def authorize(
        self,
        token: str,
        resource: str,
        right: str,
        *,
        holder: str | None = None,
        now: int | None = None,
    ) -> _CapabilityTuple: ...
    def revoke(self, target: str) -> None: ...
    def is_revoked(self, cap_id: str) -> bool: ...
    @property
    def revoked(self) -> frozenset[str]: ...

def capability_payload(
    chain: Sequence[tuple[str, str, str, Sequence[str], int, str | None]],
) -> bytes: ...
def capability_covers(pattern: str, resource: str) -> bool: ...
def capability_narrower_or_equal(child: str, parent: str) -> bool: ...

# --- compose (lion_rs/py/src/compose.rs) ---

#: A morphism as `(source, target, required, pre, post, name)`; objects are sorted
#: tuples of ports without repeats.
_MorphismTuple = tuple[
    tuple[str, ...], tuple[str, ...], frozenset[str], frozenset[str], frozenset[str], str
]
#: An object argument: a port name, or a tuple (each port once) or set of them.
_ObjArg = str | tuple[str, ...] | frozenset[str] | set[str]
#: A morphism argument: the tuple above, or the same without the name.
_MorphismArg = _MorphismTuple | tuple[_ObjArg, _ObjArg, Iterable[str], Iterable[str], Iterable[str]]

def morphism(
    source: _ObjArg,
    target: _ObjArg,
    required: Iterable[str] | None = None,
    pre: Iterable[str] | str | None = None,
    post: Iterable[str] | str | None = None,
    name: str = "",
) -> _MorphismTuple: ...
def identity_morphism(obj: _ObjArg) -> _MorphismTuple: ...
def compose_morphisms(f: _MorphismArg, g: _MorphismArg) -> _MorphismTuple: ...
def compose_all_morphisms(first: _MorphismArg, *rest: _MorphismArg) -> _MorphismTuple: ...
def product_morphisms(f: _MorphismArg, g: _MorphismArg) -> _MorphismTuple: ...
def secure_morphism(morphism: _MorphismArg, granted: Iterable[str]) -> bool: ...
def grant_capabilities(required: Iterable[str], authority: Iterable[str]) -> frozenset[str]: ...

# --- mailbox (lion_rs/py/src/mailbox.rs) ---

@final
class Mailbox:
    """A bounded FIFO of `(sender, message)` entries that can be closed."""

    def __new__(cls, capacity: int) -> Mailbox: ...
    def offer(self, sender: str, message: object) -> str: ...
    def take(self) -> tuple[str, Any]: ...
    def close(self) -> None: ...
    def drain(self) -> tuple[tuple[str, Any], ...]: ...
    def finish(self) -> None: ...
    def pending(self) -> tuple[tuple[str, Any], ...]: ...
    def __len__(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def phase(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def empty(self) -> bool: ...
    @property
    def full(self) -> bool: ...
    @property
    def accepted(self) -> int: ...
    @property
    def taken(self) -> int: ...
    @property
    def drained(self) -> int: ...

def would_deadlock(
    waiting_on: Mapping[str, str | Collection[str]], waiter: str, target: str
) -> bool: ...
