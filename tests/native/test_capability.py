"""The Rust capability authority agrees with the Python reference byte for byte.

Every test runs the same input through `lion.kernel.capability` and
`lion._native` and compares whole results: token strings, granted
capabilities, and for refusals the error class and message. Each authority
mints its own random ids, so results are compared with every id replaced by
the order it first appeared in (`Ids`), and the bytes a chain is signed as
are compared by re-signing a Rust chain with the Python authority.
"""

from __future__ import annotations

import base64
import os
import pickle
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lion import _native
from lion.errors import CapabilityError
from lion.kernel import capability as ref

EXAMPLES = settings(max_examples=int(os.environ.get("LION_EXAMPLES", 100)))
KEY = b"differential-test-key-0123456789abcdef"
NOW = 50

Outcome = tuple[Any, ...]


def outcome(call: Callable[[], Any]) -> Outcome:
    """A comparable result: ("ok", value) or ("error", class name, message)."""
    try:
        value = call()
    except CapabilityError as error:
        return ("error", type(error).__name__, str(error))
    if isinstance(value, ref.CapabilityToken):
        value = value.encode()
    if isinstance(value, ref.Capability):
        value = (value.id, value.holder, value.resource, value.rights, value.expiry, value.parent)
    return ("ok", value)


def pair() -> tuple[ref.CapabilityAuthority, _native.CapabilityAuthority]:
    return (
        ref.CapabilityAuthority(KEY, clock=lambda: NOW),
        _native.CapabilityAuthority(KEY, clock=lambda: NOW),
    )


ids = st.text("abcAB01_-", min_size=1, max_size=4) | st.sampled_from(["", "bad id", "x" * 129])
names = st.sampled_from(["alice", "bob", "carol", "", "é"])
rights_sets = st.frozensets(st.sampled_from(["read", "write", "exec", "", "ü"]), max_size=4)
segments = st.sampled_from(["docs", "a", "b", "*", ".", "..", "", "x*"])
resources = st.sampled_from(["*", "docs/*", "docs/a", "docs/a/*", "a"]) | st.builds(
    "/".join, st.lists(segments, min_size=1, max_size=3)
)
expiries = st.integers(0, 100) | st.sampled_from([-1, 2**63 - 1, 2**63])


# --- pure functions ---------------------------------------------------------------------------


@EXAMPLES
@given(pattern=resources, resource=resources)
def test_patterns_agree(pattern: str, resource: str) -> None:
    assert _native.capability_covers(pattern, resource) == ref.covers(pattern, resource)
    assert _native.capability_narrower_or_equal(pattern, resource) == ref.narrower_or_equal(
        pattern, resource
    )


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
msgpack_ints = st.integers(-(2**63), 2**64 - 1) | st.integers(-300, 70000)
links = st.tuples(text, text, text, st.frozensets(text, max_size=5), msgpack_ints, st.none() | text)


@EXAMPLES
@given(chain=st.lists(links, max_size=20))
def test_canonical_payload_is_byte_identical(chain: list[Any]) -> None:
    caps = tuple(
        ref.Capability(id=i, holder=h, resource=r, rights=rs, expiry=e, parent=p)
        for i, h, r, rs, e, p in chain
    )
    native_chain = [(i, h, r, sorted(rs), e, p) for i, h, r, rs, e, p in chain]
    assert _native.capability_payload(native_chain) == ref.canonical_payload(caps)


# --- tokens across the two implementations ----------------------------------------------------


