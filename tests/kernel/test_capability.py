"""Capabilities: minting, attenuation, transfer, verification, revocation and the token form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import pickle
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion.errors import CapabilityError, LionError
from lion.kernel import capability as capmod
from lion.kernel.capability import (
    Capability,
    CapabilityAuthority,
    CapabilityToken,
    attenuation_error,
    canonical_payload,
    chain_error,
    covers,
    decode_token,
    is_attenuation,
    is_pattern,
    is_resource,
    narrower_or_equal,
    permits,
)

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 100))
KEY = b"test-key-0123456789abcdef-0123456789"
OTHER_KEY = b"another-key-that-is-not-the-authority"


class Clock:
    def __init__(self, now: int = 1000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authority(clock: Clock) -> CapabilityAuthority:
    return CapabilityAuthority(KEY, clock=clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_sign(key: bytes, chain: tuple[Capability, ...]) -> str:
    """Sign a chain with HMAC directly, bypassing every check the authority makes."""
    payload = canonical_payload(chain)
    return f"lion1.{b64(payload)}.{b64(hmac.new(key, payload, hashlib.sha256).digest())}"


# --- minting and the canonical format -------------------------------------------------------------


def test_mint_round_trips_through_the_string_form(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "docs/*", ["read", "write"], expiry=2000)
    text = token.encode()
    assert text.startswith("lion1.")
    assert decode_token(text) == token
    cap = authority.verify(text)
    assert cap == token.capability
    assert (cap.holder, cap.resource, cap.rights, cap.expiry, cap.parent) == (
        "alice",
        "docs/*",
        frozenset({"read", "write"}),
        2000,
        None,
    )


def test_canonical_payload_is_the_documented_byte_layout() -> None:
    # Hand-assembled MessagePack, byte by byte, as docs/capabilities.md describes it.
    root = Capability(
        id="c1", holder="alice", resource="docs/*", rights=frozenset({"write", "read"}), expiry=100
    )
    child = Capability(
        id="c2",
        holder="bob",
        resource="docs/a",
        rights=frozenset({"read"}),
        expiry=2**32,
        parent="c1",
    )

    def s(text: str) -> bytes:
        return bytes([0xA0 | len(text)]) + text.encode()

    expected = (
        b"\x93" + s("lion-cap") + b"\x01" + b"\x92"
        + b"\x96" + s("c1") + s("alice") + s("docs/*") + b"\x92" + s("read") + s("write")
        + b"\x64" + b"\xc0"
        + b"\x96" + s("c2") + s("bob") + s("docs/a") + b"\x91" + s("read")
        + b"\xcf" + (2**32).to_bytes(8, "big") + s("c1")
    )  # fmt: skip
    assert canonical_payload((root, child)) == expected
    authority = CapabilityAuthority(KEY, clock=lambda: 0)
    token = authority.attenuate(
        authority.mint("alice", "docs/*", ["read", "write"], 100),
        resource="docs/a",
        rights=["read"],
    )
    # The tag is plain HMAC-SHA256 over the payload: what the Rust core must reproduce.
    assert token.tag == hmac.new(KEY, canonical_payload(token.chain), hashlib.sha256).digest()


def test_python_and_native_hmac_agree() -> None:
    for key, message in [(KEY, b""), (b"k", b"message"), (b"x" * 100, bytes(range(256)))]:
        assert capmod._mac(key, message) == capmod._py_mac(key, message)
        tag = capmod._py_mac(key, message)
        assert capmod._mac_ok(key, message, tag)
        assert capmod._py_mac_ok(key, message, tag)
        assert not capmod._py_mac_ok(key, message, bytes(32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"resource": "docs//a"}, "resource pattern"),
        ({"resource": "docs/*/a"}, "resource pattern"),
        ({"resource": ""}, "resource pattern"),
        ({"resource": "docs/../etc"}, "resource pattern"),
        ({"resource": "./a"}, "resource pattern"),
        ({"holder": ""}, "holder"),
        ({"expiry": -1}, "expiry"),
        ({"expiry": 2**64}, "expiry"),
        ({"rights": "read"}, "collection of strings"),
        ({"rights": [""]}, "right"),
    ],
)
def test_mint_refuses_malformed_fields(
    authority: CapabilityAuthority, kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {
        "holder": "alice", "resource": "docs/*", "rights": ["read"], "expiry": 2000,
    }  # fmt: skip
    args.update(kwargs)
    with pytest.raises(CapabilityError, match=match):
        authority.mint(**args)  # type: ignore[arg-type]


# --- attenuation and transfer ---------------------------------------------------------------------


def test_attenuation_narrows_and_keeps_the_holder(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read", "write"], expiry=2000)
    child = authority.attenuate(root, rights=["read"], resource="docs/a/*", expiry=1500)
    grandchild = authority.attenuate(child.encode(), resource="docs/a/b")
    cap = authority.verify(grandchild.encode())
    assert cap.holder == "alice"
    assert cap.rights == frozenset({"read"})
    assert cap.resource == "docs/a/b"
    assert cap.expiry == 1500
    assert cap.parent == child.id
    assert [c.id for c in grandchild.chain] == [root.id, child.id, grandchild.id]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rights": ["read", "admin"]}, r"widen rights: \{`admin`\}"),
        ({"resource": "*"}, "widen resource scope: `\\*` is not within `docs/a/\\*`"),
        ({"resource": "docs/*"}, "widen resource scope"),
        ({"resource": "docs/a"}, "widen resource scope"),
        ({"resource": "docs/ab/c"}, "widen resource scope"),
        ({"expiry": 2001}, "extend expiry: 2001 is later than the parent's 2000"),
    ],
)
def test_widening_attenuation_names_what_widened(
    authority: CapabilityAuthority, kwargs: dict[str, object], match: str
) -> None:
    parent = authority.mint("alice", "docs/a/*", ["read", "write"], expiry=2000)
    with pytest.raises(CapabilityError, match=match):
        authority.attenuate(parent, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CapabilityError, match=match):
        authority.transfer(parent, "bob", by="alice", **kwargs)  # type: ignore[arg-type]
    assert authority.verify(parent) == parent.capability  # the parent is untouched


def test_transfer_changes_holder_and_checks_the_giver(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    given_ = authority.transfer(root, "bob", by="alice", resource="docs/x")
    assert authority.verify(given_).holder == "bob"
    assert authority.verify(given_).resource == "docs/x"
    with pytest.raises(CapabilityError, match="held by `alice`"):
        authority.transfer(root, "carol", by="mallory")
    # Authority is preserved: bob can pass on no more than he got.
    with pytest.raises(CapabilityError, match="widen resource scope"):
        authority.transfer(given_, "carol", by="bob", resource="docs/*")


def test_cannot_derive_from_an_invalid_token(authority: CapabilityAuthority, clock: Clock) -> None:
    root = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    forged = CapabilityAuthority(OTHER_KEY).mint("alice", "*", ["read"], expiry=2000)
    with pytest.raises(CapabilityError, match="signature"):
        authority.attenuate(forged, resource="docs/a")
    clock.now = 2000
    with pytest.raises(CapabilityError, match="expired"):
        authority.transfer(root, "bob", by="alice")


def test_attenuation_error_is_a_pure_check() -> None:
    parent = Capability(id="p", holder="a", resource="x/*", rights=frozenset({"r"}), expiry=10)
    ok = Capability(id="c", holder="b", resource="x/y", rights=frozenset(), expiry=10, parent="p")
    assert attenuation_error(parent, ok) is None
    assert "names parent" in (
        attenuation_error(parent, msgspec.structs.replace(ok, parent="q")) or ""
    )
    assert "same id" in (attenuation_error(parent, msgspec.structs.replace(ok, id="p")) or "")


# --- verification: expiry, revocation, forgery, tampering -----------------------------------------


def test_expiry_follows_the_injected_clock(authority: CapabilityAuthority, clock: Clock) -> None:
    token = authority.mint("alice", "docs/*", ["read"], expiry=1500)
    clock.now = 1499
    assert authority.verify(token).id == token.id
    clock.now = 1500
    with pytest.raises(CapabilityError, match="expired at 1500"):
        authority.verify(token)
    assert authority.verify(token, now=10).id == token.id


def test_revoking_a_grandparent_revokes_the_grandchild(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read", "write"], expiry=2000)
    child = authority.attenuate(root, rights=["read"])
    grandchild = authority.transfer(child, "bob", by="alice")
    sibling = authority.attenuate(root, resource="docs/b")
    unrelated = authority.mint("carol", "docs/*", ["read"], expiry=2000)

    authority.revoke(child.id)
    for token in (child, grandchild):
        with pytest.raises(CapabilityError, match=f"`{child.id}` is revoked"):
            authority.verify(token.encode())
    assert authority.verify(root).id == root.id
    assert authority.verify(sibling).id == sibling.id

    authority.revoke(root.encode())  # a token string revokes what it grants
    for token in (root, child, grandchild, sibling):
        with pytest.raises(CapabilityError, match="revoked"):
            authority.verify(token)
    assert authority.verify(unrelated).id == unrelated.id
    assert authority.revoked == {root.id, child.id}
    assert authority.is_revoked(child.id)
    assert not authority.is_revoked(grandchild.id)
    with pytest.raises(CapabilityError, match="cannot revoke"):
        authority.revoke("not a valid id")


def test_a_token_from_another_key_is_rejected(authority: CapabilityAuthority) -> None:
    forged = CapabilityAuthority(OTHER_KEY).mint("alice", "*", ["admin"], expiry=2000)
    with pytest.raises(CapabilityError, match="signature does not match"):
        authority.verify(forged.encode())


def test_a_correctly_signed_but_widening_chain_is_rejected(authority: CapabilityAuthority) -> None:
    # Even with the right MAC, a chain whose child widens its parent is refused.
    root = Capability(
        id="r", holder="a", resource="docs/*", rights=frozenset({"read"}), expiry=2000
    )
    wide = Capability(
        id="c",
        holder="a",
        resource="docs/*",
        rights=frozenset({"read", "write"}),
        expiry=2000,
        parent="r",
    )
    with pytest.raises(CapabilityError, match="widen rights"):
        authority.verify(raw_sign(KEY, (root, wide)))
    orphan = msgspec.structs.replace(root, parent="x")
    with pytest.raises(CapabilityError, match="root capability"):
        authority.verify(raw_sign(KEY, (orphan,)))


def test_non_canonical_payloads_are_rejected(authority: CapabilityAuthority) -> None:
    # Unsorted and duplicated rights, and a long-form integer, all signed with the right key.
    links = [
        ["lion-cap", 1, [["r", "a", "docs/*", ["write", "read"], 2000, None]]],
        ["lion-cap", 1, [["r", "a", "docs/*", ["read", "read"], 2000, None]]],
    ]
    payloads = [msgspec.msgpack.encode(link) for link in links]
    canonical = msgspec.msgpack.encode(["lion-cap", 1, [["r", "a", "docs/*", ["read"], 7, None]]])
    payloads.append(canonical.replace(b"\x07\xc0", b"\xcd\x00\x07\xc0"))
    for payload in payloads:
        tag = hmac.new(KEY, payload, hashlib.sha256).digest()
        with pytest.raises(CapabilityError, match="canonical"):
            authority.verify(f"lion1.{b64(payload)}.{b64(tag)}")


def test_every_single_bit_flip_in_a_token_is_rejected(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read", "write"], expiry=2000)
    text = authority.attenuate(root, rights=["read"]).encode()
    for index, bit in itertools.product(range(len(text)), range(7)):
        flipped = text[:index] + chr(ord(text[index]) ^ (1 << bit)) + text[index + 1 :]
        with pytest.raises(CapabilityError):
            authority.verify(flipped)


def test_every_bit_flip_in_the_signed_bytes_is_rejected(authority: CapabilityAuthority) -> None:
    text = authority.mint("alice", "docs/*", ["read"], expiry=2000).encode()
    _, payload_text, tag_text = text.split(".")
    for part in ("payload", "tag"):
        data = unb64(payload_text if part == "payload" else tag_text)
        for index, bit in itertools.product(range(len(data)), range(8)):
            changed = bytearray(data)
            changed[index] ^= 1 << bit
            pieces = [payload_text, tag_text]
            pieces[part == "tag"] = b64(bytes(changed))
            with pytest.raises(CapabilityError):
                authority.verify(f"lion1.{pieces[0]}.{pieces[1]}")


def test_every_truncation_is_rejected(authority: CapabilityAuthority) -> None:
    text = authority.mint("alice", "docs/*", ["read"], expiry=2000).encode()
    for end in range(len(text)):
        with pytest.raises(CapabilityError):
            authority.verify(text[:end])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "expected `lion1.<payload>.<tag>`"),
        ("lion1.a.b.c", "expected `lion1.<payload>.<tag>`"),
        ("lion2.AAAA.AAAA", "prefix `lion2`"),
        ("lion1.AA==.AAAA", "not base64url"),
        ("lion1.A.AAAA", "not base64url"),
        ("lion1.AB.AAAA", "not canonical base64url"),
        ("lion1.AAAA.AAAA", "tag is 3 bytes"),
        ("lion1." + "A" * 70000, "at most 65536"),
    ],
)
def test_malformed_tokens_give_clear_errors(
    authority: CapabilityAuthority, text: str, match: str
) -> None:
    with pytest.raises(CapabilityError, match=match):
        authority.verify(text)


def test_garbage_payload_with_valid_tag_length(authority: CapabilityAuthority) -> None:
    with pytest.raises(CapabilityError, match="payload is malformed"):
        authority.verify(f"lion1.{b64(b'garbage')}.{b64(bytes(32))}")
    with pytest.raises(CapabilityError, match="must be a string"):
        decode_token(b"lion1.x.y")


@settings(max_examples=EXAMPLES, deadline=None)
@given(text=st.text(max_size=300))
def test_fuzz_arbitrary_text_is_never_accepted(text: str) -> None:
    authority = CapabilityAuthority(KEY)
    with pytest.raises(CapabilityError):
        authority.verify(text)
    with pytest.raises(CapabilityError):
        authority.verify("lion1." + text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(payload=st.binary(max_size=200), tag=st.binary(min_size=32, max_size=32))
def test_fuzz_arbitrary_bytes_are_never_accepted(payload: bytes, tag: bytes) -> None:
    with pytest.raises(CapabilityError):
        CapabilityAuthority(KEY).verify(f"lion1.{b64(payload)}.{b64(tag)}")


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=64).filter(lambda k: k != KEY),
    depth=st.integers(1, 4),
    flip=st.integers(0, 10_000),
)
def test_fuzz_resigned_and_flipped_tokens_are_never_accepted(
    key: bytes, depth: int, flip: int
) -> None:
    authority = CapabilityAuthority(KEY, clock=lambda: 0)
    token = authority.mint("alice", "a/*", ["r", "w"], expiry=100)
    for level in range(depth - 1):
        token = authority.attenuate(token, expiry=99 - level)
    # Re-signed with another key: a forgery.
    with pytest.raises(CapabilityError, match="signature"):
        authority.verify(raw_sign(key, token.chain))
    # A random bit flip anywhere in the string.
    text = token.encode()
    index = flip % len(text)
    flipped = text[:index] + chr(ord(text[index]) ^ (1 << (flip % 7))) + text[index + 1 :]
    with pytest.raises(CapabilityError):
        authority.verify(flipped)
    assert authority.verify(text) == token.capability


def test_hand_built_token_objects_are_checked(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    bad = CapabilityToken(chain=token.chain, tag=token.tag[:-1] + bytes([token.tag[-1] ^ 1]))
    with pytest.raises(CapabilityError, match="signature"):
        authority.verify(bad)
    with pytest.raises(CapabilityError, match="empty chain"):
        authority.verify(CapabilityToken(chain=(), tag=token.tag))
    weird = CapabilityToken(chain=("x",), tag=token.tag)  # type: ignore[arg-type]
    with pytest.raises(CapabilityError):
        authority.verify(weird)


# --- authorization --------------------------------------------------------------------------------


def test_authorize_checks_holder_right_and_resource(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    assert authority.authorize(token, "docs/a/b", "read", holder="alice").id == token.id
    with pytest.raises(CapabilityError, match="held by `alice`, not `bob`"):
        authority.authorize(token, "docs/a", "read", holder="bob")
    with pytest.raises(CapabilityError, match="does not grant right `write`"):
        authority.authorize(token, "docs/a", "write")
    with pytest.raises(CapabilityError, match="not resource `docs`"):
        authority.authorize(token, "docs", "read")


def test_permits_is_rights_and_scope_and_time() -> None:
    cap = Capability(id="c", holder="a", resource="d/*", rights=frozenset({"r"}), expiry=10)
    assert permits(cap, "d/x", "r", 9)
    assert not permits(cap, "d/x", "r", 10)
    assert not permits(cap, "d/x", "w", 0)
    assert not permits(cap, "d", "r", 0)
    assert not permits(cap, "e/x", "r", 0)


# --- resource patterns, checked against brute force -----------------------------------------------

ALPHABET = "ab/*"
UNIVERSE = ["".join(chars) for n in range(1, 8) for chars in itertools.product("ab/", repeat=n)]
RESOURCES = [r for r in UNIVERSE if is_resource(r)]
short_text = st.text(alphabet=ALPHABET, min_size=0, max_size=5)


def reference_covers(pattern: str, resource: str) -> bool:
    """Segment by segment: a final `*` segment matches one or more remaining segments."""
    p, r = pattern.split("/"), resource.split("/")
    if p[-1] == "*":
        return len(r) >= len(p) and r[: len(p) - 1] == p[:-1]
    return p == r


def test_pattern_validity_examples() -> None:
    assert all(is_pattern(p) for p in ["*", "a", "a/b", "a/*", "a/b/*"])
    assert not any(is_pattern(p) for p in ["", "/", "a/", "/a", "a//b", "a*", "*/a", "a/*/b", "**"])
    assert not is_resource("a/*")
    assert not is_resource("a/../b")
    assert not covers("docs/*", "docs/../secret")
    assert not covers("docs/*", "docs/./x")
    assert not is_pattern(3)
    assert not is_resource(None)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(pattern=short_text, resource=short_text)
def test_covers_matches_the_segment_reference(pattern: str, resource: str) -> None:
    expected = is_pattern(pattern) and is_resource(resource) and reference_covers(pattern, resource)
    assert covers(pattern, resource) == expected


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(child=short_text, parent=short_text)
def test_narrower_or_equal_is_set_inclusion_by_brute_force(child: str, parent: str) -> None:
    if not (is_pattern(child) and is_pattern(parent)):
        assert not narrower_or_equal(child, parent)  # fail closed
        return
    # Every covered set has a witness of length <= len(pattern) + 2 in the universe.
    included = all(covers(parent, r) for r in RESOURCES if covers(child, r))
    assert narrower_or_equal(child, parent) == included


def test_narrower_or_equal_exhaustively_on_short_patterns() -> None:
    patterns = [p for p in UNIVERSE if len(p) <= 4 and is_pattern(p)] + ["*", "a/*", "b/a/*"]
    covered = {p: frozenset(r for r in RESOURCES if covers(p, r)) for p in patterns}
    for child, parent in itertools.product(patterns, repeat=2):
        assert narrower_or_equal(child, parent) == (covered[child] <= covered[parent]), (
            child,
            parent,
        )


def test_chain_error_checks_links_in_order() -> None:
    root = Capability(id="r", holder="a", resource="x/*", rights=frozenset({"r"}), expiry=10)
    child = Capability(
        id="c", holder="a", resource="x/y", rights=frozenset({"r"}), expiry=5, parent="r"
    )
    assert chain_error((root, child), 4, frozenset()) is None
    assert "expired" in (chain_error((root, child), 5, frozenset()) or "")
    assert "ancestor" in (chain_error((root, child), 0, frozenset({"r"})) or "")
    assert "empty" in (chain_error((), 0, frozenset()) or "")
    assert "at most" in (chain_error((root,) * 40, 0, frozenset()) or "")
    loop = Capability(id="r", holder="a", resource="x/y", rights=frozenset(), expiry=5, parent="c")
    assert chain_error((root, child, loop), 0, frozenset()) is not None


def test_chain_depth_is_bounded(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "a/*", ["r"], expiry=2000)
    for _ in range(capmod.MAX_CHAIN - 1):
        token = authority.attenuate(token)
    assert authority.verify(token.encode()).id == token.id
    with pytest.raises(CapabilityError, match="at most"):
        authority.attenuate(token)


# --- the key --------------------------------------------------------------------------------------


def test_the_key_never_shows(authority: CapabilityAuthority) -> None:
    forged = CapabilityAuthority(OTHER_KEY).mint("alice", "*", ["read"], expiry=2000)
    texts = [repr(authority), str(authority)]
    try:
        authority.verify(forged)
    except CapabilityError as exc:
        texts.append(str(exc))
    for text in texts:
        assert KEY.decode() not in text
        assert KEY.hex() not in text
    with pytest.raises(CapabilityError, match="cannot be serialized"):
        pickle.dumps(authority)
    assert not hasattr(authority, "__dict__")


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LION_CAPABILITY_KEY", KEY.decode())
    token = CapabilityAuthority().mint("alice", "a", ["r"], expiry=2**40)
    assert CapabilityAuthority(KEY).verify(token).holder == "alice"
    monkeypatch.delenv("LION_CAPABILITY_KEY")
    with pytest.raises(CapabilityError, match="LION_CAPABILITY_KEY") as info:
        CapabilityAuthority()
    assert isinstance(info.value, LionError)
    with pytest.raises(CapabilityError, match="0 bytes: at least 32"):
        CapabilityAuthority(b"")


VECTOR_KEY = b"lion-test-vector-key-32-bytes-ok"


def test_the_test_vector_in_the_docs() -> None:
    # docs/capabilities.md publishes this vector for other implementations (the Rust core).
    # Ids are minted by the authority, so the vector's fixed ids go through `_sign_chain`.
    authority = CapabilityAuthority(VECTOR_KEY, clock=lambda: 0)
    rights = frozenset({"write", "read"})
    root_cap = Capability(
        id="root1", holder="alice", resource="docs/*", rights=rights, expiry=1700000000
    )
    root = authority._sign_chain((root_cap,))
    child_cap = Capability(
        id="child1",
        holder="bob",
        resource="docs/report",
        rights=frozenset({"read"}),
        expiry=1700000000,
        parent="root1",
    )
    child = authority._sign_chain((root_cap, child_cap))
    assert root.tag.hex() == "084547324014a0f227ceb1e76ea58533b3c78e548c4f040700e39368a1bbb5cc"
    assert child.encode() == (
        "lion1.k6hsaW9uLWNhcAGSlqVyb290MaVhbGljZaZkb2NzLyqSpHJlYWSld3JpdGXOZVPxAMCWpmNoaWxkMaNib2Kr"
        "ZG9jcy9yZXBvcnSRpHJlYWTOZVPxAKVyb290MQ.CgiGpiBcsmMzrbTIbLV5WxaCnfsf7Dtuj_WzSIakkr4"
    )
    # The public path gives the same token up to the ids it mints.
    minted = authority.transfer(
        authority.mint("alice", "docs/*", rights, 1700000000),
        "bob",
        by="alice",
        rights=["read"],
        resource="docs/report",
    )
    assert [msgspec.structs.replace(c, id="", parent=None) for c in minted.chain] == [
        msgspec.structs.replace(c, id="", parent=None) for c in child.chain
    ]
    assert authority.verify(child, now=0) == child_cap
    docs = (Path(__file__).parents[2] / "docs" / "capabilities.md").read_text()
    assert child.encode() in docs.replace("\n", "")
    with pytest.raises(CapabilityError, match="same id"):
        authority._sign_chain((root_cap, msgspec.structs.replace(child_cap, id="root1")))


def test_field_boundaries(authority: CapabilityAuthority) -> None:
    assert capmod.MAX_CHAIN == 32
    assert authority.mint("alice", "a", ["r"], expiry=0).capability.expiry == 0
    top = authority.mint("alice", "a", ["r"], expiry=2**63 - 1)
    assert authority.verify(top).expiry == 2**63 - 1
    for bad in (2**63, -1, True, 1.5):
        with pytest.raises(CapabilityError, match="expiry"):
            authority.mint("alice", "a", ["r"], expiry=bad)  # type: ignore[arg-type]
    with pytest.raises(CapabilityError, match="holder"):
        authority.mint("\ud800", "a", ["r"], expiry=10)  # a lone surrogate cannot be UTF-8
    with pytest.raises(CapabilityError, match="right"):
        authority.mint("alice", "a", ["\udfff"], expiry=10)


def test_ids_are_unique_along_a_chain(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "a/*", ["r"], expiry=2000)
    child = authority.attenuate(root)
    assert root.id != child.id
    repeat = msgspec.structs.replace(child.capability, id="x", parent=child.id)
    again = msgspec.structs.replace(repeat, id=root.id, parent="x")
    with pytest.raises(CapabilityError, match="repeats an id"):
        authority.verify(raw_sign(KEY, (*child.chain, repeat, again)))
    assert is_attenuation(root.capability, child.capability)
    assert not is_attenuation(child.capability, root.capability)


def test_authorize_uses_the_given_time(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "a/*", ["r"], expiry=1500)
    assert authority.authorize(token, "a/b", "r", now=1499).id == token.id
    with pytest.raises(CapabilityError, match="expired"):
        authority.authorize(token, "a/b", "r", now=1500)


def test_payload_header_and_link_count_are_checked(authority: CapabilityAuthority) -> None:
    link = ["r", "a", "docs/*", ["read"], 2000, None]
    cases = {
        "version `2`": ["lion-cap", 2, [link]],
        "`other` version `1`": ["other", 1, [link]],
        "0 links": ["lion-cap", 1, []],
        "33 links": ["lion-cap", 1, [link] * 33],
    }
    for match, value in cases.items():
        payload = msgspec.msgpack.encode(value)
        tag = hmac.new(KEY, payload, hashlib.sha256).digest()
        with pytest.raises(CapabilityError, match=match):
            decode_token(f"lion1.{b64(payload)}.{b64(tag)}")


def test_values_are_immutable(authority: CapabilityAuthority) -> None:
    token = authority.mint("alice", "a/*", ["r"], expiry=2000)
    with pytest.raises(AttributeError):
        token.capability.rights = frozenset({"admin"})  # type: ignore[misc]
    with pytest.raises(AttributeError):
        token.tag = b""  # type: ignore[misc]


def test_pattern_functions_are_total() -> None:
    assert not is_resource(3)
    assert not covers("a", 3)  # type: ignore[arg-type]
    assert not covers(3, "a")  # type: ignore[arg-type]
    assert not narrower_or_equal(None, "*")  # type: ignore[arg-type]
    bad_parent = Capability(
        id="x", holder="a", resource="a", rights=frozenset(), expiry=5, parent="bad id"
    )
    assert "malformed parent id" in (chain_error((bad_parent,), 0, frozenset()) or "")
    listy = Capability(id="x", holder="a", resource="a", rights=["r"], expiry=5)  # type: ignore[arg-type]
    assert "expected a frozenset" in (chain_error((listy,), 0, frozenset()) or "")


def test_a_token_at_the_length_limit_is_parsed_not_refused_for_length() -> None:
    text = "lion1." + "A" * (capmod.MAX_TOKEN_LENGTH - 6)
    with pytest.raises(CapabilityError) as info:
        decode_token(text)
    assert "at most" not in str(info.value)


def test_public_api_is_listed_and_sorted() -> None:
    import lion.kernel.capability as module

    names = module.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    assert all(hasattr(module, name) for name in names)


# --- issue 11, finding 6: ids, transfer, keys -----------------------------------------------------


def test_ids_are_minted_by_the_authority_only(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    tokens = [root, authority.attenuate(root), authority.transfer(root, "bob", by="alice")]
    tokens += [authority.mint("alice", "docs/*", ["read"], expiry=2000) for _ in range(40)]
    ids = [t.id for t in tokens]
    assert len(set(ids)) == len(ids)
    for cap_id in ids:
        assert len(cap_id) == 32 and cap_id == cap_id.lower() and int(cap_id, 16) >= 0
    # 128 random bits, no UUID version nibble: the 13th hex digit takes many values.
    assert len({cap_id[12] for cap_id in ids}) > 4
    # Callers cannot choose an id, so no two chains can share one.
    with pytest.raises(TypeError):
        authority.mint("alice", "docs/*", ["read"], 2000, id="shared")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        authority.attenuate(root, id="shared")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        authority.transfer(root, "bob", by="alice", id="shared")  # type: ignore[call-arg]


def test_transfer_needs_the_current_holder(authority: CapabilityAuthority) -> None:
    root = authority.mint("alice", "docs/*", ["read"], expiry=2000)
    with pytest.raises(TypeError):
        authority.transfer(root, "mallory")  # type: ignore[call-arg]
    # bob holds a copy of alice's token: that is not the right to give it away
    with pytest.raises(CapabilityError, match=r"`bob` cannot transfer .* held by `alice`"):
        authority.transfer(root, "mallory", by="bob")
    assert authority.verify(authority.transfer(root, "bob", by="alice")).holder == "bob"


@pytest.mark.parametrize("size", [1, 16, 31])
def test_short_keys_are_refused(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    message = f"capability key is {size} bytes: at least 32 are required"
    with pytest.raises(CapabilityError, match=message):
        CapabilityAuthority(b"k" * size)
    with pytest.raises(CapabilityError, match=message):
        CapabilityAuthority("k" * size)
    monkeypatch.setenv("LION_CAPABILITY_KEY", "k" * size)
    with pytest.raises(CapabilityError, match=f"key from LION_CAPABILITY_KEY is {size} bytes"):
        CapabilityAuthority()
    assert capmod.MIN_KEY_BYTES == 32
    CapabilityAuthority(b"k" * 32)
    CapabilityAuthority("é" * 16)  # 32 UTF-8 bytes
