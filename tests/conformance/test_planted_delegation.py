"""Planted delegation bugs in the Orchestrator are caught by the `Delegation` bind.

Each plants a bug an orchestrator could plausibly have, on the real class
the bind drives, and conformance against `spec/delegation.lion` must find a
run that shows it, shrink it and replay it from the saved corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lion.kernel.capability import Capability, CapabilityToken
from lion.services.orchestrator import Grant, Orchestrator

from .planted import caught

# The orchestrator is the same Python on both kernels; the Rust one is run
# where the chain it signs decides the outcome (a fresh mint has none).
BACKENDS = ["python"]


@pytest.mark.parametrize("backend", ["python", "rust"])
def test_minting_the_child_a_fresh_token_is_caught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # narrow as asked, but a new root: no chain back to the parent, so
    # revoking the parent leaves the child's authority standing
    def mint(
        self: Orchestrator,
        parent: str,
        child: str,
        token: CapabilityToken | str,
        cap: Capability,
        grant: Grant,
        expiry: int | None,
    ) -> CapabilityToken:
        lifetime = self._child_expiry(cap, expiry)
        return self.session.authority.mint(child, grant.resource, grant.rights, lifetime)

    monkeypatch.setattr(Orchestrator, "_derive", mint)
    result = caught("Delegation", tmp_path, backend=backend)
    assert "delegate" in result.failing_text
    assert "`parent`" in result.message or "`anc`" in result.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_copying_the_parents_token_unchanged_is_caught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the check passes, then the child is simply given the parent's own token
    def copy(self: Orchestrator, parent: str, child: str, token: Any, *rest: Any) -> Any:
        return token

    monkeypatch.setattr(Orchestrator, "_derive", copy)
    result = caught("Delegation", tmp_path, backend=backend)
    assert "delegate" in result.failing_text
    assert "`held`" in result.message  # the child's capability is the parent's, holder and all


@pytest.mark.parametrize("backend", BACKENDS)
def test_forgetting_the_expiry_check_is_caught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # coverage checked on rights and scope only; a later expiry than the
    # parent's is quietly cut to the parent's instead of being refused
    real = Orchestrator._covers

    def covers(cap: Capability, grant: Grant, expiry: int | None) -> bool:
        return real(cap, grant, None)

    def clamp(cap: Capability, expiry: int | None) -> int:
        return cap.expiry if expiry is None else min(expiry, cap.expiry)

    monkeypatch.setattr(Orchestrator, "_covers", staticmethod(covers))
    monkeypatch.setattr(Orchestrator, "_child_expiry", staticmethod(clamp))
    result = caught("Delegation", tmp_path, backend=backend)
    assert "delegate" in result.failing_text
    assert "`live`" in result.message  # a child exists that the spec refused