@st.composite
def derivations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1 to 5 links: a root, then attenuations and transfers that are always valid."""
    rights = draw(st.frozensets(st.sampled_from(["read", "write", "exec"]), min_size=1))
    steps: list[dict[str, Any]] = [
        {"holder": "alice", "resource": "docs/*", "rights": rights, "expiry": 1000}
    ]
    resource, expiry = "docs/*", 1000
    for _ in range(1, draw(st.integers(1, 5))):
        rights = draw(st.frozensets(st.sampled_from(sorted(rights)))) if rights else rights
        if resource.endswith("/*") and draw(st.booleans()):
            resource = resource[:-1] + draw(st.sampled_from(["a", "b/*", "c/*"]))
        expiry = draw(st.integers(NOW + 1, expiry))
        holder = draw(st.sampled_from([None, "bob", "carol"]))
        steps.append({"holder": holder, "resource": resource, "rights": rights, "expiry": expiry})
    return steps


def build(authority: Any, steps: list[dict[str, Any]]) -> list[str]:
    root, *rest = steps
    tokens = [authority.mint(**root)]
    holder = root["holder"]
    for step in rest:
        token = tokens[-1] if isinstance(tokens[-1], str) else tokens[-1].encode()
        fields = {k: step[k] for k in ("resource", "rights", "expiry")}
        if step["holder"] is None:
            tokens.append(authority.attenuate(token, **fields))
        else:
            tokens.append(authority.transfer(token, step["holder"], by=holder, **fields))
            holder = step["holder"]
    return [t if isinstance(t, str) else t.encode() for t in tokens]


MINTED_ID = re.compile(r"\b[0-9a-f]{32}\b")


class Ids:
    """Names each capability id by the order it first appeared in: `#0`, `#1`, ..."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def learn(self, token: str) -> None:
        for cap in ref.decode_token(token).chain:
            self.names.setdefault(cap.id, f"#{len(self.names)}")

    def __call__(self, value: Any) -> Any:
        """`value` with every known id replaced by its name (in strings, tuples, sets)."""
        if isinstance(value, str):
            if value.startswith("lion1.") and value.count(".") == 2:
                chain = ref.decode_token(value).chain
                return tuple(
                    (self(c.id), c.holder, c.resource, c.rights, c.expiry, self(c.parent))
                    for c in chain
                )
            for cap_id in sorted(self.names, key=len, reverse=True):
                value = value.replace(cap_id, self.names[cap_id])
            # an id minted for a capability that was then refused
            return MINTED_ID.sub("#fresh", value)
        if isinstance(value, tuple):
            return tuple(self(v) for v in value)
        if isinstance(value, frozenset):
            return frozenset(self(v) for v in value)
        return value


def resigned(token: str) -> str:
    """The token the Python authority signs for the same chain (the bytes must agree)."""
    py = ref.CapabilityAuthority(KEY)
    return py._sign_chain(ref.decode_token(token).chain).encode()


@EXAMPLES
@given(steps=derivations())
def test_chains_minted_on_one_side_verify_on_the_other(steps: list[dict[str, Any]]) -> None:
    py, rs = pair()
    py_tokens, rs_tokens = build(py, steps), build(rs, steps)
    py_ids, rs_ids = Ids(), Ids()
    for py_token, rs_token in zip(py_tokens, rs_tokens, strict=True):
        py_ids.learn(py_token)
        rs_ids.learn(rs_token)
        assert py_ids(py_token) == rs_ids(rs_token)  # the same chains, up to the ids
        assert resigned(rs_token) == rs_token  # signed over the same bytes
    for token in py_tokens + rs_tokens:
        assert outcome(partial(rs.verify, token)) == outcome(partial(py.verify, token))
        assert outcome(partial(rs.verify, token))[0] == "ok"
    # Expired at its own expiry, and revoking the root revokes every descendant.
    last = rs_tokens[-1]
    expiry = steps[-1]["expiry"]
    assert outcome(lambda: rs.verify(last, now=expiry)) == outcome(
        lambda: py.verify(last, now=expiry)
    )
    for root in (py_tokens[0], rs_tokens[0]):
        py.revoke(root)
        rs.revoke(root)
    for token in py_tokens + rs_tokens:
        result = outcome(partial(rs.verify, token))
        assert result == outcome(partial(py.verify, token))
        assert result[0] == "error" and "is revoked" in result[2]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tampered(token: str, data: st.DataObject) -> str:
    kind = data.draw(st.sampled_from(["char", "truncate", "insert", "delete", "payload-byte"]))
    if kind == "payload-byte":
        prefix, payload, tag = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        at = data.draw(st.integers(0, len(raw) - 1))
        change = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if change == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif change == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        else:
            del raw[at]
        return f"{prefix}.{b64(bytes(raw))}.{tag}"
    at = data.draw(st.integers(0, len(token) - 1))
    if kind == "truncate":
        return token[:at]
    if kind == "delete":
        return token[:at] + token[at + 1 :]
    char = data.draw(st.sampled_from("AaZz09-_.=+/é"))
    if kind == "insert":
        return token[:at] + char + token[at:]
    return token[:at] + char + token[at + 1 :]


