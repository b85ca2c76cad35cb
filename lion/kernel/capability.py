"""Capabilities: unforgeable, attenuable, revocable grants of authority.

A `Capability` says "`holder` may exercise `rights` on resources matching
`resource` until `expiry`". Only a `CapabilityAuthority` (which holds the
HMAC-SHA256 key) can mint one or derive one from another; derivation
(attenuation, transfer) never widens rights, scope or lifetime. A token
carries its whole chain, root first, so verification needs nothing but the
key and the set of revoked ids. Revoking an id revokes every descendant,
because verification rejects any chain that contains a revoked id.

The pure functions (`is_resource`, `is_pattern`, `covers`,
`narrower_or_equal`, `attenuation_error`, `is_attenuation`, `permits`,
`chain_error`, `canonical_payload`) are total over plain values so that the
spec in ``spec/capabilities.lion`` can be bound to them. The byte format is
documented in ``docs/capabilities.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac as _hmac
import itertools
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Final, NoReturn

import msgspec

from lion.errors import CapabilityError

__all__ = [
    "KEY_ENV_VAR",
    "MAX_CHAIN",
    "MAX_TOKEN_LENGTH",
    "TOKEN_PREFIX",
    "Capability",
    "CapabilityAuthority",
    "CapabilityToken",
    "attenuation_error",
    "canonical_payload",
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
TOKEN_PREFIX: Final = "lion1"
#: The first two elements of every canonical payload: a domain tag and a format version.
PAYLOAD_TAG: Final = "lion-cap"
PAYLOAD_VERSION: Final = 1
MAX_CHAIN: Final = 32
MAX_TOKEN_LENGTH: Final = 65536
MAX_EXPIRY: Final = 2**63 - 1
_TAG_SIZE: Final = 32
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_B64_RE: Final = re.compile(r"[A-Za-z0-9_-]*")


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


class Capability(msgspec.Struct, frozen=True, kw_only=True):
    """One link of a capability chain: `holder` may do `rights` on `resource` until `expiry`.

    `expiry` is in whole seconds since the Unix epoch; the capability is valid
    while ``now < expiry``. `parent` is the id of the capability this one was
    derived from, or None for a root minted by the authority.
    """

    id: str
    holder: str
    resource: str
    rights: frozenset[str]
    expiry: int
    parent: str | None = None


# --- resources and patterns -------------------------------------------------------------------


def is_resource(resource: object) -> bool:
    """True if `resource` is a concrete resource: `/`-separated segments.

    Each segment is non-empty, has no `*`, and is not `.` or `..` (so a scope
    like `docs/*` can never be escaped by path traversal).
    """
    if not isinstance(resource, str) or not resource:
        return False
    return all(
        segment and "*" not in segment and segment not in (".", "..")
        for segment in resource.split("/")
    )


def is_pattern(pattern: object) -> bool:
    """True if `pattern` is `*` (everything), a concrete resource, or `<resource>/*`."""
    if not isinstance(pattern, str):
        return False
    if pattern == "*" or is_resource(pattern):
        return True
    return pattern.endswith("/*") and is_resource(pattern[:-2])


def covers(pattern: str, resource: str) -> bool:
    """True if `pattern` matches the concrete `resource`.

    `a/b` matches only `a/b`; `a/b/*` matches every resource strictly below
    `a/b` (`a/b/c`, `a/b/c/d`) but not `a/b` itself; `*` matches every
    resource. An invalid pattern or resource matches nothing (fail closed).
    """
    if not is_pattern(pattern) or not is_resource(resource):
        return False
    if pattern == "*" or pattern == resource:
        return True
    return pattern.endswith("/*") and resource.startswith(pattern[:-1])


def narrower_or_equal(child: str, parent: str) -> bool:
    """True if every resource `child` covers is also covered by `parent`.

    Invalid patterns are never narrower than anything (fail closed).
    """
    if not is_pattern(child) or not is_pattern(parent):
        return False
    if parent == "*" or child == parent:
        return True
    # A concrete parent covers one resource; only that same pattern is within it.
    return parent.endswith("/*") and child != "*" and child.startswith(parent[:-1])


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


def chain_error(chain: tuple[Capability, ...], now: int, revoked: frozenset[str]) -> str | None:
    """Why a (correctly signed) chain is not valid at `now`, or None if it is.

    Checks: 1 to MAX_CHAIN links, each well-formed, a root with no parent,
    each later link a valid attenuation of the one before, ids distinct, no
    link expired and no link revoked.
    """
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
    for cap in chain:
        if cap.id in revoked:
            return f"capability `{cap.id}` is revoked" + (
                "" if cap is chain[-1] else f" (an ancestor of `{chain[-1].id}`)"
            )
    for cap in chain:
        if now >= cap.expiry:
            return f"capability `{cap.id}` expired at {cap.expiry} (now {now})"
    return None


# --- canonical encoding and the token string --------------------------------------------------

_Payload = tuple[str, int, list[tuple[str, str, str, list[str], int, str | None]]]


def canonical_payload(chain: tuple[Capability, ...]) -> bytes:
    """The exact bytes the authority signs for `chain` (see docs/capabilities.md).

    MessagePack of ``["lion-cap", 1, [link, ...]]`` with each link
    ``[id, holder, resource, sorted(rights), expiry, parent or nil]``, root
    first; strings sorted by code point (= UTF-8 byte order), every value in
    its shortest MessagePack form, no maps.
    """
    links = [
        [cap.id, cap.holder, cap.resource, sorted(cap.rights), cap.expiry, cap.parent]
        for cap in chain
    ]
    return msgspec.msgpack.encode([PAYLOAD_TAG, PAYLOAD_VERSION, links])


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if not _B64_RE.fullmatch(text) or len(text) % 4 == 1:
        _fail(f"capability token {what} is not base64url: expected [A-Za-z0-9_-] without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:  # binascii.Error; unreachable after the checks above, kept fail-closed
        _fail(f"capability token {what} is not base64url")
    # Unused trailing bits would let two strings decode to the same bytes.
    if _b64encode(data) != text:
        _fail(f"capability token {what} is not canonical base64url")
    return data


def _fail(message: str) -> NoReturn:
    raise CapabilityError(message)


class CapabilityToken(msgspec.Struct, frozen=True):
    """A signed capability chain, root first; the last link is the capability it grants.

    A token decoded from a string is only parsed, not trusted: pass it to
    `CapabilityAuthority.verify` before relying on it.
    """

    chain: tuple[Capability, ...]
    tag: bytes

    @property
    def capability(self) -> Capability:
        """The capability this token grants (the last link of the chain)."""
        return self.chain[-1]

    @property
    def id(self) -> str:
        """The id of the granted capability."""
        return self.chain[-1].id

    def encode(self) -> str:
        """The compact string form ``lion1.<base64url payload>.<base64url tag>``."""
        return f"{TOKEN_PREFIX}.{_b64encode(canonical_payload(self.chain))}.{_b64encode(self.tag)}"

    def __repr__(self) -> str:
        cap = self.capability
        return (
            f"CapabilityToken(id={cap.id!r}, holder={cap.holder!r}, resource={cap.resource!r}, "
            f"rights={sorted(cap.rights)!r}, expiry={cap.expiry}, depth={len(self.chain)})"
        )


def decode_token(text: object) -> CapabilityToken:
    """Parse a token string without checking its signature; malformed input is a CapabilityError."""
    if not isinstance(text, str):
        _fail(f"capability token must be a string, got {type(text).__name__}")
    if len(text) > MAX_TOKEN_LENGTH:
        _fail(f"capability token is {len(text)} characters: at most {MAX_TOKEN_LENGTH} are allowed")
    parts = text.split(".")
    if len(parts) != 3:
        _fail("capability token is malformed: expected `lion1.<payload>.<tag>`")
    prefix, payload_text, tag_text = parts
    if prefix != TOKEN_PREFIX:
        _fail(f"capability token has prefix `{prefix[:16]}`: expected `{TOKEN_PREFIX}`")
    payload = _b64decode(payload_text, "payload")
    tag = _b64decode(tag_text, "tag")
    if len(tag) != _TAG_SIZE:
        _fail(f"capability token tag is {len(tag)} bytes: expected {_TAG_SIZE} (truncated?)")
    try:
        name, version, links = msgspec.msgpack.decode(payload, type=_Payload)
    except (msgspec.DecodeError, ValueError):  # ValueError: msgspec's UnicodeDecodeError
        _fail("capability token payload is malformed or truncated: expected a capability chain")
    if name != PAYLOAD_TAG or version != PAYLOAD_VERSION:
        _fail(
            f"capability token payload is `{name[:16]}` version `{version}`: "
            f"expected `{PAYLOAD_TAG}` version {PAYLOAD_VERSION}"
        )
    if not links or len(links) > MAX_CHAIN:
        _fail(f"capability token has {len(links)} links: expected 1 to {MAX_CHAIN}")
    chain = tuple(
        Capability(
            id=cid,
            holder=holder,
            resource=resource,
            rights=frozenset(rights),
            expiry=expiry,
            parent=parent,
        )
        for cid, holder, resource, rights, expiry, parent in links
    )
    # Only the canonical encoding is accepted, so each chain has exactly one token string.
    if canonical_payload(chain) != payload:
        _fail("capability token payload is not in canonical form")
    return CapabilityToken(chain=chain, tag=tag)


# --- the authority ---------------------------------------------------------------------------


def _wall_clock() -> int:
    return int(time.time())


def _new_id() -> str:
    return uuid.uuid4().hex


class CapabilityAuthority:
    """The only minter of capabilities: holds the HMAC key and the revocation set.

    The key comes from `key` or else the environment variable
    ``LION_CAPABILITY_KEY`` (its UTF-8 bytes). It never appears in repr, str,
    error messages or logs, and the authority refuses to be pickled. `clock`
    returns the current time in seconds since the epoch (injectable for tests).
    """

    __slots__ = ("__key", "_clock", "_lock", "_revoked")

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        revoked: Iterable[str] = (),
    ) -> None:
        if key is None:
            key = os.environ.get(KEY_ENV_VAR)
            if key is None:
                _fail(
                    f"no capability key: pass `key=` or set the environment variable {KEY_ENV_VAR}"
                )
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, bytes) or not key:
            _fail("capability key must be non-empty bytes or str")
        self.__key: bytes = key
        self._clock: Callable[[], float] = clock or _wall_clock
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        for cap_id in revoked:
            self.revoke(cap_id)

    def __repr__(self) -> str:
        return f"CapabilityAuthority(key=<hidden>, revoked={len(self._revoked)})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        _fail("a capability authority holds a secret key and cannot be serialized")

    def now(self) -> int:
        """The current time from the injected clock, in whole seconds."""
        return int(self._clock())

    def _sign(self, chain: tuple[Capability, ...]) -> CapabilityToken:
        return CapabilityToken(chain=chain, tag=_mac(self.__key, canonical_payload(chain)))

    def mint(
        self,
        holder: str,
        resource: str,
        rights: Iterable[str],
        expiry: int,
        *,
        id: str | None = None,
    ) -> CapabilityToken:
        """Mint a root capability for `holder`."""
        cap = Capability(
            id=_new_id() if id is None else id,
            holder=holder,
            resource=resource,
            rights=_rights(rights),
            expiry=expiry,
            parent=None,
        )
        problem = chain_error((cap,), now=-1, revoked=frozenset())
        if problem is not None:
            _fail(problem)
        return self._sign((cap,))

    def attenuate(
        self,
        token: CapabilityToken | str,
        *,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
        id: str | None = None,
    ) -> CapabilityToken:
        """Derive a narrower capability for the same holder; anything omitted is kept.

        Raises CapabilityError naming what would widen, or if `token` is not valid.
        """
        parent_token = self._verified(token)
        return self._derive(
            parent_token, parent_token.capability.holder, rights, resource, expiry, id
        )

    def transfer(
        self,
        token: CapabilityToken | str,
        holder: str,
        *,
        by: str | None = None,
        rights: Iterable[str] | None = None,
        resource: str | None = None,
        expiry: int | None = None,
        id: str | None = None,
    ) -> CapabilityToken:
        """Derive a capability for a new `holder`, never wider than `token`.

        If `by` is given it must be the current holder.
        """
        parent_token = self._verified(token)
        current = parent_token.capability.holder
        if by is not None and by != current:
            _fail(
                f"`{by}` cannot transfer capability `{parent_token.id}`: it is held by `{current}`"
            )
        return self._derive(parent_token, holder, rights, resource, expiry, id)

    def _derive(
        self,
        parent_token: CapabilityToken,
        holder: str,
        rights: Iterable[str] | None,
        resource: str | None,
        expiry: int | None,
        cap_id: str | None,
    ) -> CapabilityToken:
        parent = parent_token.capability
        child = Capability(
            id=_new_id() if cap_id is None else cap_id,
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
        if problem is None and child.id in {cap.id for cap in parent_token.chain}:
            problem = f"capability id `{child.id}` is already used in this chain"
        if problem is not None:
            _fail(problem)
        return self._sign(chain)

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
        with self._lock:
            revoked = frozenset(self._revoked)
        problem = chain_error(parsed.chain, self.now() if now is None else now, revoked)
        if problem is not None:
            _fail(problem)
        return parsed

    def verify(self, token: CapabilityToken | str, *, now: int | None = None) -> Capability:
        """Check signature, chain, expiry and revocation; return the granted capability.

        Raises CapabilityError saying what is wrong; an invalid token is never accepted.
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

        Revoking needs no valid signature: an id nobody holds is simply never accepted.
        """
        cap_id = target.id if isinstance(target, Capability | CapabilityToken) else target
        if isinstance(cap_id, str) and cap_id.startswith(TOKEN_PREFIX + "."):
            cap_id = decode_token(cap_id).id  # a token string: revoke what it grants
        if not isinstance(cap_id, str) or not _ID_RE.fullmatch(cap_id):
            _fail(f"cannot revoke `{str(cap_id)[:64]}`: expected a capability id")
        with self._lock:
            self._revoked.add(cap_id)

    def is_revoked(self, cap_id: str) -> bool:
        """True if `cap_id` itself was revoked (descendants are rejected by `verify`)."""
        with self._lock:
            return cap_id in self._revoked

    @property
    def revoked(self) -> frozenset[str]:
        """The revoked ids, for persisting the revocation set."""
        with self._lock:
            return frozenset(self._revoked)


def _rights(rights: Iterable[str]) -> frozenset[str]:
    if isinstance(rights, str):
        # A bare string would silently become a set of characters.
        _fail(f"rights must be a collection of strings, got the string `{rights}`")
    try:
        return frozenset(rights)
    except TypeError:
        _fail("rights must be a collection of strings")
