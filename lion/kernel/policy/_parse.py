"""Policy text -> typed AST (``_ast``), via lark's LALR parser and a non-recursive transformer.

No lark object leaves this module: callers get ``Policy`` values or a
``PolicyError`` pointing at file:line:col with a caret and what was expected.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import wraps
from importlib import resources
from typing import Any, Literal, TypeVar, cast

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from lion.errors import PolicyError, SourceLocation
from lion.kernel.policy import _ast as A
from lion.kernel.policy._limits import DEFAULT_LIMITS, Limits
from lion.kernel.policy._text import first_surrogate, surrogate_message
from lion.kernel.policy._values import INT_MAX, EntityUID

__all__ = ["check_unicode", "parse_entity_uid", "parse_policies", "unescape"]

RESERVED = frozenset({"true", "false", "if", "then", "else", "in", "is", "like", "has"})
VARIABLES = frozenset({"principal", "action", "resource", "context"})
EXTENSION_FUNCTIONS = frozenset({"ip", "decimal", "datetime", "duration"})
EXTENSION_METHODS = frozenset(
    {
        "isIpv4",
        "isIpv6",
        "isLoopback",
        "isMulticast",
        "isInRange",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "toDate",
        "toTime",
        "toDays",
        "toHours",
        "toMinutes",
        "toSeconds",
        "toMilliseconds",
        "offset",
        "durationSince",
    }
)
METHOD_ARITY: dict[str, int] = {
    "contains": 1,
    "containsAll": 1,
    "containsAny": 1,
    "isEmpty": 0,
    "hasTag": 1,
    "getTag": 1,
}
MAX_UNARY_REPEAT = 4  # Cedar rejects more than four `!` or `-` in a row

_TERMINAL_TEXT = {
    "EFFECT": "`permit` or `forbid`",
    "WHEN": "`when`",
    "UNLESS": "`unless`",
    "IF": "`if`",
    "THEN": "`then`",
    "ELSE": "`else`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "IN": "`in`",
    "IS": "`is`",
    "HAS": "`has`",
    "LIKE": "`like`",
    "AT": "`@`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "SEMI": "`;`",
    "COLON": "`:`",
    "DCOLON": "`::`",
    "DOT": "`.`",
    "EQ": "`==`",
    "NE": "`!=`",
    "LE": "`<=`",
    "GE": "`>=`",
    "LT": "`<`",
    "GT": "`>`",
    "ANDAND": "`&&`",
    "OROR": "`||`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "BANG": "`!`",
    "IDENT": "an identifier",
    "SLOT": "a template slot",
    "INT": "an integer",
    "STRING": "a string",
    "$END": "end of input",
}
_EXPR_START = frozenset(
    {"INT", "STRING", "TRUE", "FALSE", "IDENT", "LPAR", "LSQB", "LBRACE", "BANG", "MINUS", "IF"}
)

_parser: Lark | None = None
_parser_lock = threading.Lock()


def _get_parser() -> Lark:
    global _parser
    with _parser_lock:
        if _parser is None:
            grammar = resources.files(__package__).joinpath("_grammar.lark").read_text("utf-8")
            _parser = Lark(
                grammar,
                parser="lalr",
                lexer="contextual",
                propagate_positions=True,
                maybe_placeholders=False,
            )
        return _parser


class _Fail(Exception):
    """A parse error found by the transformer, turned into a PolicyError by the caller."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}
_HEX = re.compile(r"[0-9a-fA-F]+")


def unescape(body: str, pattern: bool = False) -> list[str | None]:
    """Decode the inside of a string literal into characters.

    With ``pattern`` (a ``like`` pattern), an unescaped ``*`` becomes ``None``
    (the wildcard) and ``\\*`` a literal star. Raises ``ValueError`` with a
    message on an invalid escape.
    """
    out: list[str | None] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "*" and pattern:
            out.append(None)
            i += 1
            continue
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("unterminated escape `\\`")
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "*" and pattern:
            out.append("*")
            i += 2
        elif nxt == "x":
            digits = body[i + 2 : i + 4]
            if len(digits) != 2 or not _HEX.fullmatch(digits) or int(digits, 16) > 0x7F:
                raise ValueError(f"the input `{body[i : i + 4]}` is not a valid escape")
            out.append(chr(int(digits, 16)))
            i += 4
        elif nxt == "u":
            close = body.find("}", i)
            raw = body[i + 3 : close] if body.startswith("{", i + 2) and close > 0 else ""
            # Like Rust (which Cedar follows): underscores may separate the hex digits.
            digits = raw.replace("_", "") if raw[:1] != "_" else ""
            code = int(digits, 16) if 1 <= len(digits) <= 6 and _HEX.fullmatch(digits) else -1
            if code < 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"the input `{body[i : i + 10]}` is not a valid unicode escape")
            out.append(chr(code))
            i = close + 1
        else:
            raise ValueError(f"the input `\\{nxt}` is not a valid escape")
    return out


