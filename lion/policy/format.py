"""The canonical pretty-printer for Cedar-syntax policies: ``format_policies``.

The output depends only on the parsed policies (and the comments, below), so
formatting is a fixed point, and reading the output gives back the same
policies (the same AST, ignoring source positions)::

    from lion.policy.format import format_policies

    format_policies('permit(principal==User::"a",action,resource) when {(1+2)*3==9};')
    # 'permit (principal == User::"a", action, resource) when { (1 + 2) * 3 == 9 };\\n'

The layout rule, with lines of at most 80 columns where the tokens allow:

- one blank line between policies; each annotation on its own line;
- a policy fits on one line, or else each condition starts its own line; the
  scope fits on the policy's line, or else it is written one constraint per
  line, indented by two; a condition fits on its line, or else its
  expression moves inside the braces, indented by two;
- an expression that does not fit breaks at its outermost operator first:
  after each ``&&`` / ``||`` of a chain, before ``then`` and ``else``, after
  a comparison or arithmetic operator, and between the elements of a set,
  record or argument list (one per line);
- parentheses only where precedence needs them; ``a.b`` unless ``b`` is not
  an identifier (then ``a["b"]``); strings are escaped the one way the
  evaluator prints them; ``action in A`` for a one-element action list.

Comments (``// ...``) are kept: a comment before a policy stays before it
(with a blank line after it kept), one after a policy's ``;`` on the same
line stays there, one at the end of the file stays at the end, and a comment
inside a policy moves to just above the policy (its place inside an
expression has no stable meaning once the expression is re-laid out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from lion.errors import PolicyError
from lion.kernel.policy import _ast as A
from lion.kernel.policy._parse import RESERVED, parse_policies
from lion.kernel.policy._values import EntityUID, escape_string

__all__ = ["WIDTH", "format_policies", "format_policy"]

WIDTH = 80
INDENT = 2
_MAX_RUN = 4  # Cedar refuses more than four `!` or `-` in a row

# -- documents (Wadler's "prettier printer", iterative) ------------------------------

# A document is a tuple: ("t", text) | ("l",) a space or a newline | ("s",) nothing or a
# newline | ("n", indent, doc) | ("g", doc) a group, flat if it fits | ("c", docs).
Doc = tuple[Any, ...]
_LINE: Doc = ("l",)
_SOFT: Doc = ("s",)
_FLAT, _BREAK = 0, 1


def _t(text: str) -> Doc:
    return ("t", text)


def _c(*docs: Doc | str) -> Doc:
    return ("c", tuple(_t(d) if isinstance(d, str) else d for d in docs))


def _nest(doc: Doc, indent: int = INDENT) -> Doc:
    return ("n", indent, doc)


def _group(doc: Doc) -> Doc:
    return ("g", doc)


def _fits(room: int, item: tuple[int, int, Doc], rest: list[tuple[int, int, Doc]]) -> bool:
    """Whether ``item`` (flat) and what follows it, up to the next line break, fit in ``room``."""
    todo = [item]
    index = len(rest)
    while room >= 0:
        if not todo:
            if index == 0:
                return True
            index -= 1
            todo.append(rest[index])
        indent, mode, doc = todo.pop()
        kind = doc[0]
        if kind == "t":
            room -= len(doc[1])
        elif kind == "c":
            todo.extend((indent, mode, d) for d in reversed(doc[1]))
        elif kind == "n":
            todo.append((indent + doc[1], mode, doc[2]))
        elif kind == "g":
            todo.append((indent, mode, doc[1]))
        elif mode == _BREAK:
            return True  # a line break ends the line being measured
        else:
            room -= 1 if kind == "l" else 0
    return False


def _render(doc: Doc, width: int = WIDTH, column: int = 0) -> str:
    out: list[str] = []
    stack: list[tuple[int, int, Doc]] = [(0, _BREAK, doc)]
    while stack:
        indent, mode, d = stack.pop()
        kind = d[0]
        if kind == "t":
            out.append(d[1])
            column += len(d[1])
        elif kind == "c":
            stack.extend((indent, mode, x) for x in reversed(d[1]))
        elif kind == "n":
            stack.append((indent + d[1], mode, d[2]))
        elif kind == "g":
            flat = mode == _FLAT or _fits(width - column, (indent, _FLAT, d[1]), stack)
            stack.append((indent, _FLAT if flat else _BREAK, d[1]))
        elif mode == _FLAT:
            if kind == "l":
                out.append(" ")
                column += 1
        else:
            out.append("\n" + " " * indent)
            column = indent
    return "".join(out)


# -- expressions --------------------------------------------------------------------

# Precedence levels of the grammar, loosest first: an operand printed at a level
# below the one its position needs is parenthesised.
_IF, _OR, _AND, _REL, _ADD, _MUL, _UNARY, _MEMBER = range(8)
_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_LEVEL = {"+": _ADD, "-": _ADD, "*": _MUL}


def is_identifier(name: str) -> bool:
    """Whether ``name`` can be written bare (``a.name``, ``has name``, ``{name: 1}``)."""
    return (
        _IDENT.fullmatch(name) is not None
        and name not in RESERVED
        and not name.startswith("__cedar")
    )


def _key(name: str) -> str:
    return name if is_identifier(name) else escape_string(name)


def _has_path(e: A.And | A.Or) -> tuple[A.Expr, list[str]] | None:
    """``e has a.b.c``: the parser's expansion ``e has a && e.a has b && e.a.b has c``."""
    if not isinstance(e, A.And) or not isinstance(e.args[0], A.HasAttr):
        return None
    obj = e.args[0].obj
    attrs: list[str] = []
    target = obj
    for index, arg in enumerate(e.args):
        if index:
            target = A.GetAttr(target, attrs[-1])
        if (
            not isinstance(arg, A.HasAttr)
            or repr(arg.obj) != repr(target)  # `==` would take `true` for `1`
            or not is_identifier(arg.attr)
        ):
            return None
        attrs.append(arg.attr)
    return obj, attrs


