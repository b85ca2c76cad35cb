"""Backend selection and the Rust backend's wrappers: same types, same answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from lion.errors import BackendError, CapabilityError, PolicyError
from lion.kernel import backend as kb
from lion.kernel.capability import Capability, CapabilityAuthority, CapabilityToken
from lion.kernel.compose import CompositionError, Morphism
from lion.kernel.decision import Decision
from lion.kernel.ipu import IPU, CapabilityDenied, EffectRequest
from lion.kernel.observable import Effect

POLICIES = """
@id("read") permit(principal, action == Action::"read", resource) when { context.ok };
@id("no") forbid(principal == User::"eve", action, resource);
"""
REQUEST = {
    "principal": 'User::"alice"',
    "action": 'Action::"read"',
    "resource": 'Doc::"d"',
    "context": {"ok": True},
}
KEY = b"secret-key-bytes-0123456789abcdef"


@pytest.fixture(params=["python", "rust"])
def kernel(request: pytest.FixtureRequest) -> kb.Backend:
    return kb.get_backend(request.param)


def test_rust_is_built_and_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kb.ENV_VAR, raising=False)
    assert kb.rust_available()  # make build builds it; CI must not silently fall back
    assert kb.default_backend_name() == "rust"
    assert kb.get_backend().name == "rust"


def test_env_var_chooses_and_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kb.ENV_VAR, "Python")
    assert kb.get_backend().name == "python"
    monkeypatch.setenv(kb.ENV_VAR, "java")
    with pytest.raises(BackendError, match="`java` is not a backend"):
        kb.get_backend()
    with pytest.raises(BackendError, match="not a backend"):
        kb.get_backend("java")


def test_unbuilt_rust_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kb, "rust_available", lambda: False)
    monkeypatch.setattr(kb, "_CACHE", {})
    monkeypatch.delenv(kb.ENV_VAR, raising=False)
    assert kb.default_backend_name() == "python"
    with pytest.raises(BackendError, match="rust backend is not built"):
        kb.get_backend("rust")


def test_policies_decide_alike(kernel: kb.Backend) -> None:
    policies = kernel.policy_set(POLICIES)
    assert len(policies) == 2
    response = policies.evaluate(REQUEST, [])
    assert response.decision is Decision.PERMIT and response.determining == ("read",)
    unknown = policies.evaluate({**REQUEST, "context": {}}, kernel.entities([]))
    assert unknown.decision is Decision.INDETERMINATE  # fail closed: a permit might apply
    assert unknown.erroring == ("read",)
    assert "does not have the attribute `ok`" in unknown.errors[0].message
    batch = policies.evaluate_batch([REQUEST, {**REQUEST, "principal": 'User::"eve"'}], [])
    assert [r.decision for r in batch] == [Decision.PERMIT, Decision.DENY]
    assert batch[1].determining == ("no",)


def test_bad_policies_are_policy_errors_on_both(kernel: kb.Backend) -> None:
    with pytest.raises(PolicyError, match=r"rules\.cedar:1:"):
        kernel.policy_set("permit(principal, action resource);", "rules.cedar")
    with pytest.raises(PolicyError):
        kernel.entities("[{")


def test_tokens_cross_between_backends() -> None:
    python = kb.get_backend("python").authority(KEY, clock=lambda: 10)
    rust = kb.get_backend("rust").authority(KEY, clock=lambda: 10)
    token = python.mint("alice", "docs/*", ["read", "write"], 100)
    child = rust.attenuate(token, rights=["read"])
    assert isinstance(child, CapabilityToken)
    # the ids are the authorities' own (random); the bytes signed for a chain are the same
    assert isinstance(python, CapabilityAuthority)
    assert child.encode() == python._sign_chain(child.chain).encode()
    cap = python.verify(child)
    assert cap == rust.verify(child.encode())
    assert isinstance(cap, Capability) and cap.rights == frozenset({"read"})
    rust.revoke(token.id)
    with pytest.raises(CapabilityError, match="revoked"):
        rust.verify(child)
    with pytest.raises(CapabilityError, match="widen rights"):
        python.attenuate(child, rights=["write"])
    with pytest.raises(CapabilityError, match="widen rights"):
        kb.get_backend("rust").authority(KEY, clock=lambda: 10).attenuate(child, rights=["write"])
    assert "secret" not in repr(rust) and "hidden" in repr(rust)


def test_composition_alike(kernel: kb.Backend) -> None:
    f = Morphism("A", "B", {"net"}, {"p"}, {"q"}, name="f")
    g = Morphism("B", "C", {"fs"}, {"q", "r"}, {"s"}, name="g")
    fg = kernel.compose(f, g)
    assert fg == Morphism("A", "C", {"net", "fs"}, {"p", "r"}, {"q", "s"})
    assert kernel.product(f, g).source == ("A", "B")
    with pytest.raises(CompositionError, match="cannot compose `g` then `f`"):
        kernel.compose(g, f)
    assert kernel.would_deadlock({"a": "b", "b": "c"}, "c", "a")
    assert not kernel.would_deadlock({"a": "b"}, "c", "a")


def test_the_ipu_runs_on_the_rust_authority() -> None:
    authority = kb.get_backend("rust").authority(KEY, clock=lambda: 0)
    policies = kb.get_backend("rust").policy_set("permit(principal, action, resource);")
    ipu = IPU(authority, policies, request_adapter=lambda r: REQUEST)
    token = authority.mint("alice", "tools/search", ["call"], 10)
    allowed = EffectRequest(
        principal="alice", effect=Effect(action="call", resource="tools/search"), tokens=(token,)
    )
    assert asyncio.run(ipu.validate(allowed)).decision is Decision.PERMIT
    stolen = EffectRequest(
        principal="eve", effect=Effect(action="call", resource="tools/search"), tokens=(token,)
    )

    async def perform() -> None:
        raise AssertionError("must not run")

    with pytest.raises(CapabilityDenied, match="held by `alice`"):
        asyncio.run(ipu.execute(stolen, perform))
    assert [o.decision for o in ipu.log] == [Decision.PERMIT, Decision.DENY]


def test_python_authority_is_the_python_backend() -> None:
    assert isinstance(kb.get_backend("python").authority(KEY), CapabilityAuthority)


def test_native_stubs_match_the_extension() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "lion._native"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
