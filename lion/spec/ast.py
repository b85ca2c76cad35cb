"""The typed model of a `.lion` spec: frozen dataclasses, no parse trees.

The parser (`lion.spec.parse`) builds these nodes with ``ty=None``; the type
checker (`lion.spec.check`) returns the same shapes with every expression's
``ty`` filled in and every name resolved. Everything downstream (the prover,
the interpreter, the strategies) reads only checked nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Action",
    "Aggregate",
    "Arm",
    "Binary",
    "Bind",
    "BoolType",
    "Call",
    "Const",
    "EnumDef",
    "EnumType",
    "EnumValueLit",
    "Expr",
    "Field",
    "Fn",
    "If",
    "Index",
    "IntType",
    "Invariant",
    "Let",
    "Lit",
    "Machine",
    "MapType",
    "MapUpdate",
    "Match",
    "Module",
    "Name",
    "NoneLit",
    "OptionType",
    "Param",
    "Pos",
    "Quant",
    "RecordDef",
    "RecordLit",
    "RecordType",
    "RecordUpdate",
    "SeqLit",
    "SeqType",
    "SetLit",
    "SetType",
    "SomeLit",
    "Stmt",
    "StringType",
    "Theorem",
    "Type",
    "Unary",
    "Var",
]


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node starts: 1-based line and column in its file."""

    line: int
    column: int


NOWHERE = Pos(0, 0)


# ---- types -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoolType:
    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True)
class IntType:
    """``int`` when both bounds are None, else ``int[lo..hi]`` (inclusive)."""

    lo: int | None = None
    hi: int | None = None

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    def __str__(self) -> str:
        return f"int[{self.lo}..{self.hi}]" if self.bounded else "int"


@dataclass(frozen=True, slots=True)
class StringType:
    def __str__(self) -> str:
        return "string"


@dataclass(frozen=True, slots=True)
class EnumType:
    name: str
    variants: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class RecordType:
    name: str
    fields: tuple[tuple[str, Type], ...]

    def field_type(self, name: str) -> Type | None:
        for fname, fty in self.fields:
            if fname == name:
                return fty
        return None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class SetType:
    elem: Type

    def __str__(self) -> str:
        return f"set<{self.elem}>"


@dataclass(frozen=True, slots=True)
class SeqType:
    """``seq<T, N>``: a sequence of at most ``bound`` elements (the bound is a range:
    values stored into it are checked, as for ``int[lo..hi]``)."""

    elem: Type
    bound: int

    def __str__(self) -> str:
        return f"seq<{self.elem}, {self.bound}>"


@dataclass(frozen=True, slots=True)
class MapType:
    """A total map from a finite key type: every key has a value."""

    key: Type
    value: Type

    def __str__(self) -> str:
        return f"map<{self.key}, {self.value}>"


@dataclass(frozen=True, slots=True)
class OptionType:
    elem: Type

    def __str__(self) -> str:
        return f"option<{self.elem}>"


@dataclass(frozen=True, slots=True)
class NamedType:
    """A type name as written, before the checker resolves it."""

    name: str
    pos: Pos = NOWHERE

    def __str__(self) -> str:
        return self.name


Type = (
    BoolType
    | IntType
    | StringType
    | EnumType
    | RecordType
    | SetType
    | SeqType
    | MapType
    | OptionType
    | NamedType
)


# ---- expressions -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    """A bool, int or string literal."""

    value: bool | int | str
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier as written; the checker turns it into a Var or an EnumValueLit."""

    name: str
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Var:
    """A reference to a parameter, let binding, bound variable, machine variable or const."""

    name: str
    kind: str  # "local" | "state" | "const"
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class EnumValueLit:
    enum: str
    variant: str
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class NoneLit:
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class SomeLit:
    value: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class SetLit:
    items: tuple[Expr, ...]
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class SeqLit:
    """``[a, b]`` or ``[]``: a sequence literal."""

    items: tuple[Expr, ...]
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class RecordLit:
    record: str
    fields: tuple[tuple[str, Expr], ...]
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Field:
    target: Expr
    name: str
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Index:
    """``m[k]``: a map lookup; on a sequence ``s[i]``, ``some`` element or ``none``."""

    target: Expr
    key: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    target: Expr
    fields: tuple[tuple[str, Expr], ...]
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class MapUpdate:
    target: Expr
    key: Expr
    value: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not" | "-"
    operand: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: Expr
    orelse: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Let:
    name: str
    value: Expr
    body: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of a match: ``A | B => e``, ``some(x) => e``, ``none => e`` or ``_ => e``."""

    kind: str  # "variants" | "some" | "none" | "wildcard"
    names: tuple[str, ...]  # variant names, or the bound name for "some"
    body: Expr
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Match:
    subject: Expr
    arms: tuple[Arm, ...]
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a spec function or a builtin; named args only for record construction."""

    fn: str
    args: tuple[Expr, ...]
    pos: Pos = NOWHERE
    ty: Type | None = None
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class Quant:
    """``forall``/``exists`` over variables; inside expressions the types must be finite."""

    kind: str  # "forall" | "exists"
    binders: tuple[Param, ...]
    body: Expr
    pos: Pos = NOWHERE
    ty: Type | None = None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``sum(x in s, e)``, ``count(x in s, p)`` or ``sum(s)``: over a set of a finite type.

    For ``sum(s)`` ``var`` is "" and ``body`` is None (the elements themselves are added).
    """

    kind: str  # "sum" | "count"
    var: str
    source: Expr
    body: Expr | None
    pos: Pos = NOWHERE
    ty: Type | None = None


