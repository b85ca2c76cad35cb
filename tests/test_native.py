"""The Rust extension is built, importable and agrees with Python's hmac."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lion import _native
from lion.errors import CapabilityError, LionError


@given(key=st.binary(min_size=1, max_size=200), message=st.binary(max_size=500))
def test_hmac_matches_python(key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha256).digest()
    assert _native.hmac_sha256(key, message) == expected
    assert _native.hmac_sha256_verify(key, message, expected)


@given(
    key=st.binary(min_size=1, max_size=64), message=st.binary(max_size=64), flip=st.integers(0, 255)
)
def test_hmac_verify_rejects_any_changed_tag(key: bytes, message: bytes, flip: int) -> None:
    tag = bytearray(_native.hmac_sha256(key, message))
    tag[flip % 32] ^= 1 + (flip % 255)
    assert not _native.hmac_sha256_verify(key, message, bytes(tag))


def test_empty_key_maps_to_lion_error() -> None:
    with pytest.raises(CapabilityError, match="key must not be empty") as info:
        _native.hmac_sha256(b"", b"message")
    assert isinstance(info.value, LionError)
