"""The typed policy AST: frozen dataclasses, produced by ``_parse`` and read by ``_evaluate``.

Every expression node records its nesting ``depth`` (a leaf is 1) when it is
built, so limits are checked without walking (or recursing over) the tree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal as TLiteral

from lion.kernel.policy._values import EntityUID

__all__ = [
    "And",
    "BinaryOp",
    "Condition",
    "Effect",
    "Expr",
    "ExtCall",
    "ExtensionFunction",
    "GetAttr",
    "HasAttr",
    "IfThenElse",
    "IsType",
    "Like",
    "Literal",
    "MethodCall",
    "MethodName",
    "Neg",
    "Not",
    "Or",
    "Pattern",
    "Policy",
    "RecordExpr",
    "Scope",
    "SetExpr",
    "Span",
    "Var",
]


class Effect(enum.Enum):
    """What a policy does when it is satisfied."""

    PERMIT = "permit"
    FORBID = "forbid"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node starts in the policy source (1-based)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def _depth(*children: Expr) -> int:
    return 1 + max((c.depth for c in children), default=0)


@dataclass(frozen=True, slots=True)
class Expr:
    """Base of every expression node."""

    span: Span | None = field(default=None, compare=False, repr=False, kw_only=True)
    depth: int = field(default=1, init=False, compare=False, repr=False)

    def _set_depth(self, *children: Expr) -> None:
        object.__setattr__(self, "depth", _depth(*children))


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A bool, long, string or entity literal."""

    value: bool | int | str | EntityUID


@dataclass(frozen=True, slots=True)
class Var(Expr):
    """One of the four request variables."""

    name: TLiteral["principal", "action", "resource", "context"]


@dataclass(frozen=True, slots=True)
class SetExpr(Expr):
    """A set literal ``[a, b, ...]``."""

    elements: tuple[Expr, ...]

    def __post_init__(self) -> None:
        self._set_depth(*self.elements)


@dataclass(frozen=True, slots=True)
class RecordExpr(Expr):
    """A record literal ``{a: x, "b": y}`` (keys are distinct)."""

    fields: tuple[tuple[str, Expr], ...]

    def __post_init__(self) -> None:
        self._set_depth(*(e for _, e in self.fields))


@dataclass(frozen=True, slots=True)
class Not(Expr):
    """Boolean negation ``!a``."""

    arg: Expr

    def __post_init__(self) -> None:
        self._set_depth(self.arg)


@dataclass(frozen=True, slots=True)
class Neg(Expr):
    """Checked 64-bit negation ``-a``."""

    arg: Expr

    def __post_init__(self) -> None:
        self._set_depth(self.arg)


