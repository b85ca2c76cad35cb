"""Morphisms: typed, capability-annotated steps and how they compose.

A `Morphism` goes from a `source` object to a `target` object, needs the
capabilities in `required`, and carries a precondition `pre` and a
postcondition `post`. An object is a set of ports (names), held as a sorted
tuple without repeats: ``"A"`` is ``("A",)``, ``("B", "A")`` and
``{"A", "B"}`` are both ``("A", "B")``, and a port named twice is refused.
The parallel product of objects is their disjoint union and the unit object is
``()``, the empty set of ports.

Conditions are conjunctions, held as frozensets of atoms; an atom is a
condition name (bound to a predicate at check time) or a predicate itself.
Atoms are read as stable facts: once a step establishes one it stays true.
Under that reading:

- ``compose(f, g)`` ("f then g", defined only when ``f.target == g.source``)
  needs ``f.required | g.required``, has pre ``f.pre | (g.pre - f.post)``
  (what g needs that f does not establish must hold at the start) and post
  ``f.post | g.post``;
- ``product(f, g)`` (f and g side by side, defined only when they share no
  source port and no target port) unites ports, requirements and conditions;
  since objects are sets, ``product(f, g) == product(g, f)``;
- ``identity(A)`` requires nothing and has empty pre and post.

These satisfy the category laws (identity, associativity) on the nose, the
product is commutative and associative with unit ``identity(())`` (wherever it
is defined), and composition and product of morphisms that are `secure` under
a grant are secure under it. This is `spec/composition.lion`: its
``compose_checked`` and ``tensor_checked`` are `compose` and `product`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, cast

from lion.errors import KernelError

__all__ = [
    "CompositionError",
    "Condition",
    "Morphism",
    "Obj",
    "compose",
    "compose_all",
    "grant",
    "holds",
    "identity",
    "product",
    "secure",
]

#: An object: a set of port names, as a sorted tuple without repeats; ``()`` is the
#: unit of the parallel product.
Obj = tuple[str, ...]
#: A condition atom: a name bound to a predicate at check time, or a predicate.
Condition = str | Callable[[Any], bool]


class CompositionError(KernelError):
    """Morphisms that do not fit together, or a malformed morphism or condition."""


def _obj(value: object, what: str) -> Obj:
    """The canonical form of an object: its ports, sorted, each once."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, tuple | frozenset | set) or not all(
        isinstance(n, str) and n for n in value
    ):
        raise CompositionError(
            f"morphism {what} `{value!r}` is not an object: expected a name, or a tuple or set "
            "of names"
        )
    ports = tuple(sorted(value))
    for before, after in pairwise(ports):
        if before == after:
            raise CompositionError(
                f"morphism {what} `{value!r}` names port `{before}` twice: an object is a set "
                "of ports"
            )
    return ports


def _ports(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names)
    return f"port {shown} is" if len(names) == 1 else f"ports {shown} are"


def _names(value: object, what: str) -> frozenset[str]:
    if isinstance(value, str):
        raise CompositionError(f"morphism {what} `{value}` is a string: expected a set of names")
    try:
        names: frozenset[str] = frozenset(cast(Iterable[str], value))
    except TypeError:
        raise CompositionError(f"morphism {what} `{value!r}` is not a set of names") from None
    if not all(isinstance(n, str) and n for n in names):
        raise CompositionError(f"morphism {what} must hold non-empty strings")
    return names


def _conditions(value: object, what: str) -> frozenset[Condition]:
    if isinstance(value, str) or callable(value):
        value = (value,)
    try:
        atoms: frozenset[Condition] = frozenset(cast(Iterable[Condition], value))
    except TypeError:
        raise CompositionError(f"morphism {what} `{value!r}` is not a set of conditions") from None
    for atom in atoms:
        if not ((isinstance(atom, str) and atom) or callable(atom)):
            raise CompositionError(
                f"morphism {what} holds `{atom!r}`: expected condition names or predicates"
            )
    return atoms