Expr = (
    Lit
    | Name
    | Var
    | EnumValueLit
    | NoneLit
    | SomeLit
    | SetLit
    | SeqLit
    | RecordLit
    | Field
    | Index
    | RecordUpdate
    | MapUpdate
    | Unary
    | Binary
    | If
    | Let
    | Match
    | Call
    | Quant
    | Aggregate
)


# ---- definitions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    ty: Type
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class EnumDef:
    name: str
    variants: tuple[str, ...]
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class RecordDef:
    name: str
    fields: tuple[Param, ...]
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class TypeAlias:
    name: str
    ty: Type
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Const:
    name: str
    ty: Type
    value: Expr
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Fn:
    name: str
    params: tuple[Param, ...]
    result: Type
    body: Expr
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Stmt:
    """Inside init/action: ``requires e`` (kind "requires") or ``x = e`` (kind "assign")."""

    kind: str
    target: str  # the assigned variable; "" for requires
    value: Expr
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    params: tuple[Param, ...]
    requires: tuple[Expr, ...]
    updates: tuple[tuple[str, Expr], ...]  # simultaneous: right sides read the old state
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Machine:
    name: str
    vars: tuple[Param, ...]
    init: Action  # its updates assign every variable
    actions: tuple[Action, ...]
    pos: Pos = NOWHERE
    # `ghost var`s: model bookkeeping an implementation need not report (conformance
    # compares every other variable, and an adapter that omits one fails)
    ghosts: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    machine: str
    body: Expr
    doc: str = ""
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Theorem:
    """``theorem name "doc": e``; a leading ``forall`` binds the theorem's variables."""

    name: str
    binders: tuple[Param, ...]
    body: Expr
    doc: str = ""
    pos: Pos = NOWHERE


@dataclass(frozen=True, slots=True)
class Bind:
    """Ties a spec function or machine to implementations: target kind -> reference."""

    name: str
    targets: tuple[tuple[str, str], ...]  # ("python", "lion.kernel.policy:combine"), ...
    pos: Pos = NOWHERE

    def target(self, kind: str) -> str | None:
        for k, ref in self.targets:
            if k == kind:
                return ref
        return None


Definition = EnumDef | RecordDef | TypeAlias | Const | Fn | Machine | Invariant | Theorem | Bind


@dataclass(frozen=True)
class Module:
    """One spec file: its chapter, imports and definitions in source order.

    After checking, ``enums``, ``records``, ``fns``, ``consts`` and ``machines``
    hold this module's definitions *and* those it imports, so a consumer never
    needs to follow imports itself.
    """

    path: str
    chapter: str
    imports: tuple[str, ...]
    definitions: tuple[Definition, ...]
    source: str = ""
    enums: dict[str, EnumType] = field(default_factory=dict)
    records: dict[str, RecordType] = field(default_factory=dict)
    fns: dict[str, Fn] = field(default_factory=dict)
    consts: dict[str, Const] = field(default_factory=dict)
    machines: dict[str, Machine] = field(default_factory=dict)

    @property
    def theorems(self) -> tuple[Theorem, ...]:
        return tuple(d for d in self.definitions if isinstance(d, Theorem))

    @property
    def invariants(self) -> tuple[Invariant, ...]:
        return tuple(d for d in self.definitions if isinstance(d, Invariant))

    @property
    def binds(self) -> tuple[Bind, ...]:
        return tuple(d for d in self.definitions if isinstance(d, Bind))
