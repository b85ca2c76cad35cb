"""Conformance of the Python kernel with the spec, per bind; planted bugs are caught;
saved failing inputs are replayed."""

from __future__ import annotations

import math
import os
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from lion.errors import VerifyError
from lion.kernel import _mailbox
from lion.kernel import actor as kactor
from lion.kernel import capability as kcap
from lion.kernel import compose as kc
from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.bindings import policy as policy_binding
from lion.verify.conformance import check_bind, replay_corpus
from lion.verify.values import domain

from .planted import caught

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "conformance"
MODULES = load_paths([ROOT / "spec"])
BINDS = [(m, b) for m in MODULES for b in m.binds]
EXAMPLES = int(os.environ.get("LION_EXAMPLES", "200"))


def bind(name: str) -> tuple[ast.Module, ast.Bind]:
    return next((m, b) for m, b in BINDS if b.name == name)


def test_every_chapter_with_a_kernel_counterpart_has_binds() -> None:
    chapters = {m.chapter for m, _ in BINDS}
    assert {"Policy", "Composition", "Actors", "Capabilities"} <= chapters


def test_every_bind_has_both_backends() -> None:
    missing = [b.name for _, b in BINDS if b.target("python") is None or b.target("rust") is None]
    assert missing == []


def _inputs(module: ast.Module, bind_: ast.Bind) -> int:
    """How many distinct inputs a function bind has when its domain is finite and small
    (Hypothesis stops once it has tried them all), else a number too large to matter."""
    fn = module.fns.get(bind_.name)
    if fn is None:
        return 1 << 30
    try:
        return math.prod(len(domain(p.ty)) for p in fn.params)
    except ValueError:  # an unbounded parameter
        return 1 << 30


@pytest.mark.parametrize(("module", "bind_"), BINDS, ids=[b.name for _, b in BINDS])
def test_bind_conforms_on_both_backends(
    module: ast.Module, bind_: ast.Bind, tmp_path: Path
) -> None:
    result = check_bind(
        module, bind_, examples=EXAMPLES, backends=("python", "rust"), corpus=tmp_path
    )
    assert result.ok, f"{result.message}\nshrunk input: {result.failing_text}"
    assert result.examples >= min(EXAMPLES, 50, _inputs(module, bind_))  # it really ran
    assert result.warnings == []  # every action of a machine fired (was compared) at least once


@pytest.mark.parametrize("backend", ["python", "rust"])
@pytest.mark.parametrize(("module", "bind_"), BINDS, ids=[b.name for _, b in BINDS])
def test_saved_corpus_replays_clean(module: ast.Module, bind_: ast.Bind, backend: str) -> None:
    assert replay_corpus(module, bind_, CORPUS, backend) == []


def test_planted_policy_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = policy_binding.combine

    def ignores_unknown_forbids(triples: Any) -> Any:
        kept = [t for t in triples if not (t[0].name == "FORBID" and t[2].name == "UNKNOWN")]
        return real(kept)

    monkeypatch.setattr(policy_binding, "combine", ignores_unknown_forbids)
    result = caught("evaluate", tmp_path)
    assert "Forbid, value: U" in result.failing_text


def test_planted_unsorted_determining_ids_are_caught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = policy_binding.combine

    def in_arrival_order(triples: Any) -> Any:
        decision, ids = real(triples)
        chosen = set(ids)  # the same policies, in the order the triples came (and repeated)
        return decision, tuple(t[1] for t in triples if t[1] in chosen) + ids[:1]

    monkeypatch.setattr(policy_binding, "combine", in_arrival_order)
    result = caught("determining", tmp_path)
    assert "tuple" in result.message  # shown as it came, not tidied into a set


def test_planted_compose_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def forgets_established_facts(f: kc.Morphism, g: kc.Morphism) -> kc.Morphism:
        if f.target != g.source:
            raise kc.CompositionError("no")
        return kc.Morphism(
            f.source, g.target, f.required | g.required, f.pre | g.pre, f.post | g.post
        )

    monkeypatch.setattr(kc, "compose", forgets_established_facts)
    caught("compose_checked", tmp_path)