BinaryOperator = TLiteral["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "in"]


@dataclass(frozen=True, slots=True)
class BinaryOp(Expr):
    """A comparison, checked arithmetic, or hierarchy membership ``in``."""

    op: BinaryOperator
    left: Expr
    right: Expr

    def __post_init__(self) -> None:
        self._set_depth(self.left, self.right)


@dataclass(frozen=True, slots=True)
class And(Expr):
    """Kleene conjunction of two or more operands (``a && b && c`` is one node)."""

    args: tuple[Expr, ...]

    def __post_init__(self) -> None:
        self._set_depth(*self.args)


@dataclass(frozen=True, slots=True)
class Or(Expr):
    """Kleene disjunction of two or more operands."""

    args: tuple[Expr, ...]

    def __post_init__(self) -> None:
        self._set_depth(*self.args)


@dataclass(frozen=True, slots=True)
class IfThenElse(Expr):
    """``if cond then a else b``."""

    cond: Expr
    then: Expr
    else_: Expr

    def __post_init__(self) -> None:
        self._set_depth(self.cond, self.then, self.else_)


@dataclass(frozen=True, slots=True)
class GetAttr(Expr):
    """Attribute access ``a.b`` or ``a["b"]`` on a record or an entity."""

    obj: Expr
    attr: str

    def __post_init__(self) -> None:
        self._set_depth(self.obj)


@dataclass(frozen=True, slots=True)
class HasAttr(Expr):
    """``a has b``: does the record or entity have the attribute."""

    obj: Expr
    attr: str

    def __post_init__(self) -> None:
        self._set_depth(self.obj)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A ``like`` pattern: literal text chunks separated by ``*`` wildcards."""

    chunks: tuple[str, ...]  # len(chunks) == number of wildcards + 1

    def matches(self, text: str) -> bool:
        """Whether ``text`` matches; linear scans only, never backtracking."""
        chunks = self.chunks
        if len(chunks) == 1:
            return text == chunks[0]
        first, last = chunks[0], chunks[-1]
        if len(text) < len(first) + len(last):
            return False
        if not text.startswith(first) or not text.endswith(last):
            return False
        pos, end = len(first), len(text) - len(last)
        # Matching each middle chunk at its leftmost place is optimal for `*`-only globs.
        for chunk in chunks[1:-1]:
            found = text.find(chunk, pos, end)
            if found < 0:
                return False
            pos = found + len(chunk)
        return True

    def __str__(self) -> str:
        from lion.kernel.policy._values import escape_string

        return "*".join(escape_string(c)[1:-1].replace("*", "\\*") for c in self.chunks)


@dataclass(frozen=True, slots=True)
class Like(Expr):
    """``a like "pat*tern"``."""

    arg: Expr
    pattern: Pattern

    def __post_init__(self) -> None:
        self._set_depth(self.arg)


@dataclass(frozen=True, slots=True)
class IsType(Expr):
    """``a is T`` or ``a is T in b``."""

    arg: Expr
    entity_type: str
    in_: Expr | None = None

    def __post_init__(self) -> None:
        if self.in_ is None:
            self._set_depth(self.arg)
        else:
            self._set_depth(self.arg, self.in_)


MethodName = TLiteral[
    "contains",
    "containsAll",
    "containsAny",
    "isEmpty",
    "hasTag",
    "getTag",
    # decimal, datetime, duration
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    # ipaddr
    "isIpv4",
    "isIpv6",
    "isLoopback",
    "isMulticast",
    "isInRange",
    # datetime
    "offset",
    "durationSince",
    "toDate",
    "toTime",
    # duration
    "toDays",
    "toHours",
    "toMinutes",
    "toSeconds",
    "toMilliseconds",
]

ExtensionFunction = TLiteral["decimal", "ip", "datetime", "duration"]


@dataclass(frozen=True, slots=True)
class ExtCall(Expr):
    """An extension constructor call such as ``ip("10.0.0.1")`` or ``decimal("1.5")``."""

    name: ExtensionFunction
    args: tuple[Expr, ...]

    def __post_init__(self) -> None:
        self._set_depth(*self.args)


@dataclass(frozen=True, slots=True)
class MethodCall(Expr):
    """A built-in method call such as ``a.contains(b)`` or ``a.isEmpty()``."""

    obj: Expr
    method: MethodName
    args: tuple[Expr, ...]

    def __post_init__(self) -> None:
        self._set_depth(self.obj, *self.args)


@dataclass(frozen=True, slots=True)
class Scope:
    """One scope constraint of a policy head.

    ``op`` is ``"all"`` (unconstrained), ``"=="``, ``"in"`` (``entities`` has
    one uid, or several for the action list form), ``"is"`` or ``"is_in"``.
    In a template, ``slot`` (``"?principal"`` or ``"?resource"``) stands for the
    uid of an ``==``, ``in`` or ``is_in`` scope, and ``entities`` is empty.
    """

    op: TLiteral["all", "==", "in", "is", "is_in"] = "all"
    entity_type: str | None = None
    entities: tuple[EntityUID, ...] = ()
    slot: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """A ``when { expr }`` or ``unless { expr }`` clause."""

    kind: TLiteral["when", "unless"]
    expr: Expr


@dataclass(frozen=True, slots=True)
class Policy:
    """One parsed policy. ``id`` is its ``@id`` annotation, else ``policyN``.

    A policy whose scope has a slot is a template (never evaluated); a policy
    linked from a template records the template's id in ``template``.
    """

    id: str
    effect: Effect
    principal: Scope = field(default_factory=Scope)
    action: Scope = field(default_factory=Scope)
    resource: Scope = field(default_factory=Scope)
    conditions: tuple[Condition, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    template: str | None = None

    @property
    def is_template(self) -> bool:
        """Whether the principal or resource scope has a slot."""
        return self.principal.slot is not None or self.resource.slot is not None