@EXAMPLES
@given(steps=derivations(), data=st.data())
def test_tampered_tokens_are_refused_alike(
    steps: list[dict[str, Any]], data: st.DataObject
) -> None:
    py, rs = pair()
    token = build(py, steps)[-1]
    bad = tampered(token, data)
    expected = outcome(lambda: py.verify(bad))
    assert outcome(lambda: rs.verify(bad)) == expected
    if bad != token:
        assert expected[0] == "error"


payload_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=5)
    | st.binary(max_size=3)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=7),
    max_leaves=30,
)


@EXAMPLES
@given(
    payload=st.one_of(
        st.binary(max_size=80),
        payload_values.map(msgspec.msgpack.encode),
        st.builds(
            lambda n, v, ls: msgspec.msgpack.encode([n, v, ls]),
            st.sampled_from(["lion-cap", "lion-cap-long-name-x", "x"]),
            st.sampled_from([1, 2, -1, 2**64 - 1]),
            st.lists(st.lists(payload_values, min_size=6, max_size=6), max_size=34),
        ),
    ),
    tag=st.binary(min_size=30, max_size=33),
    prefix=st.sampled_from(["lion1", "lion2", "", "LION1", "lion1lion1lion1lion1"]),
)
def test_decoding_refuses_malformed_payloads_alike(payload: bytes, tag: bytes, prefix: str) -> None:
    py, rs = pair()
    token = f"{prefix}.{b64(payload)}.{b64(tag)}"
    assert outcome(lambda: rs.verify(token)) == outcome(lambda: py.verify(token))


def loose_pack(value: Any, wide: Callable[[], bool]) -> bytes:
    """MessagePack where `wide()` chooses a longer-than-shortest header at each value."""
    if value is None:
        return b"\xc0"
    if isinstance(value, int):
        if 0 <= value < 2**16 and wide():
            return b"\xcd" + value.to_bytes(2, "big")
        if -(2**15) <= value < 0 and wide():
            return b"\xd1" + value.to_bytes(2, "big", signed=True)
        return msgspec.msgpack.encode(value)
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) < 256 and wide():
            return b"\xd9" + bytes([len(raw)]) + raw
        return msgspec.msgpack.encode(value)
    if len(value) < 16 and not wide():
        head = bytes([0x90 | len(value)])
    else:
        head = b"\xdc" + len(value).to_bytes(2, "big")
    return head + b"".join(loose_pack(item, wide) for item in value)


short_text = st.text("ab-_/*é", min_size=0, max_size=4)
typed_links = st.lists(
    st.tuples(
        short_text,
        short_text,
        short_text,
        st.lists(st.sampled_from(["read", "write", "x", ""]), max_size=3),
        st.integers(-40, 300) | st.integers(0, 2**64 - 1),
        st.none() | short_text,
    ).map(list),
    min_size=0,
    max_size=3,
)


@EXAMPLES
@given(
    links=typed_links,
    version=st.sampled_from([1, 1, 2]),
    widths=st.lists(st.booleans(), min_size=1, max_size=64),
    tag=st.binary(min_size=32, max_size=32),
)
def test_non_canonical_but_well_typed_payloads_are_refused_alike(
    links: list[Any], version: int, widths: list[bool], tag: bytes
) -> None:
    choices = iter(widths * 20)
    payload = loose_pack(["lion-cap", version, links], lambda: next(choices, False))
    py, rs = pair()
    token = f"lion1.{b64(payload)}.{b64(tag)}"
    expected = outcome(lambda: py.verify(token))
    assert expected[0] == "error"
    assert outcome(lambda: rs.verify(token)) == expected


@EXAMPLES
@given(text=st.text(st.sampled_from("lion1.AZaz09-_=+/ é"), max_size=30))
def test_garbage_strings_are_refused_alike(text: str) -> None:
    py, rs = pair()
    assert outcome(lambda: rs.verify(text)) == outcome(lambda: py.verify(text))
    assert outcome(lambda: rs.revoke(text)) == outcome(lambda: py.revoke(text))


def test_oversized_token_is_refused_alike() -> None:
    py, rs = pair()
    token = "lion1." + "A" * ref.MAX_TOKEN_LENGTH
    expected = outcome(lambda: py.verify(token))
    assert expected[0] == "error" and "at most 65536" in expected[2]
    assert outcome(lambda: rs.verify(token)) == expected


# --- the authority, operation by operation ----------------------------------------------------

