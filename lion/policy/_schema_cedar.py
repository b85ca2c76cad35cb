"""Cedar's human-readable schema form -> the JSON form (``_schema_json`` resolves it).

A lark LALR parser; no lark object leaves this module. Each declaration's
position is kept so the resolver's errors point at the right line.
"""

from __future__ import annotations

import threading
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from lion.errors import SchemaError, SourceLocation
from lion.kernel.policy._parse import unescape

__all__ = ["parse_cedar_schema"]

_GRAMMAR = r"""
start: item*
?item: namespace | decl
namespace: annotation* "namespace" path "{" decl* "}"
?decl: entity | enum_entity | action | typedecl
entity: annotation* "entity" idents entity_in? entity_shape? entity_tags? ";"
enum_entity: annotation* "entity" idents "enum" "[" STRING ("," STRING)* "]" ";"
entity_in: "in" ent_types
entity_shape: EQ? record_type
entity_tags: "tags" type
ent_types: path | "[" [path ("," path)*] "]"
action: annotation* "action" names action_in? applies_to? ";"
action_in: "in" refs
refs: ref | "[" [ref ("," ref)*] "]"
ref: qual_head STRING -> ref_qual
   | name -> ref_name
qual_head: (IDENT "::")+
applies_to: "appliesTo" "{" [app_decl ("," app_decl)* ","?] "}"
app_decl: PRINCIPAL ":" ent_types
        | RESOURCE ":" ent_types
        | CONTEXT ":" (path | record_type)
typedecl: annotation* "type" IDENT "=" type ";"
?type: path -> type_ref
     | "Set" "<" type ">" -> set_type
     | record_type
record_type: "{" [attr ("," attr)* ","?] "}"
attr: annotation* name QMARK? ":" type
name: IDENT | STRING
annotation: "@" IDENT ["(" STRING ")"]
idents: IDENT ("," IDENT)*
names: name ("," name)*
path: IDENT ("::" IDENT)*
EQ: "="
QMARK: "?"
PRINCIPAL: "principal"
RESOURCE: "resource"
CONTEXT: "context"
IDENT: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(\\.|[^"\\\n])*"/
COMMENT: /\/\/[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""

_RESERVED = frozenset({"true", "false", "if", "then", "else", "in", "is", "like", "has"})
_TERMINAL_TEXT = {
    "SEMICOLON": "`;`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "IDENT": "an identifier",
    "STRING": "a string",
    "EQ": "`=`",
    "LESSTHAN": "`<`",
    "MORETHAN": "`>`",
    "QMARK": "`?`",
    "AT": "`@`",
    "__ANON_0": "`::`",
}

_parser: Lark | None = None
_lock = threading.Lock()


def _get_parser() -> Lark:
    global _parser
    with _lock:
        if _parser is None:
            _parser = Lark(
                _GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True
            )
        return _parser


class _Fail(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def _at(node: Tree[Any] | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 1, node.column or 1
    return getattr(node.meta, "line", 1), getattr(node.meta, "column", 1)


def _string(tok: Any) -> str:
    try:
        chars = unescape(str(tok)[1:-1])
    except ValueError as exc:
        raise _Fail(f"invalid string literal: {exc}", *_at(tok)) from None
    return "".join(c for c in chars if c is not None)


def _ident(tok: Any) -> str:
    text = str(tok)
    if text in _RESERVED:
        raise _Fail(f"`{text}` is a reserved identifier", *_at(tok))
    return text


def _kids(tree: Tree[Any]) -> list[Any]:
    return [c for c in tree.children if c is not None]


class _Reader:
    """Walks the parse tree and writes the JSON form, remembering where each name is declared."""

    def __init__(self) -> None:
        self.json: dict[str, dict[str, Any]] = {}
        self.where: dict[tuple[str, ...], tuple[int, int]] = {}
        # attribute positions of the declaration being read, relative to it
        self.attr_at: list[tuple[tuple[str, ...], tuple[int, int]]] = []
        self.attr_path: tuple[str, ...] = ()

    def path(self, tree: Tree[Any]) -> str:
        return "::".join(_ident(t) for t in tree.children)

    def name(self, tree: Tree[Any]) -> str:
        tok: Any = tree.children[0]
        return _string(tok) if tok.type == "STRING" else _ident(tok)

    def type(self, tree: Tree[Any]) -> dict[str, Any]:
        if tree.data == "type_ref":
            return {"type": "EntityOrCommon", "name": self.path(tree.children[0])}
        if tree.data == "set_type":
            return {"type": "Set", "element": self.type(tree.children[0])}
        return self.record(tree)

    def record(self, tree: Tree[Any]) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for attr in _kids(tree):
            parts = [c for c in _kids(attr) if not (isinstance(c, Tree) and c.data == "annotation")]
            name = self.name(parts[0])
            optional = any(isinstance(p, Token) and p.type == "QMARK" for p in parts)
            outer = self.attr_path
            self.attr_path = (*outer, name)
            self.attr_at.append((self.attr_path, _at(parts[0])))
            typed = self.type(parts[-1])
            self.attr_path = outer
            if optional:
                typed = {**typed, "required": False}
            attributes.pop(name, None)  # Cedar keeps the last of two same-named attributes
            attributes[name] = typed
        return {"type": "Record", "attributes": attributes}

    def ent_types(self, tree: Tree[Any]) -> list[str]:
        return [self.path(p) for p in _kids(tree)]

    def space(self, ns: str, at: tuple[int, int]) -> dict[str, Any]:
        if ns not in self.json:
            self.json[ns] = {"entityTypes": {}, "actions": {}, "commonTypes": {}}
            self.where.setdefault(("namespace", ns), at)
        return self.json[ns]

    def declare(
        self, kind: str, ns: str, name: str, at: tuple[int, int], table: dict[str, Any], value: Any
    ) -> None:
        if name in table:
            raise _Fail(f"`{name}` is declared twice", *at)
        table[name] = value
        qualified = f"{ns}::{name}" if ns else name
        key = f"{ns + '::' if ns else ''}Action::{_quote(name)}" if kind == "action" else qualified
        self.where[(kind, key)] = at
        for relative, position in self.attr_at:
            self.where.setdefault((kind, key, *relative), position)

    def decl(self, ns: str, tree: Tree[Any]) -> None:
        self.attr_at, self.attr_path = [], ()
        body = self.space(ns, _at(tree))
        kids = [c for c in _kids(tree) if not (isinstance(c, Tree) and c.data == "annotation")]
        if tree.data == "typedecl":
            name_tok = kids[0]
            self.declare(
                "common", ns, str(name_tok), _at(name_tok), body["commonTypes"], self.type(kids[1])
            )
            if str(name_tok) in {
                "Bool",
                "Boolean",
                "Entity",
                "Extension",
                "Long",
                "Record",
                "Set",
                "String",
            }:
                raise _Fail(f"this uses a reserved schema keyword: `{name_tok}`", *_at(name_tok))
            return
        if tree.data == "enum_entity":
            names, ids = kids[0], [_string(t) for t in kids[1:]]
            for tok in names.children:
                self.declare(
                    "entity", ns, _ident(tok), _at(tok), body["entityTypes"], {"enum": ids}
                )
            return
        if tree.data == "entity":
            entry: dict[str, Any] = {}
            for part in kids[1:]:
                if part.data == "entity_in":
                    entry["memberOfTypes"] = self.ent_types(part.children[0])
                elif part.data == "entity_shape":
                    entry["shape"] = self.record(_kids(part)[-1])
                elif part.data == "entity_tags":
                    entry["tags"] = self.type(part.children[0])
            for tok in kids[0].children:
                self.declare("entity", ns, _ident(tok), _at(tok), body["entityTypes"], dict(entry))
            return
        self.action(ns, body, kids)

    def action(self, ns: str, body: dict[str, Any], kids: list[Any]) -> None:
        entry: dict[str, Any] = {}
        for part in kids[1:]:
            if part.data == "action_in":
                refs = part.children[0]
                entry["memberOf"] = [self.ref(r) for r in _kids(refs)]
            elif part.data == "applies_to":
                entry["appliesTo"] = self.applies(part, kids[0])
        for name_tree in kids[0].children:
            self.declare(
                "action", ns, self.name(name_tree), _at(name_tree), body["actions"], dict(entry)
            )

    def ref(self, tree: Tree[Any]) -> dict[str, str]:
        if tree.data == "ref_name":
            return {"id": self.name(tree.children[0])}
        return {"type": self.path(tree.children[0]), "id": _string(tree.children[1])}  # qual_head

    def applies(self, tree: Tree[Any], names: Tree[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        action = self.name(names.children[0])
        for decl in _kids(tree):
            key, value = decl.children
            field = {
                "principal": "principalTypes",
                "resource": "resourceTypes",
                "context": "context",
            }[str(key)]
            if field in out:
                raise _Fail(f"duplicate `{key}` declaration in action `{action}`", *_at(key))
            if field == "context":
                out[field] = (
                    {"type": "EntityOrCommon", "name": self.path(value)}
                    if value.data == "path"
                    else self.record(value)
                )
            else:
                out[field] = self.ent_types(value)
                if not out[field]:
                    raise _Fail(
                        f"for action `{action}`, `{key}` is `[]`, which is invalid", *_at(key)
                    )
        for need in ("principal", "resource"):
            if f"{need}Types" not in out:
                raise _Fail(f"missing `{need}` declaration for `{action}`", *_at(tree))
        return out

    def read(self, tree: Tree[Any]) -> None:
        for item in tree.children:
            if item.data == "namespace":
                kids = [
                    c for c in _kids(item) if not (isinstance(c, Tree) and c.data == "annotation")
                ]
                ns = self.path(kids[0])
                if ns in self.json:
                    raise _Fail(f"duplicate namespace id: `{ns}`", *_at(kids[0]))
                if ns == "__cedar" or ns.startswith("__cedar::"):
                    raise _Fail("use of the reserved `__cedar` namespace", *_at(kids[0]))
                self.space(ns, _at(kids[0]))
                self.where[("namespace", ns)] = _at(kids[0])
                for decl in kids[1:]:
                    self.decl(ns, decl)
            else:
                self.decl("", item)


def _quote(name: str) -> str:
    from lion.kernel.policy._values import escape_string

    return escape_string(name)


def _location(path: str, lines: list[str], line: int, column: int) -> SourceLocation:
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    return SourceLocation(path, line, column, source)


def _syntax_error(exc: UnexpectedInput, path: str, lines: list[str]) -> SchemaError:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        expected = sorted(_TERMINAL_TEXT.get(t, f"`{t.lower()}`") for t in exc.expected)
        hint = (
            f", expected one of {', '.join(expected)}"
            if len(expected) > 1
            else (f", expected {expected[0]}" if expected else "")
        )
        return SchemaError(
            f"unexpected `{exc.token}`{hint}", _location(path, lines, exc.line, exc.column)
        )
    if isinstance(exc, UnexpectedCharacters):
        return SchemaError(
            f"unexpected character `{exc.char}`", _location(path, lines, exc.line, exc.column)
        )
    line = len(lines) or 1
    column = len(lines[-1]) + 1 if lines else 1
    return SchemaError("unexpected end of input", _location(path, lines, line, column))


def parse_cedar_schema(
    text: str, path: str
) -> tuple[dict[str, Any], dict[tuple[str, ...], SourceLocation]]:
    """The JSON form of a human-readable schema, and where each declaration is."""
    lines = text.split("\n")
    try:
        tree = _get_parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, path, lines) from None
    reader = _Reader()
    try:
        reader.read(tree)
    except _Fail as exc:
        raise SchemaError(exc.message, _location(path, lines, exc.line, exc.column)) from None
    where = {k: _location(path, lines, *v) for k, v in reader.where.items()}
    return reader.json, where