def _name(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(value) + ")" if len(value) != 1 else value[0]
    return str(value)


@dataclass(frozen=True, slots=True, init=False)
class Morphism:
    """A step from `source` to `target` needing `required` capabilities, with `pre`/`post`.

    Equality is structural over (source, target, required, pre, post); the
    `name` is for messages only.
    """

    source: Obj
    target: Obj
    required: frozenset[str]
    pre: frozenset[Condition]
    post: frozenset[Condition]
    name: str = field(compare=False)

    def __init__(
        self,
        source: str | Obj | AbstractSet[str],
        target: str | Obj | AbstractSet[str],
        required: Iterable[str] = (),
        pre: Iterable[Condition] | Condition = (),
        post: Iterable[Condition] | Condition = (),
        name: str = "",
    ) -> None:
        src = _obj(source, "source")
        tgt = _obj(target, "target")
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "target", tgt)
        object.__setattr__(self, "required", _names(required, "required"))
        object.__setattr__(self, "pre", _conditions(pre, "pre"))
        object.__setattr__(self, "post", _conditions(post, "post"))
        object.__setattr__(self, "name", name or f"{_name(src)} -> {_name(tgt)}")

    def __rshift__(self, other: Morphism) -> Morphism:
        """``f >> g`` is ``compose(f, g)``: f then g."""
        return compose(self, other)

    def __matmul__(self, other: Morphism) -> Morphism:
        """``f @ g`` is ``product(f, g)``: f and g side by side."""
        return product(self, other)


def identity(obj: str | Obj | AbstractSet[str]) -> Morphism:
    """The identity on `obj`: requires nothing, pre and post empty."""
    o = _obj(obj, "object")
    return Morphism(o, o, name=f"id[{_name(o)}]")


def compose(f: Morphism, g: Morphism) -> Morphism:
    """f then g; defined only when ``f.target == g.source`` (else CompositionError)."""
    if not isinstance(f, Morphism) or not isinstance(g, Morphism):
        raise CompositionError("compose expects two morphisms")
    if f.target != g.source:
        raise CompositionError(
            f"cannot compose `{f.name}` then `{g.name}`: target `{_name(f.target)}` of "
            f"`{f.name}` is not source `{_name(g.source)}` of `{g.name}`"
        )
    return Morphism(
        f.source,
        g.target,
        f.required | g.required,
        f.pre | (g.pre - f.post),
        f.post | g.post,
        name=f"{f.name} ; {g.name}",
    )


def compose_all(first: Morphism, *rest: Morphism) -> Morphism:
    """``first ; rest[0] ; rest[1] ; ...`` (associative, so grouping does not matter)."""
    result = first
    for g in rest:
        result = compose(result, g)
    return result


def product(f: Morphism, g: Morphism) -> Morphism:
    """f and g side by side: ports, requirements and conditions unite.

    Defined only when f and g share no source port and no target port (else
    CompositionError); the result does not depend on the order of f and g.
    """
    if not isinstance(f, Morphism) or not isinstance(g, Morphism):
        raise CompositionError("product expects two morphisms")
    for side, mine, theirs in (("sources", f.source, g.source), ("targets", f.target, g.target)):
        shared = sorted(set(mine) & set(theirs))
        if shared:
            raise CompositionError(
                f"cannot put `{f.name}` beside `{g.name}`: {_ports(shared)} in both {side}, "
                "and the ports of a product must be disjoint"
            )
    return Morphism(
        f.source + g.source,
        f.target + g.target,
        f.required | g.required,
        f.pre | g.pre,
        f.post | g.post,
        name=f"({f.name} ⊗ {g.name})",
    )


def secure(morphism: Morphism, granted: Iterable[str]) -> bool:
    """True if every capability `morphism` requires is in `granted`."""
    return morphism.required <= frozenset(granted)


def grant(required: Iterable[str], authority: Iterable[str]) -> frozenset[str]:
    """Least authority: grant the declared requirement intersected with the grantor's authority."""
    return frozenset(required) & frozenset(authority)


def holds(
    conditions: Iterable[Condition],
    state: Any,
    env: Mapping[str, Callable[[Any], bool]] | None = None,
) -> bool:
    """True if every condition holds on `state`; fail-closed.

    Named conditions are looked up in `env` (an unknown name is a
    CompositionError). A predicate that raises or returns a non-bool counts
    as not holding.
    """
    for atom in conditions:
        if isinstance(atom, str):
            if env is None or atom not in env:
                raise CompositionError(f"condition `{atom}` is not defined: expected it in `env`")
            predicate = env[atom]
        else:
            predicate = atom
        try:
            result = predicate(state)
        except Exception:
            return False
        if result is not True:
            return False
    return True