# Mostly valid values, so that derivations get deep enough to be interesting.
op_ids = st.sampled_from(["a", "b", "c", "d", "e", "f", "A-1", "bad id"])
op_names = st.sampled_from(["alice", "bob", "carol", "alice", ""])
op_resources = st.sampled_from(["*", "docs/*", "docs/a", "docs/a/*", "docs/a/b", "a", "docs/.."])
op_rights = st.frozensets(st.sampled_from(["read", "write", "exec", "read", ""]), max_size=3)
op_expiries = st.integers(40, 100) | st.sampled_from([-1, 2**63])
HOLDER = "<the current holder>"
ops = st.one_of(
    st.tuples(st.just("mint"), op_names, op_resources, op_rights, op_expiries),
    st.tuples(
        st.just("attenuate"),
        st.integers(0, 20),
        st.none() | op_resources,
        st.none() | op_rights,
        st.none() | op_expiries,
    ),
    st.tuples(
        st.just("transfer"),
        st.integers(0, 20),
        op_names,
        st.just(HOLDER) | op_names,
        st.none() | op_resources,
        st.none() | op_rights,
        st.none() | op_expiries,
    ),
    st.tuples(st.just("revoke"), st.integers(0, 20) | op_ids),
    st.tuples(st.just("verify"), st.integers(0, 20), st.none() | st.integers(0, 110)),
    st.tuples(
        st.just("authorize"),
        st.integers(0, 20),
        op_resources,
        st.sampled_from(["read", "write", "exec"]),
        st.none() | op_names,
        st.none() | st.integers(0, 110),
    ),
)


def apply(authority: Any, op: tuple[Any, ...], tokens: list[str]) -> Outcome:
    """Run one operation; tokens are referred to by index into the tokens minted so far."""
    kind = op[0]
    pick = (lambda i: tokens[i % len(tokens)]) if tokens else (lambda i: "lion1.none.none")
    if kind == "mint":
        _, holder, resource, rights, expiry = op
        return outcome(lambda: authority.mint(holder, resource, rights, expiry))
    if kind == "attenuate":
        _, i, resource, rights, expiry = op
        return outcome(
            lambda: authority.attenuate(pick(i), resource=resource, rights=rights, expiry=expiry)
        )
    if kind == "transfer":
        _, i, holder, by, resource, rights, expiry = op
        if by == HOLDER:
            by = ref.decode_token(pick(i)).capability.holder if tokens else "alice"
        return outcome(
            lambda: authority.transfer(
                pick(i), holder, by=by, resource=resource, rights=rights, expiry=expiry
            )
        )
    if kind == "revoke":
        target = op[1] if isinstance(op[1], str) else pick(op[1])
        return outcome(lambda: authority.revoke(target))
    if kind == "verify":
        return outcome(lambda: authority.verify(pick(op[1]), now=op[2]))
    _, i, resource, right, holder, now = op
    return outcome(lambda: authority.authorize(pick(i), resource, right, holder=holder, now=now))


@EXAMPLES
@given(sequence=st.lists(ops, min_size=1, max_size=25))
def test_random_operation_sequences_agree(sequence: list[tuple[Any, ...]]) -> None:
    py, rs = pair()
    py_tokens: list[str] = []
    rs_tokens: list[str] = []
    py_ids, rs_ids = Ids(), Ids()
    for op in sequence:
        expected = apply(py, op, py_tokens)
        got = apply(rs, op, rs_tokens)
        if expected[0] == "ok" and isinstance(expected[1], str):
            py_ids.learn(expected[1])
            py_tokens.append(expected[1])
        if got[0] == "ok" and isinstance(got[1], str):
            rs_ids.learn(got[1])
            rs_tokens.append(got[1])
        assert rs_ids(got) == py_ids(expected), op
        assert rs_ids(rs.revoked) == py_ids(py.revoked)
    for cap_id in ["a", "A", "0", "L0", "bad id"]:
        assert rs.is_revoked(cap_id) == py.is_revoked(cap_id)


# --- construction, keys and secrecy -----------------------------------------------------------


