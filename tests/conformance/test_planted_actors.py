"""Planted bugs in the actor kernel are caught by the binds of `spec/actors.lion`.

Each test breaks the real kernel the way a plausible bug would and checks
that conformance fails, shrinks the failing run, and saves an input that
reproduces it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pytest

from lion.kernel import _mailbox
from lion.kernel import actor as kactor
from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.conformance import replay_corpus

from .planted import caught

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "conformance"
(MODULE,) = load_paths([ROOT / "spec" / "actors.lion"])


def bind(name: str) -> tuple[ast.Module, ast.Bind]:
    return MODULE, next(b for b in MODULE.binds if b.name == name)


# The runner before finding 4 of issue 11: one edge per actor, so the second
# concurrent ask overwrites the first, and the first to end drops the other.
def _single_add_edge(self: kactor.Runner, me: Any, target: Any) -> None:
    if kactor.would_deadlock(self._waits, me.name, target.name):
        raise kactor.DeadlockError("cycle")
    self._waits[me.name] = Counter([target.name])


def _single_remove_edge(self: kactor.Runner, me: Any, target: Any) -> None:
    self._waits.pop(me.name, None)


def test_take_handing_out_the_newest_while_removing_the_oldest_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def take_mixed_up(self: _mailbox.Mailbox[Any]) -> Any:
        if not self._entries:
            raise _mailbox.ActorError("empty")
        newest = self._entries[-1]
        self._entries.popleft()  # the queue shrinks at the right end ...
        self._taken += 1
        return newest  # ... but the handler gets the wrong message

    monkeypatch.setattr(_mailbox.Mailbox, "take", take_mixed_up)
    result = caught("Mailbox", tmp_path)
    assert "deliver" in result.failing_text
    assert "`last`" in result.message


class _NewestHandedOut:
    """The Rust mailbox with the same bug: the oldest message leaves the queue, the newest
    is handed out (Rust code cannot be patched from a test, so the bug sits at its edge)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def take(self) -> Any:
        pending = list(self.inner.pending())
        taken = self.inner.take()  # raises, as the real one does, when empty
        return pending[-1] if pending else taken


def test_rust_take_handing_out_the_newest_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lion.verify.bindings import actors as actors_binding

    real = actors_binding.RustMailboxModel.new_mailbox
    monkeypatch.setattr(
        actors_binding.RustMailboxModel,
        "new_mailbox",
        staticmethod(lambda capacity: _NewestHandedOut(real(capacity))),
    )
    result = caught("Mailbox", tmp_path, backend="rust")
    assert "deliver" in result.failing_text
    assert "`last`" in result.message


SLOTS = 10  # the leaky runner's wait-slot table


@pytest.mark.parametrize("backend", ["python", "rust"])
def test_a_wait_slot_leak_showing_at_the_eleventh_wait_iscaught(
    backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An off-by-one that needs a long run: each wait takes one of 10 slots and ending
    # it never gives the slot back, so the 11th wait of a runner's life finds none and
    # is silently neither checked nor recorded. No run shorter than 11 steps shows it.
    real = kactor.Runner._add_edge

    def leaky_add_edge(self: kactor.Runner, me: Any, target: Any) -> None:
        used = getattr(self, "_slots_used", 0)
        if used >= SLOTS:
            return
        self._slots_used = used + 1  # type: ignore[attr-defined]
        real(self, me, target)

    monkeypatch.setattr(kactor.Runner, "_add_edge", leaky_add_edge)
    result = caught("System", tmp_path, backend=backend)
    steps = result.failing_text.split("; ")[1:]  # after init(...)
    waits = [s for s in steps if s.startswith(("ask(", "block("))]
    assert len(waits) > SLOTS, result.failing_text  # the shrunk run still needs 11 waits
    assert len(steps) >= SLOTS + 1


def test_a_runner_keeping_one_wait_per_actor_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(kactor.Runner, "_add_edge", _single_add_edge)
    monkeypatch.setattr(kactor.Runner, "_remove_edge", _single_remove_edge)
    result = caught("System", tmp_path)
    assert "ask" in result.failing_text


def test_a_deadlock_check_that_sees_one_target_per_actor_iscaught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lion.verify.bindings import actors as actors_binding

    real = kactor.would_deadlock

    def first_target_only(waits: Mapping[str, Collection[str]], waiter: str, target: str) -> bool:
        return real({k: list(v)[:1] for k, v in waits.items()}, waiter, target)

    # the check on its own: random wait-for relations find it at once
    monkeypatch.setattr(actors_binding, "would_deadlock", first_target_only)
    result = caught("closes_cycle", tmp_path)
    assert "A" in result.failing_text
    # inside the runner: random runs catch it (the spec refuses an ask or a
    # blocked send that the runner lets through; such refusals come from near
    # misses, so it takes a few hundred runs), and so do the saved runs of the
    # finding (a asks b, then c; c asks a)
    monkeypatch.setattr(kactor, "would_deadlock", first_target_only)
    result = caught("System", tmp_path, examples=4000)
    assert "the spec says not enabled" in result.message
    module, b = bind("System")
    failures = replay_corpus(module, b, CORPUS)
    assert any("the spec says not enabled" in f for f in failures), failures


def test_the_saved_runs_of_the_finding_catch_the_single_edge_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kactor.Runner, "_add_edge", _single_add_edge)
    monkeypatch.setattr(kactor.Runner, "_remove_edge", _single_remove_edge)
    module, b = bind("System")
    for backend in ("python", "rust"):
        assert len(replay_corpus(module, b, CORPUS, backend)) >= 2
