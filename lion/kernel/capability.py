"""Capabilities: unforgeable, attenuable, revocable grants of authority.

A `Capability` says "`holder` may exercise `rights` on resources matching
`resource` until `expiry`". Only a `CapabilityAuthority` (which holds the
HMAC-SHA256 key) can mint one or derive one from another; derivation
(attenuation, transfer) never widens rights, scope or lifetime. A token
carries its whole chain, root first, so verification needs nothing but the
key and a revocation store (`lion.kernel.revocation`). Revoking an id
revokes every descendant, because verification rejects any chain that
contains a revoked id. Ids are minted by the authority: 128 random bits.

The pure functions (`is_resource`, `is_pattern`, `covers`,
`narrower_or_equal`, `attenuation_error`, `is_attenuation`, `permits`,
`chain_error`, `canonical_payload`) are total over plain values so that the
spec in ``spec/capabilities.lion`` can be bound to them. The byte format is
documented in ``docs/capabilities.md``.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import itertools
import os
import re
import secrets
import time
from collections.abc import Callable, Container, Iterable
from typing import Final, NoReturn

import msgspec

from lion.errors import CapabilityError, LionError, RevocationStoreError
from lion.kernel.patterns import covers, is_pattern, is_resource, narrower_or_equal
from lion.kernel.policy._text import argument_surrogate
from lion.kernel.revocation import MemoryRevocationStore, RevocationStore, store_from_env
from lion.kernel.tokens import (
    MAX_CHAIN,
    MAX_TOKEN_LENGTH,
    TOKEN_PREFIX,
    Capability,
    CapabilityToken,
    canonical_payload,
    decode_token,
)

__all__ = [
    "KEY_ENV_VAR",
    "MAX_CHAIN",
    "MAX_TOKEN_LENGTH",
    "MIN_KEY_BYTES",
    "TOKEN_PREFIX",
    "Capability",
    "CapabilityAuthority",
    "CapabilityToken",
    "attenuation_error",
    "canonical_payload",
    "capability_key",
    "chain_error",
    "covers",
    "decode_token",
    "is_attenuation",
    "is_pattern",
    "is_resource",
    "narrower_or_equal",
    "permits",
]

KEY_ENV_VAR: Final = "LION_CAPABILITY_KEY"
MAX_EXPIRY: Final = 2**63 - 1
MIN_KEY_BYTES: Final = 32
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _load_native() -> tuple[Callable[[bytes, bytes], bytes], Callable[[bytes, bytes, bytes], bool]]:
    """The Rust HMAC if the extension is built, else Python's (same bytes and compare)."""
    try:
        from lion import _native
    except ImportError:  # pragma: no cover - only without the extension
        return _py_mac, _py_mac_ok
    return _native.hmac_sha256, _native.hmac_sha256_verify


def _py_mac(key: bytes, message: bytes) -> bytes:
    return _hmac.new(key, message, hashlib.sha256).digest()


def _py_mac_ok(key: bytes, message: bytes, tag: bytes) -> bool:
    return _hmac.compare_digest(_py_mac(key, message), tag)


_mac, _mac_ok = _load_native()


# --- capabilities as values ------------------------------------------------------------------