def _seq(open_: str, items: Sequence[Doc], close: str) -> Doc:
    """``[a, b]``, or one item per line, indented, when it does not fit."""
    if not items:
        return _t(open_ + close)
    body: list[Doc] = [_SOFT]
    for index, item in enumerate(items):
        if index:
            body += [_t(","), _LINE]
        body.append(item)
    return _group(_c(open_, _nest(_c(*body)), _SOFT, close))


def _paren(doc: Doc) -> Doc:
    return _group(_c("(", _nest(_c(_SOFT, doc)), _SOFT, ")"))


class _Printer:
    def expr(self, e: A.Expr) -> tuple[Doc, int]:
        """The document of ``e`` and the precedence level it is printed at."""
        if isinstance(e, A.Literal):
            return self._literal(e.value)
        if isinstance(e, A.Var):
            return _t(e.name), _MEMBER
        if isinstance(e, A.Or | A.And):
            op, level = (" ||", _OR) if isinstance(e, A.Or) else (" &&", _AND)
            path = _has_path(e)
            if path is not None:
                obj, attrs = path
                return _c(self.at(obj, _ADD), " has ", ".".join(attrs)), _REL
            parts: list[Doc] = []
            for index, arg in enumerate(e.args):
                # A nested chain of the same kind keeps its parentheses: the parser splices
                # only a first-place one, so either way the AST is kept exactly.
                need = level + 1 if isinstance(arg, type(e)) else level
                if index:
                    parts += [_t(op), _LINE]
                doc, arg_level = self.expr(arg)
                if arg_level < need:
                    doc = _paren(doc)
                elif arg_level < _REL:
                    doc = _nest(doc)  # an inner chain's continuation lines go one step in
                parts.append(doc)
            return _group(_c(*parts)), level
        if isinstance(e, A.IfThenElse):
            doc = _c(
                "if ",
                self.at(e.cond, _IF),
                _nest(_c(_LINE, "then ", self.at(e.then, _IF))),
                _nest(_c(_LINE, "else ", self.at(e.else_, _IF))),
            )
            return _group(doc), _IF
        if isinstance(e, A.BinaryOp):
            if e.op in _LEVEL:  # left-associative: the right operand binds tighter
                level = _LEVEL[e.op]
                left, right = self.at(e.left, level), self.at(e.right, level + 1)
            else:
                level = _REL
                left, right = self.at(e.left, _ADD), self.at(e.right, _ADD)
            return _group(_c(left, f" {e.op}", _nest(_c(_LINE, right)))), level
        if isinstance(e, A.HasAttr):
            return _c(self.at(e.obj, _ADD), f" has {_key(e.attr)}"), _REL
        if isinstance(e, A.Like):
            return _c(self.at(e.arg, _ADD), f' like "{e.pattern}"'), _REL
        if isinstance(e, A.IsType):
            doc = _c(self.at(e.arg, _ADD), f" is {e.entity_type}")
            if e.in_ is not None:
                doc = _group(_c(doc, " in", _nest(_c(_LINE, self.at(e.in_, _ADD)))))
            return doc, _REL
        if isinstance(e, A.Not | A.Neg):
            return self._unary(e), _UNARY
        if isinstance(e, A.GetAttr):
            target = self.at(e.obj, _MEMBER)
            if is_identifier(e.attr):
                return _c(target, "." + e.attr), _MEMBER
            return _c(target, f"[{escape_string(e.attr)}]"), _MEMBER
        if isinstance(e, A.MethodCall):
            args = [self.at(a, _IF) for a in e.args]
            return _c(self.at(e.obj, _MEMBER), "." + e.method, _seq("(", args, ")")), _MEMBER
        if isinstance(e, A.SetExpr):
            return _seq("[", [self.at(x, _IF) for x in e.elements], "]"), _MEMBER
        if isinstance(e, A.RecordExpr):
            fields = [_c(_key(k) + ": ", self.at(v, _IF)) for k, v in e.fields]
            return _seq("{", fields, "}"), _MEMBER
        ext_call = getattr(A, "ExtCall", None)
        if ext_call is not None and isinstance(e, ext_call):
            args = [self.at(a, _IF) for a in e.args]
            return _c(str(e.name), _seq("(", args, ")")), _MEMBER
        raise PolicyError(f"cannot format the expression node `{type(e).__name__}`")

    def at(self, e: A.Expr, need: int) -> Doc:
        """``e`` printed where the grammar needs level ``need``: in parentheses if looser."""
        doc, level = self.expr(e)
        return doc if level >= need else _paren(doc)

    @staticmethod
    def _literal(value: bool | int | str | EntityUID) -> tuple[Doc, int]:
        if value is True or value is False:
            return _t("true" if value else "false"), _MEMBER
        if isinstance(value, int):
            # `-5` is read back as one literal, but binds like a unary minus
            return _t(str(value)), (_UNARY if value < 0 else _MEMBER)
        if isinstance(value, str):
            return _t(escape_string(value)), _MEMBER
        return _t(str(value)), _MEMBER

    def _unary(self, e: A.Not | A.Neg) -> Doc:
        kind = type(e)
        sign = "!" if kind is A.Not else "-"
        count, inner = 0, cast(A.Expr, e)
        while isinstance(inner, A.Not | A.Neg) and type(inner) is kind and count < _MAX_RUN:
            count += 1
            inner = inner.arg
        # `--5` is `-` applied to the literal `-5`: its sign joins the run if there is room
        if (
            kind is A.Neg
            and isinstance(inner, A.Literal)
            and type(inner.value) is int
            and inner.value < 0
            and count < _MAX_RUN
        ):
            return _t(sign * count + str(inner.value))
        return _c(sign * count, self.at(inner, _MEMBER))


