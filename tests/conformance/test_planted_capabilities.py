"""Planted revocation bugs are caught by the `Authority` bind, on each backend.

The issue this answers: "revocation checked on the leaf only — missed in 3 of
4 runs at 1,000 examples". The spec's `revoke` action now reports every
capability's verdict right after a revocation (`answers`), and the adapter
reads them off the kernel's `verify`, so a run that revokes an ancestor of a
live capability exposes the bug at that very step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lion.kernel import capability as kcap
from lion.kernel.backend import rust_available
from lion.kernel.revocation import MemoryRevocationStore
from lion.verify.bindings import capabilities as binding

from .planted import caught


def test_python_kernel_checking_revocation_on_the_leaf_only_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = kcap.CapabilityAuthority._first_revoked

    def leaf_only(self: Any, chain: tuple[kcap.Capability, ...]) -> str | None:
        return real(self, chain[-1:])  # ancestors are never asked about

    monkeypatch.setattr(kcap.CapabilityAuthority, "_first_revoked", leaf_only)
    result = caught("Authority", tmp_path)
    assert "revoke" in result.failing_text
    assert "answers" in result.message


class LeafOnlyStore:
    """A store that, asked about a chain, only looks at its last id."""

    def __init__(self) -> None:
        self.inner = MemoryRevocationStore()

    def revoke(self, cap_id: str) -> None:
        self.inner.revoke(cap_id)

    def first_revoked(self, ids: Sequence[str]) -> str | None:
        return self.inner.first_revoked(list(ids)[-1:])

    def is_revoked(self, cap_id: str) -> bool:
        return self.inner.is_revoked(cap_id)

    def ids(self) -> frozenset[str]:
        return self.inner.ids()


@pytest.mark.parametrize(
    "backend",
    [
        "python",
        pytest.param(
            "rust", marks=pytest.mark.skipif(not rust_available(), reason="no rust extension")
        ),
    ],
)
def test_a_store_answering_for_the_leaf_only_iscaught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The Rust core asks the Python store object it was given; wrapping the
    # store plants the bug on the Rust side without touching the core.
    monkeypatch.setattr(binding, "revocations", LeafOnlyStore)
    result = caught("Authority", tmp_path, backend=backend)
    assert "revoke" in result.failing_text