@pytest.mark.parametrize("key", [b"", "", 5, bytearray(b"k"), b"k", b"k" * 31, "é" * 15])
def test_bad_keys_are_refused_alike(key: Any) -> None:
    expected = outcome(lambda: ref.CapabilityAuthority(key))
    assert expected[0] == "error"
    assert outcome(lambda: _native.CapabilityAuthority(key)) == expected


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ref.KEY_ENV_VAR, raising=False)
    expected = outcome(lambda: ref.CapabilityAuthority())
    assert expected[0] == "error"
    assert outcome(lambda: _native.CapabilityAuthority()) == expected
    monkeypatch.setenv(ref.KEY_ENV_VAR, "env-key-ü" * 4)
    token = ref.CapabilityAuthority().mint("a", "x", {"r"}, 99)
    assert _native.CapabilityAuthority().verify(token.encode(), now=0)[0] == token.id
    assert _native.CapabilityAuthority("env-key-ü" * 4).verify(token.encode(), now=0)[0] == token.id
    monkeypatch.setenv(ref.KEY_ENV_VAR, "short")
    expected = outcome(lambda: ref.CapabilityAuthority())
    assert expected[2].startswith("capability key from LION_CAPABILITY_KEY is 5 bytes")
    assert outcome(lambda: _native.CapabilityAuthority()) == expected


def test_key_is_never_shown_and_authority_cannot_be_pickled() -> None:
    secret = b"super-secret-key-0123456789abcdef"
    authority = _native.CapabilityAuthority(secret, revoked=["gone"])
    assert "super-secret" not in repr(authority) + str(authority)
    assert repr(authority) == repr(ref.CapabilityAuthority(secret, revoked=["gone"]))
    with pytest.raises(CapabilityError, match="cannot be serialized"):
        pickle.dumps(authority)


@pytest.mark.parametrize("rights", ["read", 5])
def test_rights_that_are_not_a_collection_are_refused_alike(rights: Any) -> None:
    py, rs = pair()
    expected = outcome(lambda: py.mint("a", "x", rights, 9))
    assert expected[0] == "error"
    assert outcome(lambda: rs.mint("a", "x", rights, 9)) == expected
    # When deriving, the token is checked before the rights, in both.
    token = py.mint("a", "x", {"r"}, 99).encode()
    for bad in (token, "lion1.x.y"):
        expected = outcome(partial(py.attenuate, bad, rights=rights))
        assert outcome(partial(rs.attenuate, bad, rights=rights)) == expected


def test_clock_is_used_when_now_is_omitted() -> None:
    time = [5.9]
    py = ref.CapabilityAuthority(KEY, clock=lambda: time[0])
    rs = _native.CapabilityAuthority(KEY, clock=lambda: time[0])
    token = py.mint("a", "x", {"r"}, 6).encode()
    assert rs.now() == py.now() == 5
    assert outcome(lambda: rs.verify(token))[0] == "ok"
    time[0] = 100
    assert outcome(lambda: rs.verify(token)) == outcome(lambda: py.verify(token))
    assert outcome(lambda: rs.verify(token))[0] == "error"


# --- issue 11, finding 6: ids, transfer and keys in the Rust authority --------------------------


def test_the_rust_authority_mints_the_ids() -> None:
    _, rs = pair()
    tokens = [rs.mint("alice", "docs/*", {"read"}, 99) for _ in range(40)]
    tokens.append(rs.attenuate(tokens[0]))
    tokens.append(rs.transfer(tokens[0], "bob", by="alice"))
    ids = [ref.decode_token(t).id for t in tokens]
    assert len(set(ids)) == len(ids)
    assert all(MINTED_ID.fullmatch(cap_id) for cap_id in ids)
    assert len({cap_id[12] for cap_id in ids}) > 4  # no UUID version nibble
    with pytest.raises(TypeError):
        rs.mint("alice", "docs/*", {"read"}, 99, id="shared")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        rs.attenuate(tokens[0], id="shared")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        rs.transfer(tokens[0], "bob", by="alice", id="shared")  # type: ignore[call-arg]


def test_transfer_needs_the_current_holder_alike() -> None:
    py, rs = pair()
    token = py.mint("alice", "docs/*", {"read"}, 99).encode()
    with pytest.raises(TypeError):
        rs.transfer(token, "mallory")  # type: ignore[call-arg]
    expected = outcome(lambda: py.transfer(token, "mallory", by="bob"))
    assert expected[0] == "error" and "`bob` cannot transfer" in expected[2]
    assert outcome(lambda: rs.transfer(token, "mallory", by="bob")) == expected
    assert outcome(lambda: rs.transfer(token, "bob", by="alice"))[0] == "ok"