# -- policies -----------------------------------------------------------------------


def _scope(var: str, scope: A.Scope) -> str:
    slot = getattr(scope, "slot", None)
    if scope.op == "all":
        return var
    if scope.op == "is":
        return f"{var} is {scope.entity_type}"
    if slot is not None:
        target = str(slot)
    elif var == "action" and scope.op == "in" and len(scope.entities) != 1:
        target = "[" + ", ".join(map(str, scope.entities)) + "]"
    else:
        target = str(scope.entities[0])
    if scope.op == "is_in":
        return f"{var} is {scope.entity_type} in {target}"
    return f"{var} {scope.op} {target}"


def _policy_doc(policy: A.Policy) -> Doc:
    printer = _Printer()
    scopes = [
        _scope("principal", policy.principal),
        _scope("action", policy.action),
        _scope("resource", policy.resource),
    ]
    head = _group(
        _c(
            f"{policy.effect} (",
            _nest(_c(_SOFT, scopes[0], ",", _LINE, scopes[1], ",", _LINE, scopes[2])),
            _SOFT,
            ")",
        )
    )
    parts: list[Doc] = [head]
    for cond in policy.conditions:
        body = printer.at(cond.expr, _IF)
        parts += [_LINE, _group(_c(cond.kind + " {", _nest(_c(_LINE, body)), _LINE, "}"))]
    parts.append(_t(";"))
    return _group(_c(*parts))


def _annotation(key: str, value: str) -> str:
    return f"@{key}({escape_string(value)})" if value else f"@{key}"


def format_policy(policy: A.Policy, width: int = WIDTH) -> str:
    """One policy in canonical form (annotations included), without a final newline."""
    lines = [_annotation(k, v) for k, v in policy.annotations]
    lines.append(_render(_policy_doc(policy), width))
    return "\n".join(lines)


# -- comments -----------------------------------------------------------------------


@dataclass
class _Comment:
    text: str
    blank_after: bool  # a blank line separates it from what follows


@dataclass
class _Comments:
    leading: list[list[_Comment]]  # per policy, in order: before it, then hoisted from inside
    trailing: list[str | None]  # per policy: the comment after its `;` on the same line
    tail: list[_Comment]  # after the last policy


