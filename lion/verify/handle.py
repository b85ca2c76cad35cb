"""A typed handle on one spec file, for users' own property tests.

::

    from lion.verify import load_spec

    policy = load_spec("spec/policy.lion")
    decisions = policy.strategy("Decision")      # a Hypothesis strategy
    combine = policy.fn("combine")               # the spec's executable semantics

or, in one call, ``strategy_for("spec/policy.lion", "Decision")``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from lion.errors import SourceLocation, SpecError
from lion.spec import ast
from lion.spec.load import load_paths
from lion.verify.boundaries import spec_numbers
from lion.verify.interpret import Interpreter
from lion.verify.strategies import from_type

__all__ = ["Spec", "load_spec", "strategy_for"]

_BUILTIN: dict[str, ast.Type] = {
    "bool": ast.BoolType(),
    "int": ast.IntType(),
    "string": ast.StringType(),
}


class Spec:
    """One checked spec file (with what it imports): its types, functions and machines."""

    def __init__(self, module: ast.Module) -> None:
        self.module = module
        self.numbers = spec_numbers(module)
        self._interpreter = Interpreter(module)

    @property
    def path(self) -> str:
        return self.module.path

    def type(self, name: str) -> ast.Type:
        """The spec type called `name`: an enum, a record, a `type` alias of this file, or
        `bool`, `int`, `string`; a SpecError names the known ones otherwise."""
        known = self._types()
        if name not in known:
            raise SpecError(
                f"no type `{name}` in {self.path}; known: {', '.join(sorted(known))}",
                SourceLocation(self.path, 1, 1),
            )
        return known[name]

    def strategy(
        self, type_name: str, *, strings: st.SearchStrategy[str] | None = None
    ) -> st.SearchStrategy[Any]:
        """A Hypothesis strategy for the spec type `type_name`, drawing ints near this
        spec's constants as lion-verify does; `strings` replaces the default identifier pool."""
        return from_type(self.type(type_name), strings=strings, numbers=self.numbers)

    def fn(self, name: str) -> Callable[..., Any]:
        """The spec function `name` as a Python callable on spec values."""
        if name not in self.module.fns:
            known = ", ".join(sorted(self.module.fns)) or "none"
            raise SpecError(
                f"no function `{name}` in {self.path}; known: {known}",
                SourceLocation(self.path, 1, 1),
            )
        interpreter = self._interpreter

        def call(*args: Any) -> Any:
            return interpreter.call(name, *args)

        call.__name__ = name
        return call

    def _types(self) -> dict[str, ast.Type]:
        known: dict[str, ast.Type] = dict(_BUILTIN)
        known.update(self.module.enums)
        known.update(self.module.records)
        for d in self.module.definitions:
            if isinstance(d, ast.TypeAlias):
                known[d.name] = d.ty
        return known

    def __repr__(self) -> str:
        return f"Spec({self.path!r})"


def load_spec(path: str | Path) -> Spec:
    """Load and check one `.lion` file (following its imports); a SpecError if it is bad."""
    p = Path(path)
    if p.is_dir():
        raise SpecError(
            f"`{p}` is a directory: name one `.lion` file", SourceLocation(str(p), 1, 1)
        )
    (module,) = load_paths([p])
    return Spec(module)


def strategy_for(spec: Spec | ast.Module | str | Path, type_name: str) -> st.SearchStrategy[Any]:
    """A Hypothesis strategy for spec type `type_name` of `spec` (a handle, a checked
    module, or the path of a `.lion` file)."""
    if isinstance(spec, Spec):
        handle = spec
    elif isinstance(spec, ast.Module):
        handle = Spec(spec)
    else:
        handle = load_spec(spec)
    return handle.strategy(type_name)