_F = TypeVar("_F", bound=Callable[..., Any])


def _checked(fn: _F) -> _F:
    """Check the depth limit on every expression node a callback builds."""

    @wraps(fn)
    def wrapper(self: _ToAst, meta: Any, children: list[Any]) -> Any:
        node = fn(self, meta, children)
        if isinstance(node, A.Expr) and node.depth > self.limits.max_depth:
            raise _Fail(
                f"expression is nested too deeply (more than {self.limits.max_depth} levels)",
                *_pos(meta),
            )
        return node

    return cast(_F, wrapper)


def _pos(meta: Any) -> tuple[int | None, int | None]:
    return getattr(meta, "line", None), getattr(meta, "column", None)


def _span(meta: Any) -> A.Span | None:
    line, column = _pos(meta)
    return A.Span(line, column) if line is not None and column is not None else None


def _tok_span(tok: Token) -> A.Span | None:
    if tok.line is None or tok.column is None:
        return None
    return A.Span(tok.line, tok.column)


def _toks(children: Sequence[Any], kind: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == kind]


def _exprs(children: Sequence[Any]) -> list[A.Expr]:
    return [c for c in children if isinstance(c, A.Expr)]


def _chain(operands: list[A.Expr], kind: type[A.And | A.Or]) -> tuple[A.Expr, ...]:
    """The operands of one flat chain; a parenthesised chain of the same kind in
    first place is spliced in, as the Rust core does (`(a && b) && c` has three)."""
    first = operands[0]
    if isinstance(first, kind):
        return (*first.args, *operands[1:])
    return tuple(operands)


class _PolicyDraft:
    """A policy before its id is assigned (ids depend on the whole file)."""

    def __init__(
        self,
        annotations: list[tuple[str, str, Token]],
        effect: A.Effect,
        scope: tuple[A.Scope, A.Scope, A.Scope],
        conditions: tuple[A.Condition, ...],
        span: A.Span | None,
    ) -> None:
        self.annotations = annotations
        self.effect = effect
        self.scope = scope
        self.conditions = conditions
        self.span = span