def _comments(text: str, count: int) -> _Comments:
    """Find the comments of parsed policy text and whom they belong to.

    The text parsed, so a plain scan is exact: strings are skipped, every `;`
    outside a string or comment ends a policy, and `//` starts a comment.
    """
    found = _Comments([[] for _ in range(count)], [None] * count, [])
    inner: list[list[_Comment]] = [[] for _ in range(count)]
    index, n, policy, seen_token = 0, len(text), 0, False
    last_semi = -1
    while index < n:
        ch = text[index]
        if ch == '"':
            index += 1
            while index < n and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            index += 1
            seen_token = True
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = n if end < 0 else end
            body = text[index:end].rstrip()
            after = re.compile(r"\s*").match(text, end)
            gap = text[end : after.end() if after else end]
            blank = gap.count("\n") >= 2 and after is not None and after.end() < n
            comment = _Comment(body, blank)
            between = text[last_semi + 1 : index] if last_semi >= 0 else None
            if (
                between is not None
                and "\n" not in between
                and not between.strip()
                and policy > 0
                and found.trailing[policy - 1] is None
            ):
                found.trailing[policy - 1] = body
            elif policy >= count:
                found.tail.append(comment)
            elif seen_token:
                inner[policy].append(_Comment(body, False))
            else:
                found.leading[policy].append(comment)
            index = end
        elif ch == ";":
            last_semi = index
            policy += 1
            seen_token = False
            index += 1
        else:
            if not ch.isspace():
                seen_token = True
            index += 1
    for leading, hoisted in zip(found.leading, inner, strict=True):
        leading.extend(hoisted)
    return found


def _comment_lines(comments: Iterable[_Comment]) -> list[str]:
    lines: list[str] = []
    for comment in comments:
        lines.append(comment.text)
        if comment.blank_after:
            lines.append("")
    return lines


# -- the entry point ----------------------------------------------------------------


def _policies_of(source: Any, links: bool) -> tuple[A.Policy, ...]:
    """The policies of a PolicySet: static ones (and links, if asked) with their ids, then
    templates."""
    policies: list[A.Policy] = []
    for policy in getattr(source, "policies", source):
        if not isinstance(policy, A.Policy):
            raise PolicyError(f"expected policy text or a PolicySet, got `{type(source).__name__}`")
        if getattr(policy, "template", None) is not None and not links:
            continue  # a link is data (template-links JSON), not policy text
        policies.append(policy)
    template_ids = getattr(source, "templates", ())
    get_template = getattr(source, "template", None)
    if callable(get_template):
        for tid in template_ids:
            template = get_template(tid)
            if isinstance(template, A.Policy):
                policies.append(template)
    # Keep every id: a policy whose id would not be assigned again gets an `@id`.
    kept: list[A.Policy] = []
    for index, policy in enumerate(policies):
        annotated = dict(policy.annotations).get("id")
        if annotated != policy.id and policy.id != f"policy{index}":
            annotations = (("id", policy.id), *((k, v) for k, v in policy.annotations if k != "id"))
            policy = A.Policy(
                id=policy.id,
                effect=policy.effect,
                principal=policy.principal,
                action=policy.action,
                resource=policy.resource,
                conditions=policy.conditions,
                annotations=annotations,
            )
        kept.append(policy)
    return tuple(kept)


def format_policies(
    source: Any, path: str = "<policies>", width: int = WIDTH, *, links: bool = False
) -> str:
    """Format policy text (or a PolicySet, or Policy values) canonically.

    Text is parsed first (PolicyError with file:line:col if it does not
    parse) and its comments are kept as the module docstring says. The result
    ends with a newline unless there is nothing to print.

    A PolicySet's linked policies are data (template-links JSON), so they are
    left out, unless ``links``: then each is written as the static policy it
    stands for, under its own id, so the text decides every request as the set does.
    """
    if isinstance(source, str):
        policies = parse_policies(source, path)
        comments = _comments(source, len(policies))
    else:
        policies = _policies_of(source, links)
        comments = _Comments([[] for _ in policies], [None] * len(policies), [])
    blocks: list[str] = []
    for index, policy in enumerate(policies):
        lines = _comment_lines(comments.leading[index])
        lines.append(format_policy(policy, width))
        trailing = comments.trailing[index]
        if trailing is not None:
            lines[-1] += " " + trailing
        blocks.append("\n".join(lines))
    if comments.tail:
        tail = _comment_lines(comments.tail)
        while tail and tail[-1] == "":
            tail.pop()
        blocks.append("\n".join(tail))
    return "\n\n".join(blocks) + "\n" if blocks else ""
