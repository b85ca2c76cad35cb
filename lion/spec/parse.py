"""Spec text -> untyped `Module` (lion.spec.ast). Lark trees never leave this file.

Syntax errors become `SpecError` with file:line:col, the source line with a
caret, and what the parser expected there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Token, Transformer, v_args

from lion.errors import SourceLocation, SpecError
from lion.spec import ast

__all__ = ["parse_file", "parse_text"]

# Friendly names for terminals in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "SIGNED_INT": "an integer",
    "STRING": "a string",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COLON": "`:`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "EQUAL": "`=`",
    "MORETHAN": "`>`",
    "LESSTHAN": "`<`",
    "CMP": "a comparison",
    "PLUS": "`+`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "DASH": "`-`",
    "__ANON_0": "`->`",
    "$END": "end of file",
}

_MAX_SOURCE = 5_000_000  # characters; a spec is text a person wrote


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("lion.spec").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _describe_expected(terminals: Iterable[object]) -> str:
    expected = {str(getattr(t, "type", t)) for t in terminals}
    names: set[str] = set()
    if {"NAME", "INT", "LPAR"} <= set(expected):
        # Wherever an expression may start, list that rather than its dozen first tokens.
        names.add("an expression")
        expected = {t for t in expected if t in ("RBRACE", "RPAR", "RSQB", "COMMA", "$END")}
    for term in expected:
        if term in _TERMINAL_NAMES:
            names.add(_TERMINAL_NAMES[term])
        elif term.isupper() and not term.startswith("__"):
            # keyword terminals are named after their text: AND -> `and`
            names.add(f"`{term.lower()}`")
        else:
            names.add(term.lower())
    ordered = sorted(names)
    if len(ordered) > 8:
        ordered = [*ordered[:8], "..."]
    return ", ".join(ordered)


def _location(path: str, source: str, line: int, column: int) -> SourceLocation:
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return SourceLocation(path, line, column, text)


def _end_location(path: str, source: str) -> SourceLocation:
    lines = source.splitlines() or [""]
    if source.endswith("\n"):
        lines.append("")
    return SourceLocation(path, len(lines), len(lines[-1]) + 1, lines[-1])


def parse_text(source: str, path: str = "<string>") -> ast.Module:
    """Parse spec source text into an (unchecked) Module."""
    if len(source) > _MAX_SOURCE:
        raise SpecError(
            f"spec is too large ({len(source)} characters, limit {_MAX_SOURCE})",
            SourceLocation(path, 1, 1),
        )
    try:
        tree = _parser().parse(source)
    except lark.exceptions.UnexpectedEOF as exc:
        raise SpecError(
            f"unexpected end of file, expected {_describe_expected(exc.expected)}",
            _end_location(path, source),
        ) from None
    except lark.exceptions.UnexpectedToken as exc:
        if exc.token.type == "$END":
            loc = _end_location(path, source)
        else:
            loc = _location(path, source, exc.line, exc.column)
        found = "end of file" if exc.token.type == "$END" else f"`{exc.token}`"
        raise SpecError(
            f"unexpected {found}, expected {_describe_expected(exc.expected)}", loc
        ) from None
    except lark.exceptions.UnexpectedCharacters as exc:
        loc = _location(path, source, exc.line, exc.column)
        raise SpecError(f"unexpected character `{exc.char}`", loc) from None
    try:
        items = _ToAst(path, source).transform(tree)
    except RecursionError:
        raise SpecError("spec is nested too deeply", SourceLocation(path, 1, 1)) from None
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, SpecError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise SpecError("spec is nested too deeply", SourceLocation(path, 1, 1)) from None
        raise
    chapter = Path(path).stem
    imports: list[str] = []
    definitions: list[ast.Definition] = []
    for item in items:
        if isinstance(item, _Chapter):
            chapter = item.title
        elif isinstance(item, _Import):
            imports.append(item.name)
        else:
            definitions.append(item)
    return ast.Module(path, chapter, tuple(imports), tuple(definitions), source)


def parse_file(path: str | Path) -> ast.Module:
    """Read and parse one `.lion` file; an unreadable file is a SpecError too."""
    p = Path(path)
    try:
        source = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"spec file is not valid UTF-8 ({exc.reason})", SourceLocation(str(p), 1, 1)
        ) from None
    except OSError as exc:
        raise SpecError(
            f"cannot read spec file: {exc.strerror or exc}", SourceLocation(str(p), 1, 1)
        ) from None
    return parse_text(source, str(p))


class _Chapter:
    def __init__(self, title: str) -> None:
        self.title = title


class _Import:
    def __init__(self, name: str) -> None:
        self.name = name


class _VarDecl:
    def __init__(self, param: ast.Param, ghost: bool) -> None:
        self.param = param
        self.ghost = ghost


def _pos(meta: Any) -> ast.Pos:
    return ast.Pos(getattr(meta, "line", 0) or 0, getattr(meta, "column", 0) or 0)


def _tpos(token: Token) -> ast.Pos:
    return ast.Pos(token.line or 0, token.column or 0)


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@v_args(meta=True)
class _ToAst(Transformer[Token, list[Any]]):
    """Turns each lark rule into an ast node; every node records its position."""

    def __init__(self, path: str, source: str) -> None:
        super().__init__()
        self.path = path
        self.source = source

    def _error(self, message: str, pos: ast.Pos) -> SpecError:
        return SpecError(message, _location(self.path, self.source, pos.line, pos.column))

    def start(self, meta: Any, items: list[Any]) -> list[Any]:
        return items

    # ---- items
    def chapter_decl(self, meta: Any, c: list[Any]) -> _Chapter:
        return _Chapter(_unquote(c[0]))

    def import_decl(self, meta: Any, c: list[Any]) -> _Import:
        return _Import(str(c[0]))

    def enum_def(self, meta: Any, c: list[Any]) -> ast.EnumDef:
        return ast.EnumDef(str(c[0]), tuple(str(v) for v in c[1:]), _pos(meta))

    def field_decl(self, meta: Any, c: list[Any]) -> ast.Param:
        return ast.Param(str(c[0]), c[1], _pos(meta))

    param = field_decl
    binder = field_decl

    def record_def(self, meta: Any, c: list[Any]) -> ast.RecordDef:
        return ast.RecordDef(str(c[0]), tuple(c[1:]), _pos(meta))

    def type_def(self, meta: Any, c: list[Any]) -> ast.TypeAlias:
        return ast.TypeAlias(str(c[0]), c[1], _pos(meta))

    def const_def(self, meta: Any, c: list[Any]) -> ast.Const:
        return ast.Const(str(c[0]), c[1], c[2], _pos(meta))

    def fn_def(self, meta: Any, c: list[Any]) -> ast.Fn:
        name, *rest = c
        params = tuple(p for p in rest[:-2] if p is not None)
        return ast.Fn(str(name), params, rest[-2], rest[-1], _pos(meta))

    def params(self, meta: Any, c: list[Any]) -> tuple[ast.Param, ...]:
        return tuple(p for p in c if p is not None)

    def requires_stmt(self, meta: Any, c: list[Any]) -> ast.Stmt:
        return ast.Stmt("requires", "", c[0], _pos(meta))

    def assign_stmt(self, meta: Any, c: list[Any]) -> ast.Stmt:
        return ast.Stmt("assign", str(c[0]), c[1], _pos(meta))

    def _action(self, name: str, c: list[Any], meta: Any) -> ast.Action:
        params: tuple[ast.Param, ...] = ()
        stmts = list(c)
        if stmts and (stmts[0] is None or isinstance(stmts[0], tuple)):
            params = stmts.pop(0) or ()
        requires = tuple(s.value for s in stmts if s.kind == "requires")
        updates: list[tuple[str, ast.Expr]] = []
        seen: set[str] = set()
        for s in stmts:
            if s.kind == "assign":
                if s.target in seen:
                    raise self._error(f"`{s.target}` is assigned twice in `{name}`", s.pos)
                seen.add(s.target)
                updates.append((s.target, s.value))
        return ast.Action(name, params, requires, tuple(updates), _pos(meta))

    def init_def(self, meta: Any, c: list[Any]) -> ast.Action:
        return self._action("init", c, meta)

    def action_def(self, meta: Any, c: list[Any]) -> ast.Action:
        return self._action(str(c[0]), c[1:], meta)

    def var_decl(self, meta: Any, c: list[Any]) -> _VarDecl:
        ghost, name, ty = c
        return _VarDecl(ast.Param(str(name), ty, _pos(meta)), ghost is not None)

    def machine_def(self, meta: Any, c: list[Any]) -> ast.Machine:
        name = str(c[0])
        decls = [x for x in c[1:] if isinstance(x, _VarDecl)]
        acts = [x for x in c[1:] if isinstance(x, ast.Action)]
        return ast.Machine(
            name,
            tuple(d.param for d in decls),
            acts[0],
            tuple(acts[1:]),
            _pos(meta),
            ghosts=frozenset(d.param.name for d in decls if d.ghost),
        )

    def doc(self, meta: Any, c: list[Any]) -> str:
        return _unquote(c[0])

    def invariant_def(self, meta: Any, c: list[Any]) -> ast.Invariant:
        name, doc, machine, body = c
        return ast.Invariant(str(name), str(machine), body, doc or "", _pos(meta))

    def theorem_def(self, meta: Any, c: list[Any]) -> ast.Theorem:
        name, doc, body = c
        binders: tuple[ast.Param, ...] = ()
        if isinstance(body, ast.Quant) and body.kind == "forall":
            binders, body = body.binders, body.body
        return ast.Theorem(str(name), binders, body, doc or "", _pos(meta))

    def bind_target(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return (str(c[0]), _unquote(c[1]))

    def bind_def(self, meta: Any, c: list[Any]) -> ast.Bind:
        return ast.Bind(str(c[0]), tuple(c[1:]), _pos(meta))

    # ---- types
    def bool_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.BoolType()

    def int_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.IntType()

    def signed_int(self, meta: Any, c: list[Any]) -> int:
        return int(c[0])

    def range_type(self, meta: Any, c: list[Any]) -> ast.Type:
        lo, hi = c
        if lo > hi:
            raise self._error(
                f"empty range `int[{lo}..{hi}]`: the low bound exceeds the high", _pos(meta)
            )
        return ast.IntType(lo, hi)

    def string_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.StringType()

    def set_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.SetType(c[0])

    def option_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.OptionType(c[0])

    def seq_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.SeqType(c[0], int(c[1]))

    def map_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.MapType(c[0], c[1])

    def named_type(self, meta: Any, c: list[Any]) -> ast.Type:
        return ast.NamedType(str(c[0]), _tpos(c[0]))

    # ---- expressions
    def quant(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Quant(str(c[0]), tuple(c[1:-1]), c[-1], _pos(meta))

    def if_expr(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.If(c[0], c[1], c[2], _pos(meta))

    def let_expr(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Let(str(c[0]), c[1], c[2], _pos(meta))

    def binary(self, meta: Any, c: list[Any]) -> ast.Expr:
        left, op, right = c
        return ast.Binary(str(op), left, right, _pos(meta))

    def unary(self, meta: Any, c: list[Any]) -> ast.Expr:
        op, operand = c
        return ast.Unary(str(op), operand, _pos(meta))

    def field(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Field(c[0], str(c[1]), _pos(meta))

    def index(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Index(c[0], c[1], _pos(meta))

    def field_init(self, meta: Any, c: list[Any]) -> tuple[str, ast.Expr]:
        return (str(c[0]), c[1])

    def record_update(self, meta: Any, c: list[Any]) -> ast.Expr:
        target, _with, *inits = c
        return ast.RecordUpdate(target, tuple(inits), _pos(meta))

    def map_update(self, meta: Any, c: list[Any]) -> ast.Expr:
        target, _with, key, value = c
        return ast.MapUpdate(target, key, value, _pos(meta))

    def int_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Lit(int(c[0]), _tpos(c[0]))

    def string_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Lit(_unquote(c[0]), _tpos(c[0]))

    def true_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Lit(True, _tpos(c[0]))

    def false_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Lit(False, _tpos(c[0]))

    def none_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.NoneLit(_tpos(c[0]))

    def some_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.SomeLit(c[1], _tpos(c[0]))

    def name(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Name(str(c[0]), _tpos(c[0]))

    def named_arg(self, meta: Any, c: list[Any]) -> tuple[str, ast.Expr]:
        return (str(c[0]), c[1])

    def call(self, meta: Any, c: list[Any]) -> ast.Expr:
        fn, *args = c
        args = [a for a in args if a is not None]
        named = [a for a in args if isinstance(a, tuple)]
        if named:
            if len(named) != len(args):
                raise self._error(
                    f"`{fn}(...)` mixes named and positional arguments; a record is built "
                    "with every field named",
                    _pos(meta),
                )
            return ast.RecordLit(str(fn), tuple(named), _pos(meta))
        return ast.Call(str(fn), tuple(args), _pos(meta))

    def set_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.SetLit(tuple(x for x in c if x is not None), _pos(meta))

    def seq_lit(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.SeqLit(tuple(x for x in c if x is not None), _pos(meta))

    def match_expr(self, meta: Any, c: list[Any]) -> ast.Expr:
        return ast.Match(c[0], tuple(c[1:]), _pos(meta))

    def arm(self, meta: Any, c: list[Any]) -> ast.Arm:
        (kind, names), body = c
        return ast.Arm(kind, names, body, _pos(meta))

    def variant_pattern(self, meta: Any, c: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("variants", tuple(str(n) for n in c))

    def some_pattern(self, meta: Any, c: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("some", (str(c[1]),))

    def none_pattern(self, meta: Any, c: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("none", ())

    def wildcard_pattern(self, meta: Any, c: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("wildcard", ())
