"""The expression half of the parse-tree -> AST transformer (a mixin of ``_parse._ToAst``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, cast

from lark import Token, Transformer_NonRecursive, v_args

from lion.kernel.policy import _ast as A
from lion.kernel.policy._extensions import CONSTRUCTORS, METHODS
from lion.kernel.policy._limits import Limits
from lion.kernel.policy._parse_text import unescape
from lion.kernel.policy._values import INT_MAX, EntityUID

__all__ = ["RESERVED", "ExprMixin", "Fail", "exprs", "tok_span", "toks"]

RESERVED = frozenset({"true", "false", "if", "then", "else", "in", "is", "like", "has"})
VARIABLES = frozenset({"principal", "action", "resource", "context"})
METHOD_ARITY: dict[str, int] = {
    "contains": 1,
    "containsAll": 1,
    "containsAny": 1,
    "isEmpty": 0,
    "hasTag": 1,
    "getTag": 1,
}
MAX_UNARY_REPEAT = 4  # Cedar rejects more than four `!` or `-` in a row


class Fail(Exception):
    """A parse error found by the transformer, turned into a PolicyError by the caller."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


_F = TypeVar("_F", bound=Callable[..., Any])


def _checked(fn: _F) -> _F:
    """Check the depth limit on every expression node a callback builds."""

    @wraps(fn)
    def wrapper(self: Any, meta: Any, children: list[Any]) -> Any:
        node = fn(self, meta, children)
        if isinstance(node, A.Expr) and node.depth > self.limits.max_depth:
            raise Fail(
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


def tok_span(tok: Token) -> A.Span | None:
    if tok.line is None or tok.column is None:
        return None
    return A.Span(tok.line, tok.column)


def toks(children: Sequence[Any], kind: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == kind]


def exprs(children: Sequence[Any]) -> list[A.Expr]:
    return [c for c in children if isinstance(c, A.Expr)]


def _chain(operands: list[A.Expr], kind: type[A.And | A.Or]) -> tuple[A.Expr, ...]:
    """The operands of one flat chain; a parenthesised chain of the same kind in
    first place is spliced in, as the Rust core does (`(a && b) && c` has three)."""
    first = operands[0]
    if isinstance(first, kind):
        return (*first.args, *operands[1:])
    return tuple(operands)


@v_args(meta=True)
class ExprMixin(Transformer_NonRecursive):  # type: ignore[type-arg]
    """Callbacks for expressions; ``_parse._ToAst`` adds those of policies and scopes."""

    limits: Limits
    _pending_min: dict[int, A.Literal]

    # -- strings ---------------------------------------------------------------

    def _string(self, tok: Token) -> str:
        try:
            chars = unescape(str(tok)[1:-1])
        except ValueError as exc:
            raise Fail(str(exc), tok.line, tok.column) from None
        text = "".join(c for c in chars if c is not None)
        if len(text) > self.limits.max_string_length:
            raise Fail(
                f"string literal is longer than {self.limits.max_string_length} characters",
                tok.line,
                tok.column,
            )
        return text

    def _ident(self, tok: Token, what: str) -> str:
        name = str(tok)
        if name in RESERVED or name.startswith("__cedar"):
            raise Fail(
                f"`{name}` is a reserved identifier and cannot be {what}", tok.line, tok.column
            )
        return name

    # -- policies --------------------------------------------------------------

    # -- expressions -----------------------------------------------------------

    def _no_slot(self, children: Sequence[Any]) -> None:
        for c in children:
            if isinstance(c, Token) and c.type == "SLOT":
                raise Fail(
                    f"the template slot `{c}` can appear only in the principal or resource scope",
                    c.line,
                    c.column,
                )

    @_checked
    def if_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        c, t, e = exprs(children)
        return A.IfThenElse(c, t, e, span=_span(meta))

    @_checked
    def or_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        return A.Or(_chain(exprs(children), A.Or), span=_span(meta))

    @_checked
    def and_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        return A.And(_chain(exprs(children), A.And), span=_span(meta))

    @_checked
    def compare(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp(str(op), left, right, span=tok_span(op))  # type: ignore[arg-type]

    @_checked
    def arith(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp(str(op), left, right, span=tok_span(op))  # type: ignore[arg-type]

    @_checked
    def in_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        left, op, right = children
        return A.BinaryOp("in", left, right, span=tok_span(op))

    def has_path(self, meta: Any, children: list[Any]) -> list[str]:
        strings = toks(children, "STRING")
        if strings:
            return [self._string(strings[0])]
        return [self._ident(t, "an attribute name") for t in toks(children, "IDENT")]

    @_checked
    def has_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj, op, path = children
        span = tok_span(op)
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
            raise Fail(str(exc), tok.line, tok.column) from None
        if len(chars) > self.limits.max_string_length:
            raise Fail(
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
        return A.Like(arg, A.Pattern(tuple(chunks)), span=tok_span(op))

    @_checked
    def is_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        arg, op, name = children
        return A.IsType(arg, name[0], span=tok_span(op))

    @_checked
    def is_in_expr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        arg, op, name, _, target = children
        return A.IsType(arg, name[0], target, span=tok_span(op))

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
            raise Fail(f"too many occurrences of `{op}` in a row", ops[0].line, ops[0].column)
        for tok in reversed(ops):
            span = tok_span(tok)
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
        return A.GetAttr(obj, self._ident(tok, "an attribute name"), span=tok_span(tok))

    @_checked
    def index_attr(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj = children[0]
        tok = toks(children, "STRING")[0]
        return A.GetAttr(obj, self._string(tok), span=tok_span(tok))

    @_checked
    def method_call(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        obj = children[0]
        tok = toks(children, "IDENT")[0]
        args = next((c for c in children if isinstance(c, list)), [])
        name = str(tok)
        if name in METHODS:
            # The arity is checked when it runs, as Cedar does (an evaluation error).
            return A.MethodCall(obj, cast(A.MethodName, name), tuple(args), span=tok_span(tok))
        if name in CONSTRUCTORS:
            raise Fail(f"`{name}` is a function, not a method", tok.line, tok.column)
        if name not in METHOD_ARITY:
            raise Fail(f"`{name}` is not a valid method", tok.line, tok.column)
        if len(args) != METHOD_ARITY[name]:
            want = METHOD_ARITY[name]
            raise Fail(
                f"`{name}` takes {want} argument{'s' if want != 1 else ''}, got {len(args)}",
                tok.line,
                tok.column,
            )
        return A.MethodCall(obj, cast(A.MethodName, name), tuple(args), span=tok_span(tok))

    def args(self, meta: Any, children: list[Any]) -> list[A.Expr]:
        self._no_slot(children)
        return exprs(children)

    @_checked
    def int_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        tok = children[0]
        digits = str(tok).lstrip("0") or "0"
        # (Python's int() refuses thousands of digits, so a long literal is rejected first.)
        if len(digits) > 19 or int(digits) > INT_MAX + 1:
            text = str(tok) if len(str(tok)) <= 40 else str(tok)[:37] + "..."
            raise Fail(f"integer literal `{text}` is too large", tok.line, tok.column)
        value = int(digits)
        lit = A.Literal(value, span=tok_span(tok))
        if value > INT_MAX:
            self._pending_min[id(lit)] = lit
        return lit

    @_checked
    def str_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(self._string(children[0]), span=tok_span(children[0]))

    @_checked
    def true_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(True, span=tok_span(children[0]))

    @_checked
    def false_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        return A.Literal(False, span=tok_span(children[0]))

    def name(self, meta: Any, children: list[Any]) -> tuple[str, Token]:
        if len(children) == 1:
            return (self._ident(children[0], "part of a name"), children[0])
        (prefix, first), _, tok = children
        return (f"{prefix}::{self._ident(tok, 'part of a name')}", first)

    @_checked
    def var(self, meta: Any, children: list[Any]) -> A.Expr:
        text, tok = children[0]
        if text not in VARIABLES:
            raise Fail(f"invalid variable `{text}`", tok.line, tok.column)
        return A.Var(text, span=tok_span(tok))

    @_checked
    def ref(self, meta: Any, children: list[Any]) -> A.Expr:
        (type_name, tok), _, string = children
        return A.Literal(EntityUID(type_name, self._string(string)), span=tok_span(tok))

    @_checked
    def call(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        text, tok = children[0]
        args = next((c for c in children if isinstance(c, list)), [])
        if text in CONSTRUCTORS:
            # Any number of arguments parses; a wrong count is an evaluation error, as in Cedar.
            name = cast(A.ExtensionFunction, text)
            return A.ExtCall(name, tuple(args), span=tok_span(tok))
        if text in METHODS:
            raise Fail(f"`{text}` is a method, not a function", tok.line, tok.column)
        raise Fail(f"`{text}` is not a valid function", tok.line, tok.column)

    @_checked
    def paren(self, meta: Any, children: list[Any]) -> A.Expr:
        self._no_slot(children)
        (inner,) = exprs(children)
        if id(inner) in self._pending_min:
            raise Fail(f"integer literal `{INT_MAX + 1}` is too large", *_pos(meta))
        return inner

    @_checked
    def set_lit(self, meta: Any, children: list[Any]) -> A.Expr:
        elements = next((c for c in children if isinstance(c, list)), [])
        if len(elements) > self.limits.max_set_size:
            raise Fail(
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
            raise Fail(
                f"record literal has more than {self.limits.max_record_size} fields", *_pos(meta)
            )
        seen: set[str] = set()
        for key, _, tok in inits:
            if key in seen:
                raise Fail(f"duplicate key `{key}` in record literal", tok.line, tok.column)
            seen.add(key)
        return A.RecordExpr(tuple((k, e) for k, e, _ in inits), span=_span(meta))