def test_planted_product_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def drops_right_requirements(f: kc.Morphism, g: kc.Morphism) -> kc.Morphism:
        return kc.Morphism(
            f.source + g.source, f.target + g.target, f.required, f.pre | g.pre, f.post | g.post
        )

    monkeypatch.setattr(kc, "product", drops_right_requirements)
    caught("tensor_checked", tmp_path)


def test_planted_mailbox_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def take_newest(self: _mailbox.Mailbox[Any]) -> Any:
        entries: deque[Any] = self._entries
        if not entries:
            raise _mailbox.ActorError("empty")
        self._taken += 1
        return entries.pop()  # LIFO: breaks per-sender FIFO

    monkeypatch.setattr(_mailbox.Mailbox, "take", take_newest)
    result = caught("Mailbox", tmp_path)
    assert "send" in result.failing_text and "deliver" in result.failing_text


def test_missing_bind_target_is_reported(tmp_path: Path) -> None:
    from lion.spec.load import load_text

    module = load_text('fn f(x: bool) -> bool = x\nbind f python "lion.nowhere:f"')
    with pytest.raises(VerifyError, match=r"cannot import `lion\.nowhere`"):
        check_bind(module, module.binds[0], examples=5)


def test_planted_capability_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = kcap.covers

    def below_includes_itself(pattern: str, resource: str) -> bool:
        # the classic scope bug: `a/*` also matching `a` itself
        return real(pattern, resource) or (pattern.endswith("/*") and pattern[:-2] == resource)

    monkeypatch.setattr(kcap, "covers", below_includes_itself)
    result = caught("covers_path", tmp_path)
    assert "Below" in result.failing_text


def test_planted_narrowing_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def prefix_match(child: str, parent: str) -> bool:
        return parent == "*" or child.startswith(parent.removesuffix("*"))

    monkeypatch.setattr(kcap, "narrower_or_equal", prefix_match)
    caught("narrower_or_equal", tmp_path)


def test_planted_deadlock_check_bug_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lion.verify.bindings import actors as actors_binding

    def only_direct(waiting_on: Any, waiter: str, target: str) -> bool:
        return target == waiter or waiting_on.get(target) == waiter  # misses longer chains

    monkeypatch.setattr(actors_binding, "would_deadlock", only_direct)
    caught("closes_cycle", tmp_path)
    assert kactor.would_deadlock({"A": "B", "B": "C"}, "C", "A")  # the real check sees it


def test_planted_attenuation_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = kcap.attenuation_error

    def forgets_expiry(parent: kcap.Capability, child: kcap.Capability) -> str | None:
        # the child may outlive its parent
        return real(parent, child.__class__(**{**_fields(child), "expiry": parent.expiry}))

    monkeypatch.setattr(kcap, "attenuation_error", forgets_expiry)
    result = caught("Authority", tmp_path, examples=4000)
    assert "derive" in result.failing_text


def test_planted_holder_check_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = kcap.CapabilityAuthority.authorize

    def any_holder(self: Any, token: Any, resource: str, right: str, **kw: Any) -> Any:
        kw.pop("holder", None)  # the confused deputy: whoever presents the token may use it
        return real(self, token, resource, right, **kw)

    monkeypatch.setattr(kcap.CapabilityAuthority, "authorize", any_holder)
    result = caught("Authority", tmp_path)
    assert "use" in result.failing_text


def test_planted_transfer_bug_iscaught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = kcap.CapabilityAuthority.transfer

    def anyone_may_transfer(self: Any, token: Any, holder: str, **kw: Any) -> Any:
        parsed = kcap.decode_token(token) if isinstance(token, str) else token
        kw["by"] = parsed.capability.holder  # whoever presents the token speaks for its holder
        return real(self, token, holder, **kw)

    monkeypatch.setattr(kcap.CapabilityAuthority, "transfer", anyone_may_transfer)
    result = caught("Authority", tmp_path)
    assert "give" in result.failing_text


def _fields(cap: kcap.Capability) -> dict[str, Any]:
    return {f: getattr(cap, f) for f in cap.__struct_fields__}
