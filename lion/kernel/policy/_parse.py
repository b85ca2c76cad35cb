"""Policy text -> typed AST (``_ast``), via lark's LALR parser and a non-recursive transformer.

No lark object leaves this module: callers get ``Policy`` values or a
``PolicyError`` pointing at file:line:col with a caret and what was expected.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any, Literal, cast

from lark import Lark, Token, v_args
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
from lion.kernel.policy._parse_expr import RESERVED, ExprMixin, Fail, exprs, tok_span, toks
from lion.kernel.policy._parse_text import (
    check_unicode,
    clip,
    is_type_name,
    parse_entity_uid,
    unescape,
)
from lion.kernel.policy._values import INT_MAX, EntityUID

__all__ = [
    "RESERVED",
    "check_unicode",
    "is_type_name",
    "parse_entity_uid",
    "parse_policies",
    "unescape",
]

_SLOT_OF = {"principal": "?principal", "resource": "?resource"}

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
class _ToAst(ExprMixin):
    """Lark parse tree -> AST. Runs iteratively, so deep input cannot overflow the stack."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits
        self._pending_min: dict[int, A.Literal] = {}  # literals equal to 2**63 awaiting a `-`

    def start(self, meta: Any, children: list[Any]) -> list[_PolicyDraft]:
        return [c for c in children if isinstance(c, _PolicyDraft)]

    def policy(self, meta: Any, children: list[Any]) -> _PolicyDraft:
        if self._pending_min:
            lit = next(iter(self._pending_min.values()))
            line, col = (lit.span.line, lit.span.column) if lit.span else (None, None)
            raise Fail(f"integer literal `{INT_MAX + 1}` is too large", line, col)
        annotations = [c for c in children if isinstance(c, tuple) and isinstance(c[0], str)]
        seen: set[str] = set()
        for key, _, tok in annotations:
            if key in seen:
                raise Fail(f"duplicate annotation `@{key}`", tok.line, tok.column)
            seen.add(key)
        effect_tok = toks(children, "EFFECT")[0]
        scope = next(
            c
            for c in children
            if isinstance(c, tuple) and len(c) == 3 and isinstance(c[0], A.Scope)
        )
        conditions = tuple(c for c in children if isinstance(c, A.Condition))
        return _PolicyDraft(
            annotations, A.Effect(str(effect_tok)), scope, conditions, tok_span(effect_tok)
        )

    def annotation(self, meta: Any, children: list[Any]) -> tuple[str, str, Token]:
        key_tok = toks(children, "IDENT")[0]
        strings = toks(children, "STRING")
        value = self._string(strings[0]) if strings else ""
        return (str(key_tok), value, key_tok)

    def scope(self, meta: Any, children: list[Any]) -> tuple[A.Scope, A.Scope, A.Scope]:
        items: list[_ScopeItem] = [c for c in children if isinstance(c, tuple)]
        result = []
        for expected, (name, tok, scope, op_tok) in zip(
            ("principal", "action", "resource"), items, strict=True
        ):
            if name != expected:
                raise Fail(
                    f"expected the variable `{expected}` in the policy scope, found `{name}`",
                    tok.line,
                    tok.column,
                )
            if expected == "action" and scope.op in ("is", "is_in"):
                assert op_tok is not None
                raise Fail("`is` cannot appear in the action scope", op_tok.line, op_tok.column)
            if expected == "action":
                for uid in scope.entities:
                    if uid.type != "Action" and not uid.type.endswith("::Action"):
                        assert op_tok is not None
                        raise Fail(
                            f"the action scope takes uids of type `Action`, got `{uid}`",
                            op_tok.line,
                            op_tok.column,
                        )
            result.append(scope)
        return (result[0], result[1], result[2])

    def _target(
        self, var: Token, target: Any, op_tok: Token, many_ok: bool
    ) -> tuple[tuple[EntityUID, ...], str | None]:
        """The uids of a scope's right-hand side, or its template slot."""
        if isinstance(target, Token) and target.type == "SLOT":
            wanted = _SLOT_OF.get(str(var))
            if wanted is None:
                raise Fail(
                    f"the {var} scope takes an entity uid, not a template slot such as `{target}`",
                    target.line,
                    target.column,
                )
            if str(target) != wanted:
                raise Fail(
                    f"expected an entity uid or the template slot `{wanted}`, found `{target}`",
                    target.line,
                    target.column,
                )
            return (), wanted
        if isinstance(target, list):
            if not many_ok:
                raise Fail(
                    f"`{op_tok}` takes a single entity uid, not a list", op_tok.line, op_tok.column
                )
            return tuple(target), None
        assert isinstance(target, A.Literal)
        assert isinstance(target.value, EntityUID)
        return (target.value,), None

    def scope_all(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok = children[0]
        return (str(tok), tok, A.Scope(), None)

    def scope_eq(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, target = children
        uids, slot = self._target(tok, target, op, False)
        return (str(tok), tok, A.Scope("==", None, uids, slot), op)

    def scope_in(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, target = children
        many_ok = str(tok) == "action"  # only the action scope takes a list
        uids, slot = self._target(tok, target, op, many_ok)
        return (str(tok), tok, A.Scope("in", None, uids, slot), op)

    def scope_is(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, name = children
        return (str(tok), tok, A.Scope("is", name[0], ()), op)

    def scope_is_in(self, meta: Any, children: list[Any]) -> _ScopeItem:
        tok, op, name, in_tok, target = children
        uids, slot = self._target(tok, target, in_tok, False)
        return (str(tok), tok, A.Scope("is_in", name[0], uids, slot), op)

    def slot(self, meta: Any, children: list[Any]) -> Token:
        # Passed up as a token: the parent reports it with the right context.
        return cast(Token, children[0])

    def ref_list(self, meta: Any, children: list[Any]) -> list[EntityUID]:
        return [
            c.value for c in children if isinstance(c, A.Literal) and isinstance(c.value, EntityUID)
        ]

    def condition(self, meta: Any, children: list[Any]) -> A.Condition:
        kw = children[0]
        found = exprs(children)
        self._no_slot(children)
        if not found:
            raise Fail(f"`{kw}` condition clause cannot be empty", kw.line, kw.column)
        return A.Condition(cast(Literal["when", "unless"], str(kw)), found[0])


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
            what = f"unexpected `{clip(str(tok))}`"
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
        if isinstance(orig, Fail):
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
