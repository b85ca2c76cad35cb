"""Capability values and their token string: the canonical bytes the authority signs.

`Capability` is one link of a chain; `CapabilityToken` is a signed chain;
`canonical_payload` gives the exact bytes that are signed and `decode_token`
parses a token string (shape only, no signature check). The byte format is
documented in ``docs/capabilities.md``; `lion.kernel.capability` re-exports
everything here.
"""

from __future__ import annotations

import base64
import re
from typing import Final, NoReturn

import msgspec

from lion.errors import CapabilityError

__all__ = [
    "MAX_CHAIN",
    "MAX_TOKEN_LENGTH",
    "PAYLOAD_TAG",
    "PAYLOAD_VERSION",
    "TOKEN_PREFIX",
    "Capability",
    "CapabilityToken",
    "canonical_payload",
    "decode_token",
]

TOKEN_PREFIX: Final = "lion1"
#: The first two elements of every canonical payload: a domain tag and a format version.
PAYLOAD_TAG: Final = "lion-cap"
PAYLOAD_VERSION: Final = 1
MAX_CHAIN: Final = 32
MAX_TOKEN_LENGTH: Final = 65536
_TAG_SIZE: Final = 32
_B64_RE: Final = re.compile(r"[A-Za-z0-9_-]*")


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