_ScopeItem = tuple[str, Token, A.Scope, "Token | None"]


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):  # type: ignore[type-arg]
    """Lark parse tree -> AST. Runs iteratively, so deep input cannot overflow the stack."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self._pending_min: dict[int, A.Literal] = {}  # literals equal to 2**63 awaiting a `-`

    # -- strings ---------------------------------------------------------------

    def _string(self, tok: Token) -> str:
        try:
            chars = unescape(str(tok)[1:-1])
        except ValueError as exc:
            raise _Fail(str(exc), tok.line, tok.column) from None
        text = "".join(c for c in chars if c is not None)
        if len(text) > self.limits.max_string_length:
            raise _Fail(
                f"string literal is longer than {self.limits.max_string_length} characters",
                tok.line,
                tok.column,
            )
        return text

    def _ident(self, tok: Token, what: str) -> str:
        name = str(tok)
        if name in RESERVED or name.startswith("__cedar"):
            raise _Fail(
                f"`{name}` is a reserved identifier and cannot be {what}", tok.line, tok.column
            )
        return name

    # -- policies --------------------------------------------------------------

    def start(self, meta: Any, children: list[Any]) -> list[_PolicyDraft]:
        return [c for c in children if isinstance(c, _PolicyDraft)]

    def policy(self, meta: Any, children: list[Any]) -> _PolicyDraft:
        if self._pending_min:
            lit = next(iter(self._pending_min.values()))
            line, col = (lit.span.line, lit.span.column) if lit.span else (None, None)
            raise _Fail(f"integer literal `{INT_MAX + 1}` is too large", line, col)
        annotations = [c for c in children if isinstance(c, tuple) and isinstance(c[0], str)]
        seen: set[str] = set()
        for key, _, tok in annotations:
            if key in seen:
                raise _Fail(f"duplicate annotation `@{key}`", tok.line, tok.column)
            seen.add(key)
        effect_tok = _toks(children, "EFFECT")[0]
        scope = next(
            c
            for c in children
            if isinstance(c, tuple) and len(c) == 3 and isinstance(c[0], A.Scope)
        )
        conditions = tuple(c for c in children if isinstance(c, A.Condition))
        return _PolicyDraft(
            annotations, A.Effect(str(effect_tok)), scope, conditions, _tok_span(effect_tok)
        )

    def annotation(self, meta: Any, children: list[Any]) -> tuple[str, str, Token]:
        key_tok = _toks(children, "IDENT")[0]
        strings = _toks(children, "STRING")
        value = self._string(strings[0]) if strings else ""
        return (str(key_tok), value, key_tok)

    def scope(self, meta: Any, children: list[Any]) -> tuple[A.Scope, A.Scope, A.Scope]:
        items: list[_ScopeItem] = [c for c in children if isinstance(c, tuple)]
        result = []
        for expected, (name, tok, scope, op_tok) in zip(
            ("principal", "action", "resource"), items, strict=True
        ):
            if name != expected:
                raise _Fail(
                    f"expected the variable `{expected}` in the policy scope, found `{name}`",
                    tok.line,
                    tok.column,
                )
            if expected == "action" and scope.op in ("is", "is_in"):
                assert op_tok is not None
                raise _Fail("`is` cannot appear in the action scope", op_tok.line, op_tok.column)
            if expected == "action":
                for uid in scope.entities:
                    if uid.type != "Action" and not uid.type.endswith("::Action"):
                        assert op_tok is not None
                        raise _Fail(
                            f"the action scope takes uids of type `Action`, got `{uid}`",
                            op_tok.line,
                            op_tok.column,
                        )
            result.append(scope)
        return (result[0], result[1], result[2])

    def _target(self, target: Any, op_tok: Token, many_ok: bool) -> tuple[EntityUID, ...]:
        if isinstance(target, Token) and target.type == "SLOT":
            raise _Fail(
                f"template slots such as `{target}` are not supported", target.line, target.column
            )
        if isinstance(target, list):
            if not many_ok:
                raise _Fail(
                    f"`{op_tok}` takes a single entity uid, not a list", op_tok.line, op_tok.column
                )
            return tuple(target)
        assert isinstance(target, A.Literal)
        assert isinstance(target.value, EntityUID)
        return (target.value,)

    def scope_all(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok = children[0]
        return (str(tok), tok, A.Scope(), None)

    def scope_eq(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, target = children
        return (str(tok), tok, A.Scope("==", None, self._target(target, op, False)), op)

    def scope_in(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, target = children
        many_ok = str(tok) == "action"  # only the action scope takes a list
        return (str(tok), tok, A.Scope("in", None, self._target(target, op, many_ok)), op)

    def scope_is(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, name = children
        return (str(tok), tok, A.Scope("is", name[0], ()), op)

    def scope_is_in(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, name, in_tok, target = children
        return (str(tok), tok, A.Scope("is_in", name[0], self._target(target, in_tok, False)), op)

    def slot(self, meta: Any, children: list[Any]) -> Token:
        # Passed up as a token: the parent reports it with the right context.
        return cast(Token, children[0])

    def ref_list(self, meta: Any, children: list[Any]) -> list[EntityUID]:
        return [
            c.value for c in children if isinstance(c, A.Literal) and isinstance(c.value, EntityUID)
        ]

    def condition(self, meta: Any, children: list[Any]) -> A.Condition:
        kw = children[0]
        exprs = _exprs(children)
        if any(isinstance(c, Token) and c.type == "SLOT" for c in children):
            slot = next(c for c in children if isinstance(c, Token) and c.type == "SLOT")
            raise _Fail(
                f"template slots such as `{slot}` are not supported", slot.line, slot.column
            )
        if not exprs:
            raise _Fail(f"`{kw}` condition clause cannot be empty", kw.line, kw.column)
        return A.Condition(cast(Literal["when", "unless"], str(kw)), exprs[0])

    # -- expressions -----------------------------------------------------------

    def _no_slot(self, children: Sequence[Any]) -> None:
        for c in children:
            if isinstance(c, Token) and c.type == "SLOT":
                raise _Fail(f"template slots such as `{c}` are not supported", c.line, c.column)

    @_checked
    def if_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        c, t, e = _exprs(children)
        return A.IfThenElse(c, t, e, span=_span(meta))

    @_checked
    def or_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        return A.Or(_chain(_exprs(children), A.Or), span=_span(meta))

    @_checked
    def and_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        return A.And(_chain(_exprs(children), A.And), span=_span(meta))

    @_checked
    def compare(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp(str(op), left, right, span=_tok_span(op))  # type: ignore[arg-type]

    @_checked
    def arith(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp(str(op), left, right, span=_tok_span(op))  # type: ignore[arg-type]

    @_checked
    def in_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp("in", left, right, span=_tok_span(op))

    def has_path(self, meta: Any, children: list[Any]) -> list[str]:
        strings = _toks(children, "STRING")
        if strings:
            return [self._string(strings[0])]
        return [self._ident(t, "an attribute name") for t in _toks(children, "IDENT")]

    @_checked
    def has_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj, op, path = children
        span = _tok_span(op)
        tests: list[A.Expr] = []
        target: A.Expr = obj
        # `e has a.b` means `e has a && e.a has b`
        for i, attr in enumerate(path):
            if i:
                target = A.GetAttr(target, path[i - 1], span=span)
            tests.append(A.HasAttr(target, attr, span=span))
        return tests[0] if len(tests) == 1 else A.And(tuple(tests), span=span)

    @_checked
    def like_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        arg, op, tok = children
        try:
            chars = unescape(str(tok)[1:-1], pattern=True)
        except ValueError as exc:
            raise _Fail(str(exc), tok.line, tok.column) from None
        if len(chars) > self.limits.max_string_length:
            raise _Fail(
                f"pattern is longer than {self.limits.max_string_length} characters",
                tok.line,
                tok.column,
            )
        chunks: list[str] = []
        current: list[str] = []
        for c in chars:
            if c is None:
                chunks.append("".join(current))
                current = []
            else:
                current.append(c)
        chunks.append("".join(current))
        return A.Like(arg, A.Pattern(tuple(chunks)), span=_tok_span(op))

    @_checked
    def is_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        arg, op, name = children
        return A.IsType(arg, name[0], span=_tok_span(op))

    @_checked
    def is_in_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        arg, op, name, _, target = children
        return A.IsType(arg, name[0], target, span=_tok_span(op))

    @_checked
    def not_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        return self._unary(children, "!")

    @_checked
    def neg_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        return self._unary(children, "-")

    def _unary(self, children: list[Any], op: str) -> A.Expr:
        self._no_slot(children)
        ops = [c for c in children if isinstance(c, Token)]
        expr = children[-1]
        if len(ops) > MAX_UNARY_REPEAT:
            raise _Fail(f"too many occurrences of `{op}` in a row", ops[0].line, ops[0].column)
        for tok in reversed(ops):
            span = _tok_span(tok)
            if op == "!":
                expr = A.Not(expr, span=span)
            elif (
                isinstance(expr, A.Literal)
                and type(expr.value) is int
                and (expr.value > 0 or id(expr) in self._pending_min)
            ):
                # `-N` is a literal, so -9223372036854775808 can be written
                self._pending_min.pop(id(expr), None)
                expr = A.Literal(-expr.value, span=span)
            else:
                expr = A.Neg(expr, span=span)
        return cast(A.Expr, expr)

    @_checked
    def get_attr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj, _, tok = children
        return A.GetAttr(obj, self._ident(tok, "an attribute name"), span=_tok_span(tok))

    @_checked
    def index_attr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj = children[0]
        tok = _toks(children, "STRING")[0]
        return A.GetAttr(obj, self._string(tok), span=_tok_span(tok))

    @_checked
    def method_call(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj = children[0]
        tok = _toks(children, "IDENT")[0]
        args = next((c for c in children if isinstance(c, list)), [])
        name = str(tok)
        if name in EXTENSION_METHODS:
            raise _Fail(f"extension method `{name}` is not supported", tok.line, tok.column)
        if name not in METHOD_ARITY:
            raise _Fail(f"`{name}` is not a valid method", tok.line, tok.column)
        if len(args) != METHOD_ARITY[name]:
            want = METHOD_ARITY[name]
            raise _Fail(
                f"`{name}` takes {want} argument{'s' if want != 1 else ''}, got {len(args)}",
                tok.line,
                tok.column,
            )
        return A.MethodCall(obj, cast(A.MethodName, name), tuple(args), span=_tok_span(tok))

    def args(self, meta: Any, children: list[Any]) -> list[A.Expr]:
        self._no_slot(children)
        return _exprs(children)

    @_checked
    def int_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        tok = children[0]
        value = int(str(tok))
        if value > INT_MAX + 1:
            raise _Fail(f"integer literal `{tok}` is too large", tok.line, tok.column)
        lit = A.Literal(value, span=_tok_span(tok))
        if value > INT_MAX:
            self._pending_min[id(lit)] = lit
        return lit

    @_checked
    def str_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(self._string(children[0]), span=_tok_span(children[0]))

    @_checked
    def true_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(True, span=_tok_span(children[0]))

    @_checked
    def false_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(False, span=_tok_span(children[0]))

    def name(self, meta: Any, children: list[Any]) -> tuple[str, Token]:
        if len(children) == 1:
            return (self._ident(children[0], "part of a name"), children[0])
        (prefix, first), _, tok = children
        return (f"{prefix}::{self._ident(tok, 'part of a name')}", first)

    @_checked
    def var(self, meta: Any, children: list[Any]) -> A.Expr:
        text, tok = children[0]
        if text not in VARIABLES:
            raise _Fail(f"invalid variable `{text}`", tok.line, tok.column)
        return A.Var(text, span=_tok_span(tok))

    @_checked
    def ref(self, meta: Any, children: list[Any]) -> A.Expr:
        (type_name, tok), _, string = children
        return A.Literal(EntityUID(type_name, self._string(string)), span=_tok_span(tok))

    def call(self, meta: Any, children: list[Any]) -> A.Expr:
        text, tok = children[0]
        if text in EXTENSION_FUNCTIONS:
            raise _Fail(f"extension function `{text}` is not supported", tok.line, tok.column)
        raise _Fail(f"`{text}` is not a valid function", tok.line, tok.column)

    @_checked
    def paren(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        (inner,) = _exprs(children)
        if id(inner) in self._pending_min:
            raise _Fail(f"integer literal `{INT_MAX + 1}` is too large", *_pos(meta))
        return inner

    @_checked
    def set_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        elements = next((c for c in children if isinstance(c, list)), [])
        if len(elements) > self.limits.max_set_size:
            raise _Fail(
                f"set literal has more than {self.limits.max_set_size} elements", *_pos(meta)
            )
        return A.SetExpr(tuple(elements), span=_span(meta))

    def rec_init(self, meta: Any, children: list[Any]) -> tuple[str, A.Expr, Token]:
        self._no_slot(children)
        key_tok = children[0]
        if key_tok.type == "STRING":
            key = self._string(key_tok)
        else:
            key = self._ident(key_tok, "a record key")
        return (key, children[-1], key_tok)

    @_checked
    def record_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        inits = [c for c in children if isinstance(c, tuple)]
        if len(inits) > self.limits.max_record_size:
            raise _Fail(
                f"record literal has more than {self.limits.max_record_size} fields", *_pos(meta)
            )
        seen: set[str] = set()
        for key, _, tok in inits:
            if key in seen:
                raise _Fail(f"duplicate key `{key}` in record literal", tok.line, tok.column)
            seen.add(key)
        return A.RecordExpr(tuple((k, e) for k, e, _ in inits), span=_span(meta))


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    parts: list[str] = []
    if len(names & _EXPR_START) >= 5:
        names -= _EXPR_START
        parts.append("an expression")
    parts.extend(sorted(_TERMINAL_TEXT.get(n, n) for n in names if not n.startswith("__")))
    if not parts:
        return ""
    if len(parts) == 1:
        return f", expected {parts[0]}"
    return ", expected one of " + ", ".join(parts)


def _location(path: str, lines: list[str], line: int | None, column: int | None) -> SourceLocation:
    line = line or 1
    column = column or 1
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    return SourceLocation(path, line, column, source_line)


def _lark_error(exc: UnexpectedInput, path: str, lines: list[str]) -> PolicyError:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            what = "unexpected end of input"
            line, column = _end_position(lines)
        else:
            what = f"unexpected `{_clip(str(tok))}`"
            line, column = exc.line, exc.column
        return PolicyError(
            what + _describe_expected(set(exc.expected)), _location(path, lines, line, column)
        )
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        msg = "unterminated string literal" if char == '"' else f"unexpected character `{char}`"
        return PolicyError(msg, _location(path, lines, exc.line, exc.column))
    if isinstance(exc, UnexpectedEOF):
        line, column = _end_position(lines)
        return PolicyError("unexpected end of input", _location(path, lines, line, column))
    return PolicyError("invalid policy syntax", _location(path, lines, exc.line, exc.column))


def _end_position(lines: list[str]) -> tuple[int, int]:
    if not lines:
        return 1, 1
    return len(lines), len(lines[-1]) + 1


def _clip(text: str, limit: int = 40) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_unicode(text: str, path: str = "<policies>") -> None:
    """PolicyError at the first lone surrogate in policy text (UTF-8 cannot hold one)."""
    at = first_surrogate(text)
    if at is None:
        return
    line = text.count("\n", 0, at) + 1
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    shown = text[start : len(text) if end < 0 else end]
    # The caret line must stay printable: surrogates are shown as U+FFFD.
    shown = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in shown)
    location = SourceLocation(path, line, at - start + 1, shown)
    raise PolicyError(surrogate_message(text, at), location)


def parse_policies(
    text: str, path: str = "<policies>", limits: Limits = DEFAULT_LIMITS
) -> tuple[A.Policy, ...]:
    """Parse a policy file into policies with their ids, or raise PolicyError."""
    if not isinstance(text, str):
        raise PolicyError(f"policy source must be a string, got `{type(text).__name__}`")
    lines = text.split("\n")
    if len(text) > limits.max_source_length:
        raise PolicyError(
            f"policy source is longer than {limits.max_source_length} characters",
            _location(path, lines, 1, 1),
        )
    check_unicode(text, path)
    try:
        tree = _get_parser().parse(text)
    except UnexpectedInput as exc:
        raise _lark_error(exc, path, lines) from None
    try:
        drafts: list[_PolicyDraft] = _ToAst(limits).transform(tree)
    except VisitError as exc:
        orig = exc.orig_exc
        if isinstance(orig, _Fail):
            raise PolicyError(
                orig.message, _location(path, lines, orig.line, orig.column)
            ) from None
        raise PolicyError(
            f"internal error while reading policies: {type(orig).__name__}: {orig}",
            _location(path, lines, 1, 1),
        ) from orig
    if len(drafts) > limits.max_policies:
        raise PolicyError(
            f"policy set has more than {limits.max_policies} policies",
            _location(path, lines, 1, 1),
        )
    return _assign_ids(drafts, path, lines)


def _assign_ids(drafts: list[_PolicyDraft], path: str, lines: list[str]) -> tuple[A.Policy, ...]:
    policies: list[A.Policy] = []
    first_use: dict[str, A.Span | None] = {}
    for index, draft in enumerate(drafts):
        annotations = {key: value for key, value, _ in draft.annotations}
        span = draft.span
        if "id" in annotations:
            pid = annotations["id"]
            tok = next(t for k, _, t in draft.annotations if k == "id")
            if not pid:
                raise PolicyError(
                    '`@id` needs a non-empty string, such as `@id("allow-read")`',
                    _location(path, lines, tok.line, tok.column),
                )
            span_for_error = A.Span(tok.line, tok.column) if tok.line and tok.column else span
        else:
            pid = f"policy{index}"
            span_for_error = span
        if pid in first_use:
            first = first_use[pid]
            where = f" (first used at {first})" if first else ""
            line, column = (
                (span_for_error.line, span_for_error.column) if span_for_error else (None, None)
            )
            raise PolicyError(
                f"duplicate policy id `{pid}`{where}", _location(path, lines, line, column)
            )
        first_use[pid] = span_for_error
        principal, action, resource = draft.scope
        policies.append(
            A.Policy(
                id=pid,
                effect=draft.effect,
                principal=principal,
                action=action,
                resource=resource,
                conditions=draft.conditions,
                annotations=tuple((k, v) for k, v, _ in draft.annotations),
                span=span,
            )
        )
    return tuple(policies)


_NAME = r"[_a-zA-Z][_a-zA-Z0-9]*"
_UID = re.compile(rf"\s*({_NAME}(?:\s*::\s*{_NAME})*)\s*::\s*\"((?:[^\"\\]|\\.)*)\"\s*", re.S)
_TYPE_NAME = re.compile(rf"{_NAME}(?:::{_NAME})*")


def parse_entity_uid(text: str) -> EntityUID:
    """Parse ``Type::"id"`` (the request's string form); raises ValueError with a message."""
    match = _UID.fullmatch(text)
    if match is None:
        raise ValueError(f'`{_clip(text)}` is not an entity uid such as `User::"alice"`')
    type_name = re.sub(r"\s+", "", match.group(1))
    chars = unescape(match.group(2))
    return EntityUID(type_name, "".join(c for c in chars if c is not None))


def is_type_name(text: str) -> bool:
    """Whether ``text`` is a valid entity type name such as ``User`` or ``A::B``."""
    return _TYPE_NAME.fullmatch(text) is not None
