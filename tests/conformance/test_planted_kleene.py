"""Planted connective bugs that the `k_not`/`k_and`/`k_or` binds (spec/policy.lion) must catch.

The binds run the connectives through the real evaluator (`!`, `&&`, `||` in
a `when` clause, an erroring operand standing for UNKNOWN), so a policy
engine that drifts from strong Kleene logic is found, not just a model of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lion.kernel.policy import _ast as A
from lion.kernel.policy import _evaluate
from lion.verify.bindings import policy as policy_bind

from .planted import caught


@pytest.fixture(autouse=True)
def fresh_engines() -> object:
    # the binds cache a compiled policy per condition; a planted bug must be compiled in
    policy_bind._engine.cache_clear()
    yield
    policy_bind._engine.cache_clear()


def bochvar_junction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weak (Bochvar) `&&`/`||`: the first erroring operand wins, even over a deciding one."""

    def junction_of(e: A.And | A.Or) -> _evaluate.Fn:
        arg_fns = tuple(_evaluate._compile(a) for a in e.args)
        decisive = isinstance(e, A.Or)

        def junction(env: _evaluate.Env) -> _evaluate.Value:
            values = [fn(env) for fn in arg_fns]  # an error escapes at once
            return decisive if decisive in values else not decisive

        return junction

    monkeypatch.setattr(_evaluate, "_compile_junction", junction_of)


def not_keeps_error_as_false(monkeypatch: pytest.MonkeyPatch) -> None:
    """`!` of an erroring operand read as `!false`: an unknown turned into TRUE."""
    real = _evaluate._compile

    def compile_(e: A.Expr) -> _evaluate.Fn:
        if isinstance(e, A.Not):
            inner = real(e.arg)

            def not_(env: _evaluate.Env) -> _evaluate.Value:
                try:
                    return not inner(env)
                except _evaluate.EvalError:
                    return True

            return not_
        return real(e)

    monkeypatch.setattr(_evaluate, "_compile", compile_)


@pytest.mark.parametrize(
    ("bug", "bind"),
    [(bochvar_junction, "k_and"), (bochvar_junction, "k_or"), (not_keeps_error_as_false, "k_not")],
)
def test_the_connective_binds_catch_the_bug(
    bug: object, bind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert callable(bug)
    bug(monkeypatch)
    caught(bind, tmp_path, examples=50)