def _is_text(value: object) -> bool:
    """A non-empty str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fields_error(cap: Capability) -> str | None:
    """Why `cap` is not well-formed, or None."""
    if not isinstance(cap.id, str) or not _ID_RE.fullmatch(cap.id):
        return f"capability id `{cap.id}` is malformed: expected 1-128 of [A-Za-z0-9_-]"
    if not _is_text(cap.holder):
        return f"capability `{cap.id}` has holder `{cap.holder!r}`: expected a non-empty name"
    if not is_pattern(cap.resource) or not _is_text(cap.resource):
        return (
            f"capability `{cap.id}` has resource pattern `{cap.resource}`: expected `a/b`, "
            "`a/b/*` or `*` with non-empty segments"
        )
    if not isinstance(cap.rights, frozenset):
        return f"capability `{cap.id}` has rights `{cap.rights!r}`: expected a frozenset"
    for right in cap.rights:
        if not _is_text(right):
            return f"capability `{cap.id}` has right `{right!r}`: expected a non-empty string"
    if isinstance(cap.expiry, bool) or not isinstance(cap.expiry, int):
        return f"capability `{cap.id}` has expiry `{cap.expiry!r}`: expected an integer"
    if not 0 <= cap.expiry <= MAX_EXPIRY:
        return f"capability `{cap.id}` has expiry `{cap.expiry}`: expected 0 to 2**63-1"
    if cap.parent is not None and (
        not isinstance(cap.parent, str) or not _ID_RE.fullmatch(cap.parent)
    ):
        return f"capability `{cap.id}` has malformed parent id `{cap.parent}`"
    return None


def _show_rights(rights: Iterable[str]) -> str:
    return "{" + ", ".join(f"`{r}`" for r in sorted(rights)) + "}"


def attenuation_error(parent: Capability, child: Capability) -> str | None:
    """What `child` widens relative to `parent`, or None if it is a valid attenuation.

    A valid child names `parent` as its parent, has a different id, rights a
    subset of the parent's, a resource pattern within the parent's and an
    expiry no later than the parent's. The holder may change (a transfer).
    """
    if child.parent != parent.id:
        return f"capability `{child.id}` names parent `{child.parent}`, expected `{parent.id}`"
    if child.id == parent.id:
        return f"capability `{child.id}` has the same id as its parent"
    extra = child.rights - parent.rights
    if extra:
        return (
            f"attenuation would widen rights: {_show_rights(extra)} not in the parent's "
            f"rights {_show_rights(parent.rights)}"
        )
    if not narrower_or_equal(child.resource, parent.resource):
        return (
            f"attenuation would widen resource scope: `{child.resource}` is not within "
            f"`{parent.resource}`"
        )
    if child.expiry > parent.expiry:
        return (
            f"attenuation would extend expiry: {child.expiry} is later than the parent's "
            f"{parent.expiry}"
        )
    return None


def is_attenuation(parent: Capability, child: Capability) -> bool:
    """True if `child` is a valid derivation of `parent` (see `attenuation_error`)."""
    return attenuation_error(parent, child) is None


def permits(capability: Capability, resource: str, right: str, now: int) -> bool:
    """True if `capability` (already verified) allows `right` on `resource` at time `now`."""
    return (
        right in capability.rights
        and covers(capability.resource, resource)
        and now < capability.expiry
    )


def chain_error(
    chain: tuple[Capability, ...], now: int, revoked: Container[str] = frozenset()
) -> str | None:
    """Why a (correctly signed) chain is not valid at `now`, or None if it is.

    Checks: 1 to MAX_CHAIN links, each well-formed, a root with no parent,
    each later link a valid attenuation of the one before, ids distinct, no
    link revoked (in `revoked`) and no link expired, in that order.
    """
    problem = _structure_error(chain)
    if problem is None:
        first = next((cap.id for cap in chain if cap.id in revoked), None)
        problem = _status_error(chain, now, first)
    return problem


def _structure_error(chain: tuple[Capability, ...]) -> str | None:
    """Why `chain` is not a well-formed chain of attenuations (time and revocation aside)."""
    if not chain:
        return "capability chain is empty: expected at least a root capability"
    if len(chain) > MAX_CHAIN:
        return f"capability chain has {len(chain)} links: at most {MAX_CHAIN} are allowed"
    for cap in chain:
        problem = _fields_error(cap)
        if problem is not None:
            return problem
    if chain[0].parent is not None:
        return f"root capability `{chain[0].id}` names parent `{chain[0].parent}`: expected none"
    for parent, child in itertools.pairwise(chain):
        problem = attenuation_error(parent, child)
        if problem is not None:
            return problem
    if len({cap.id for cap in chain}) != len(chain):
        return "capability chain repeats an id"
    return None


def _status_error(chain: tuple[Capability, ...], now: int, first_revoked: str | None) -> str | None:
    """Why a well-formed chain is not valid at `now`: its first revoked id, else an expiry."""
    if first_revoked is not None:
        return f"capability `{first_revoked}` is revoked" + (
            "" if first_revoked == chain[-1].id else f" (an ancestor of `{chain[-1].id}`)"
        )
    for cap in chain:
        if now >= cap.expiry:
            return f"capability `{cap.id}` expired at {cap.expiry} (now {now})"
    return None


# --- the authority ---------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    raise CapabilityError(message)


def _refuse_surrogates(**arguments: object) -> None:
    """As the Rust core, which takes UTF-8 only: a lone surrogate is refused, never matched."""
    problem = argument_surrogate(**arguments)
    if problem is not None:
        _fail(problem)


def _wall_clock() -> int:
    return int(time.time())


def _new_id() -> str:
    """128 random bits as 32 lowercase hex digits; only the authority mints ids."""
    return secrets.token_hex(16)


def capability_key(key: bytes | str | None) -> bytes:
    """The key bytes an authority would use: `key`, else LION_CAPABILITY_KEY; checked.

    For keys derived from the same secret (the session's seal on paused runs).
    """
    return _key_bytes(key)


def _key_bytes(key: bytes | str | None) -> bytes:
    source = "capability key"
    if key is None:
        key = os.environ.get(KEY_ENV_VAR)
        if key is None:
            _fail(f"no capability key: pass `key=` or set the environment variable {KEY_ENV_VAR}")
        source = f"capability key from {KEY_ENV_VAR}"
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes):
        _fail("capability key must be bytes or str")
    if len(key) < MIN_KEY_BYTES:
        _fail(
            f"{source} is {len(key)} bytes: at least {MIN_KEY_BYTES} are required "
            "(use `secrets.token_urlsafe(32)`)"
        )
    return key


def _store_problem(exc: Exception) -> str:
    """What a revocation store's exception says (the same words the Rust binding uses)."""
    return str(exc) if isinstance(exc, LionError) else f"{type(exc).__name__}: {exc}"


class CapabilityAuthority:
    """The only minter of capabilities: holds the HMAC key and a revocation store.

    The key comes from `key` or else the environment variable
    ``LION_CAPABILITY_KEY`` (its UTF-8 bytes); it must be at least 32 bytes.
    It never appears in repr, str, error messages or logs, and the authority
    refuses to be pickled. `clock` returns the current time in seconds since
    the epoch (injectable for tests). `revocations` is where revoked ids live
    (see `lion.kernel.revocation`): authorities given the same store, or
    SQLite stores on the same file, refuse each other's revoked tokens. By
    default it is a SQLite store at ``LION_REVOCATION_DB`` if that is set,
    else a new in-memory store. `revoked` ids are revoked into the store.
    """

    __slots__ = ("__key", "_clock", "_revocations")

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revoked: Iterable[str] = (),
        revocations: RevocationStore | None = None,
    ) -> None:
        self.__key: bytes = _key_bytes(key)
        self._clock: Callable[[], float] = clock or _wall_clock
        if revocations is None:
            revocations = store_from_env() or MemoryRevocationStore()
        self._revocations: RevocationStore = revocations
        for cap_id in revoked:
            self.revoke(cap_id)

    def __repr__(self) -> str:
        try:
            count = str(len(self._revocations.ids()))
        except Exception:
            count = "?"
        return f"CapabilityAuthority(key=<hidden>, revoked={count})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        _fail("a capability authority holds a secret key and cannot be serialized")

    @property
    def revocations(self) -> RevocationStore:
        """The revocation store this authority consults on every verification."""
        return self._revocations

    def now(self) -> int:
        """The current time from the injected clock, in whole seconds."""
        return int(self._clock())

    def _sign(self, chain: tuple[Capability, ...]) -> CapabilityToken:
        return CapabilityToken(chain=chain, tag=_mac(self.__key, canonical_payload(chain)))

    def _sign_chain(self, chain: tuple[Capability, ...]) -> CapabilityToken:
        """Sign a well-formed chain as given, ids included (tests and test vectors only)."""
        problem = _structure_error(chain)
        if problem is not None:
            _fail(problem)
        return self._sign(chain)

    def mint(
        self, holder: str, resource: str, rights: Iterable[str], expiry: int
    ) -> CapabilityToken:
        """Mint a root capability for `holder`, with a fresh random id."""
        _refuse_surrogates(holder=holder, resource=resource, right=rights)
        cap = Capability(
            id=_new_id(),
            holder=holder,
            resource=resource,
            rights=_rights(rights),
            expiry=expiry,
            parent=None,
        )
        return self._sign_chain((cap,))

    def attenuate(
        self,
        token: CapabilityToken | str,
        *,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken:
        """Derive a narrower capability for the same holder; anything omitted is kept.

        Raises CapabilityError naming what would widen, or if `token` is not valid.
        """
        _refuse_surrogates(resource=resource, right=rights)
        parent_token = self._verified(token)
        return self._derive(parent_token, parent_token.capability.holder, rights, resource, expiry)

    def transfer(
        self,
        token: CapabilityToken | str,
        holder: str,
        *,
        by: str,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
    ) -> CapabilityToken:
        """Derive a capability for a new `holder`, never wider than `token`.

        `by` must be the current holder: a copy of a token is not the right to give it away.
        """
        _refuse_surrogates(holder=holder, by=by, resource=resource, right=rights)
        parent_token = self._verified(token)
        current = parent_token.capability.holder
        if by != current:
            _fail(
                f"`{by}` cannot transfer capability `{parent_token.id}`: it is held by `{current}`"
            )
        return self._derive(parent_token, holder, rights, resource, expiry)

    def _derive(
        self,
        parent_token: CapabilityToken,
        holder: str,
        rights: Iterable[str] | None,
        resource: str | None,
        expiry: int | None,
    ) -> CapabilityToken:
        parent = parent_token.capability
        child = Capability(
            id=_new_id(),
            holder=holder,
            resource=parent.resource if resource is None else resource,
            rights=parent.rights if rights is None else _rights(rights),
            expiry=parent.expiry if expiry is None else expiry,
            parent=parent.id,
        )
        chain = (*parent_token.chain, child)
        problem = _fields_error(child) or attenuation_error(parent, child)
        if problem is None and len(chain) > MAX_CHAIN:
            problem = f"capability chain would have {len(chain)} links: at most {MAX_CHAIN}"
        if problem is not None:
            _fail(problem)
        return self._sign(chain)

    def _first_revoked(self, chain: tuple[Capability, ...]) -> str | None:
        """One store query for the whole chain; a failing or confused store refuses the token."""
        ids = [cap.id for cap in chain]
        try:
            first = self._revocations.first_revoked(ids)
        except Exception as exc:
            raise RevocationStoreError(
                f"revocation store failed, so the token is refused: {_store_problem(exc)}"
            ) from exc
        if first is not None and first not in ids:
            raise RevocationStoreError(
                f"revocation store failed, so the token is refused: it answered `{first}`, "
                "which is not in the chain"
            )
        return first

    def _verified(self, token: CapabilityToken | str, now: int | None = None) -> CapabilityToken:
        parsed = decode_token(token) if isinstance(token, str) else token
        if not isinstance(parsed, CapabilityToken):
            _fail(f"expected a capability token, got {type(token).__name__}")
        if not isinstance(parsed.chain, tuple) or not parsed.chain:
            _fail("capability token has an empty chain")
        try:
            payload = canonical_payload(parsed.chain)
        except (TypeError, AttributeError, msgspec.EncodeError):
            _fail("capability token chain holds values that are not capabilities")
        if not isinstance(parsed.tag, bytes) or not _mac_ok(self.__key, payload, parsed.tag):
            _fail("capability token signature does not match: forged, tampered or another key")
        problem = _structure_error(parsed.chain)
        if problem is None:
            at = self.now() if now is None else now
            problem = _status_error(parsed.chain, at, self._first_revoked(parsed.chain))
        if problem is not None:
            _fail(problem)
        return parsed

    def verify(self, token: CapabilityToken | str, *, now: int | None = None) -> Capability:
        """Check signature, chain, revocation and expiry; return the granted capability.

        Raises CapabilityError saying what is wrong; an invalid token is never
        accepted, and neither is any token while the revocation store fails.
        """
        return self._verified(token, now).capability

    def authorize(
        self,
        token: CapabilityToken | str,
        resource: str,
        right: str,
        *,
        holder: str | None = None,
        now: int | None = None,
    ) -> Capability:
        """Verify `token` and check it lets `holder` (if given) do `right` on `resource`."""
        _refuse_surrogates(resource=resource, right=right, holder=holder)
        at = self.now() if now is None else now
        cap = self.verify(token, now=at)
        if holder is not None and cap.holder != holder:
            _fail(f"capability `{cap.id}` is held by `{cap.holder}`, not `{holder}`")
        if right not in cap.rights:
            _fail(
                f"capability `{cap.id}` does not grant right `{right}`: "
                f"it grants {_show_rights(cap.rights)}"
            )
        if not covers(cap.resource, resource):
            _fail(f"capability `{cap.id}` covers `{cap.resource}`, not resource `{resource}`")
        return cap

    def revoke(self, target: str | Capability | CapabilityToken) -> None:
        """Revoke a capability by id (or the one a token grants), and so all its descendants.

        Revoking needs no valid signature: an id nobody holds is simply never
        accepted. When this returns, the store has recorded it.
        """
        cap_id = target.id if isinstance(target, Capability | CapabilityToken) else target
        if isinstance(cap_id, str) and cap_id.startswith(TOKEN_PREFIX + "."):
            cap_id = decode_token(cap_id).id  # a token string: revoke what it grants
        _refuse_surrogates(target=cap_id)
        if not isinstance(cap_id, str) or not _ID_RE.fullmatch(cap_id):
            _fail(f"cannot revoke `{str(cap_id)[:64]}`: expected a capability id")
        try:
            self._revocations.revoke(cap_id)
        except Exception as exc:
            raise RevocationStoreError(
                f"revocation store failed, so `{cap_id}` is not revoked: {_store_problem(exc)}"
            ) from exc

    def is_revoked(self, cap_id: str) -> bool:
        """True if `cap_id` itself was revoked (descendants are rejected by `verify`)."""
        try:
            return bool(self._revocations.is_revoked(cap_id))
        except Exception as exc:
            raise RevocationStoreError(f"revocation store failed: {_store_problem(exc)}") from exc

    @property
    def revoked(self) -> frozenset[str]:
        """Every revoked id in the store (O(revoked): for export, not for checks)."""
        try:
            return frozenset(self._revocations.ids())
        except Exception as exc:
            raise RevocationStoreError(f"revocation store failed: {_store_problem(exc)}") from exc


def _rights(rights: Iterable[str]) -> frozenset[str]:
    if isinstance(rights, str):
        # A bare string would silently become a set of characters.
        _fail(f"rights must be a collection of strings, got the string `{rights}`")
    try:
        return frozenset(rights)
    except TypeError:
        _fail("rights must be a collection of strings")
