"""Cedar's strict type checker over the policy AST, for one request environment.

A request environment fixes the principal's entity type, the action and the
resource's entity type (one combination a schema allows), so every variable
has a type. ``Checker.condition`` types a policy's conditions and records
each problem as an ``Issue``.

As in Cedar, boolean types carry what is known statically: ``true`` and
``false`` are their own types, and ``&&``, ``||`` and ``if`` do not type the
operand that cannot run (``false && x`` never evaluates ``x``). Capabilities
follow Cedar: ``e has a`` (``e.hasTag(k)``) makes ``e.a`` (``e.getTag(k)``)
safe where it is known to be true: in the right of ``&&``, the ``then``
branch of ``if``, and after both sides of an ``||`` that each establish it.
"""

from __future__ import annotations

from typing import Any

from lion.kernel.policy import _ast as A
from lion.kernel.policy._extensions import ExtensionError
from lion.kernel.policy._values import EntityUID, escape_string, value_eq
from lion.policy._schema_types import (
    Attribute,
    EntityType,
    ExtensionType,
    FrozenMap,
    RecordType,
    SetType,
)
from lion.policy._typecheck_types import (
    BOOL,
    CONSTRUCTORS,
    LONG,
    METHODS,
    NONE,
    STRING,
    BoolLit,
    Caps,
    Env,
    Issue,
    T,
    is_bool,
    lub,
    plain,
    show,
)

__all__ = ["BoolLit", "Checker", "Env", "Issue", "lub"]


class Checker:
    """Types expressions in one environment, collecting issues."""

    def __init__(self, schema: Any, env: Env, fallback: A.Span | None) -> None:
        self.schema = schema
        self.env = env
        self.fallback = fallback
        self.issues: list[Issue] = []

    def fail(self, kind: str, message: str, node: A.Expr | None) -> None:
        span = node.span if node is not None and node.span is not None else self.fallback
        self.issues.append(Issue(kind, message, span))

    def expect(self, t: T | None, wanted: str, ok: bool, node: A.Expr) -> bool:
        if t is None:
            return False
        if not ok:
            self.fail("type-error", f"unexpected type: expected {wanted} but saw {show(t)}", node)
        return ok

    # ------------------------------------------------------------------ conditions

    def condition(self, policy: A.Policy) -> None:
        """Type the policy's conditions, joined by ``&&`` as Cedar joins them."""
        caps: Caps = NONE
        for cond in policy.conditions:
            t, effects = self.check(cond.expr, caps)
            if t is None:
                return
            if not is_bool(t):
                self.expect(t, "Bool", False, cond.expr)
                return
            if cond.kind == "unless":
                t, effects = (BoolLit(not t.value) if isinstance(t, BoolLit) else BOOL), NONE
            if t == BoolLit(False):
                return  # the rest never runs
            caps = caps | effects

    # ------------------------------------------------------------------ expressions

    def check(self, e: A.Expr, caps: Caps) -> tuple[T | None, Caps]:
        """The type of ``e`` (None after an error) and the capabilities it gives when true."""
        method = getattr(self, "_" + type(e).__name__, None)
        if method is None:
            self.fail("type-error", f"unsupported expression `{type(e).__name__}`", e)
            return None, NONE
        result: tuple[T | None, Caps] = method(e, caps)
        return result

    def type_of(self, e: A.Expr, caps: Caps) -> T | None:
        return self.check(e, caps)[0]

    def _Literal(self, e: A.Literal, caps: Caps) -> tuple[T | None, Caps]:
        v = e.value
        if isinstance(v, bool):
            return BoolLit(v), NONE
        if isinstance(v, int):
            return LONG, NONE
        if isinstance(v, str):
            return STRING, NONE
        if isinstance(v, EntityUID):
            return self.entity_literal(v, e), NONE
        self.fail("type-error", f"unsupported literal `{v}`", e)
        return None, NONE

    def entity_literal(self, uid: EntityUID, node: A.Expr | None) -> T | None:
        if self.schema.is_action_type(uid.type):
            if uid not in self.schema.actions:
                self.fail("unknown-action", f"unrecognized action `{uid}`", node)
                return None
            return EntityType(uid.type)
        definition = self.schema.entity_types.get(uid.type)
        if definition is None:
            self.fail("unknown-entity-type", f"unrecognized entity type `{uid.type}`", node)
            return None
        if definition.enum is not None and uid.id not in definition.enum:
            self.fail(
                "unknown-entity",
                f"entity `{uid}` is of an enumerated entity type, but "
                f"{escape_string(uid.id)} is not declared as a valid eid",
                node,
            )
            return None
        return EntityType(uid.type)

    def _Var(self, e: A.Var, caps: Caps) -> tuple[T | None, Caps]:
        if e.name == "principal":
            return EntityType(self.env.principal), NONE
        if e.name == "resource":
            return EntityType(self.env.resource), NONE
        if e.name == "action":
            return EntityType(self.env.action.uid.type), NONE
        return self.env.action.context, NONE

    def _SetExpr(self, e: A.SetExpr, caps: Caps) -> tuple[T | None, Caps]:
        if not e.elements:
            self.fail("empty-set", "empty set literals are forbidden in policies", e)
            return None, NONE
        joined: T | None = None
        for element in e.elements:
            t = self.type_of(element, caps)
            if t is None:
                return None, NONE
            if joined is None:
                joined = t
                continue
            new = lub(joined, t)
            if new is None:
                self.incompatible(joined, t, e)
                return None, NONE
            joined = new
        assert joined is not None
        return SetType(plain(joined)), NONE

    def incompatible(self, a: T, b: T, node: A.Expr) -> None:
        self.fail(
            "incompatible-types", f"the types {show(a)} and {show(b)} are not compatible", node
        )

    def _RecordExpr(self, e: A.RecordExpr, caps: Caps) -> tuple[T | None, Caps]:
        attributes: dict[str, Attribute] = {}
        for name, value in e.fields:
            t = self.type_of(value, caps)
            if t is None:
                return None, NONE
            attributes[name] = Attribute(plain(t), True)
        return RecordType(FrozenMap(attributes)), NONE

    def _Not(self, e: A.Not, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.arg, caps)
        if not self.expect(t, "Bool", t is not None and is_bool(t), e.arg):
            return None, NONE
        return (BoolLit(not t.value) if isinstance(t, BoolLit) else BOOL), NONE

    def _Neg(self, e: A.Neg, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.arg, caps)
        if not self.expect(t, "Long", t == LONG, e.arg):
            return None, NONE
        return LONG, NONE

    def _Like(self, e: A.Like, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.arg, caps)
        if not self.expect(t, "String", t == STRING, e.arg):
            return None, NONE
        return BOOL, NONE

    def _And(self, e: A.And, caps: Caps) -> tuple[T | None, Caps]:
        effects: Caps = NONE
        result: T = BoolLit(True)
        for arg in e.args:
            t, eff = self.check(arg, caps | effects)
            if not self.expect(t, "Bool", t is not None and is_bool(t), arg):
                return None, NONE
            if t == BoolLit(False):
                return BoolLit(False), NONE
            if t != BoolLit(True):
                result = BOOL
            effects = effects | eff
        return result, effects

    def _Or(self, e: A.Or, caps: Caps) -> tuple[T | None, Caps]:
        effects: Caps | None = None  # what every operand that can be true establishes
        result: T = BoolLit(False)
        for arg in e.args:
            t, eff = self.check(arg, caps)
            if not self.expect(t, "Bool", t is not None and is_bool(t), arg):
                return None, NONE
            if t == BoolLit(True):
                return BoolLit(True), (eff if effects is None else effects & eff)
            if t == BoolLit(False):
                continue
            result = BOOL
            effects = eff if effects is None else effects & eff
        return result, (effects or NONE)

    def _IfThenElse(self, e: A.IfThenElse, caps: Caps) -> tuple[T | None, Caps]:
        c, ceff = self.check(e.cond, caps)
        if not self.expect(c, "Bool", c is not None and is_bool(c), e.cond):
            return None, NONE
        if c == BoolLit(True):
            t, eff = self.check(e.then, caps | ceff)
            return t, ceff | eff
        if c == BoolLit(False):
            return self.check(e.else_, caps)
        t1, eff1 = self.check(e.then, caps | ceff)
        t2, eff2 = self.check(e.else_, caps)
        if t1 is None or t2 is None:
            return None, NONE
        joined = lub(t1, t2)
        if joined is None:
            self.incompatible(t1, t2, e)
            return None, NONE
        return joined, (ceff | eff1) & eff2

    # ------------------------------------------------------------------ operators

    def _BinaryOp(self, e: A.BinaryOp, caps: Caps) -> tuple[T | None, Caps]:
        if e.op in ("==", "!="):
            t = self.equality(e, caps)
            if e.op == "!=" and isinstance(t, BoolLit):
                t = BoolLit(not t.value)
            return t, NONE
        if e.op == "in":
            return self.membership(e.left, e.right, caps, e), NONE
        left = self.type_of(e.left, caps)
        right = self.type_of(e.right, caps)
        if left is None or right is None:
            return None, NONE
        if e.op in ("+", "-", "*"):
            ok = self.expect(left, "Long", left == LONG, e.left)
            ok = self.expect(right, "Long", right == LONG, e.right) and ok
            return (LONG if ok else None), NONE
        ordered = (LONG, ExtensionType("datetime"), ExtensionType("duration"))
        wanted = "datetime, or duration, or Long"
        if not self.expect(left, wanted, left in ordered, e.left):
            self.expect(right, wanted, right in ordered, e.right)
            return None, NONE
        if not self.expect(right, show(left), right == left, e.right):
            return None, NONE
        return BOOL, NONE

    def _known_action(self, e: A.Expr) -> EntityUID | None:
        if isinstance(e, A.Var) and e.name == "action":
            return self.env.action.uid
        if (
            isinstance(e, A.Literal)
            and isinstance(e.value, EntityUID)
            and self.schema.is_action_type(e.value.type)
        ):
            return e.value
        return None

    def equality(self, e: A.BinaryOp, caps: Caps) -> T | None:
        left = self.type_of(e.left, caps)
        right = self.type_of(e.right, caps)
        if left is None or right is None:
            return None
        lit_left, lit_right = _literal(e.left), _literal(e.right)
        if lit_left is not _NOT_LITERAL and lit_right is not _NOT_LITERAL:
            return BoolLit(value_eq(lit_left, lit_right))
        a, b = self._known_action(e.left), self._known_action(e.right)
        if a is not None and b is not None:
            return BoolLit(a == b)
        if isinstance(left, EntityType) and isinstance(right, EntityType):
            return BOOL if left == right else BoolLit(False)
        if lub(left, right) is None:
            self.incompatible(left, right, e)
            return None
        return BOOL

    def membership(self, lhs: A.Expr, rhs: A.Expr, caps: Caps, node: A.Expr) -> T | None:
        left = self.type_of(lhs, caps)
        right = self.type_of(rhs, caps)
        if left is None or right is None:
            return None
        ok = self.expect(left, "an entity", isinstance(left, EntityType), lhs)
        targets: list[str] = []
        if isinstance(right, EntityType):
            targets = [right.name]
        elif isinstance(right, SetType) and isinstance(right.element, EntityType):
            targets = [right.element.name]
        else:
            self.expect(right, "an entity or a set of entities", False, rhs)
            return None
        if not ok or not isinstance(left, EntityType):
            return None
        action = self._known_action(lhs)
        if action is not None:
            groups = self._known_actions(rhs)
            if groups is not None:
                return BoolLit(any(self.schema.action_in(action, g) for g in groups))
        if any(self.schema.may_be_in(left.name, t) for t in targets):
            return BOOL
        return BoolLit(False)

    def _known_actions(self, e: A.Expr) -> list[EntityUID] | None:
        one = self._known_action(e)
        if one is not None:
            return [one]
        if isinstance(e, A.SetExpr):
            found = [self._known_action(x) for x in e.elements]
            if all(f is not None for f in found):
                return [f for f in found if f is not None]
        return None

    def _IsType(self, e: A.IsType, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.arg, caps)
        if t is None:
            return None, NONE
        known = e.entity_type in self.schema.entity_types or self.schema.is_action_type(
            e.entity_type
        )
        if not known:
            self.fail("unknown-entity-type", f"unrecognized entity type `{e.entity_type}`", e)
            return None, NONE
        if not self.expect(t, "an entity", isinstance(t, EntityType), e.arg):
            return None, NONE
        assert isinstance(t, EntityType)
        if e.in_ is None:
            return BoolLit(t.name == e.entity_type), NONE
        inside = self.membership(e.arg, e.in_, caps, e)
        if inside is None:
            return None, NONE
        if t.name != e.entity_type:
            return BoolLit(False), NONE
        return inside, NONE

    # ------------------------------------------------------------------ attributes and tags

    def _attributes(self, t: T, node: A.Expr) -> tuple[RecordType, str] | None:
        if isinstance(t, RecordType):
            return t, ""
        if isinstance(t, EntityType):
            if self.schema.is_action_type(t.name):
                return RecordType(), f" on entity type `{t.name}`"
            return self.schema.entity_types[t.name].shape, f" on entity type `{t.name}`"
        self.expect(t, "an entity or a record", False, node)
        return None

    def _GetAttr(self, e: A.GetAttr, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.obj, caps)
        if t is None:
            return None, NONE
        found = self._attributes(t, e.obj)
        if found is None:
            return None, NONE
        shape, where = found
        if where == "" and isinstance(e.obj, A.Var) and e.obj.name == "context":
            where = f" in context for {self.env.action.uid}"
        attribute = shape.attributes.get(e.attr)
        if attribute is None:
            self.fail(
                "unknown-attribute", f"attribute `{e.attr}`{where or ' in record'} not found", e
            )
            return None, NONE
        if _unguarded(attribute.required, ("attr", e.obj, e.attr), caps):
            self.fail(
                "unsafe-optional-attribute",
                f"unable to guarantee safety of access to optional attribute `{e.attr}`{where}",
                e,
            )
            return None, NONE
        return attribute.type, NONE

    def _HasAttr(self, e: A.HasAttr, caps: Caps) -> tuple[T | None, Caps]:
        t = self.type_of(e.obj, caps)
        if t is None:
            return None, NONE
        found = self._attributes(t, e.obj)
        if found is None:
            return None, NONE
        shape, _ = found
        attribute = shape.attributes.get(e.attr)
        if attribute is None:
            return BoolLit(False), NONE
        effects = frozenset({("attr", e.obj, e.attr)})
        if isinstance(t, RecordType) and attribute.required:
            return BoolLit(True), effects
        return BOOL, effects

    def _MethodCall(self, e: A.MethodCall, caps: Caps) -> tuple[T | None, Caps]:
        obj = self.type_of(e.obj, caps)
        args = [self.type_of(a, caps) for a in e.args]
        if obj is None or any(a is None for a in args):
            return None, NONE
        m = e.method
        if m in ("contains", "containsAll", "containsAny", "isEmpty"):
            if not self.expect(obj, "a set", isinstance(obj, SetType), e.obj):
                return None, NONE
            assert isinstance(obj, SetType)
            if m != "isEmpty":
                arg = args[0]
                assert arg is not None
                if m != "contains" and not self.expect(
                    arg, "a set", isinstance(arg, SetType), e.args[0]
                ):
                    return None, NONE
                element = arg if m == "contains" else arg.element  # type: ignore[union-attr]
                if lub(obj.element, element) is None:
                    self.incompatible(element, obj.element, e)
                    return None, NONE
            return BOOL, NONE
        if m in ("hasTag", "getTag"):
            return self.tag(e, obj, args[0], caps)
        if m not in METHODS:
            self.fail("type-error", f"unknown method `{m}`", e)
            return None, NONE
        receiver, params, result = METHODS[m]
        ok = self.expect(obj, receiver, obj == ExtensionType(receiver), e.obj)
        for param, arg, node in zip(params, args, e.args, strict=False):
            ok = self.expect(arg, param, arg == ExtensionType(param), node) and ok
        return (result if ok else None), NONE

    def tag(self, e: A.MethodCall, obj: T, key: T | None, caps: Caps) -> tuple[T | None, Caps]:
        ok = self.expect(obj, "an entity", isinstance(obj, EntityType), e.obj)
        ok = self.expect(key, "String", key == STRING, e.args[0]) and ok
        if not ok or not isinstance(obj, EntityType):
            return None, NONE
        definition = self.schema.entity_types.get(obj.name)
        tags = definition.tags if definition is not None else None
        cap = ("tag", e.obj, e.args[0])
        if e.method == "hasTag":
            return (BoolLit(False), NONE) if tags is None else (BOOL, frozenset({cap}))
        if tags is None:
            self.fail("unknown-attribute", f"entity type `{obj.name}` has no tags", e)
            return None, NONE
        if cap not in caps:
            key_text = _key_text(e.args[0])
            self.fail(
                "unsafe-tag-access",
                f"unable to guarantee safety of access to tag {key_text} "
                f"on entity type `{obj.name}`",
                e,
            )
            return None, NONE
        return tags, NONE

    def _ExtCall(self, e: A.ExtCall, caps: Caps) -> tuple[T | None, Caps]:
        result, parse, what = CONSTRUCTORS[e.name]
        if len(e.args) != 1:
            self.fail(
                "extension-argument",
                "wrong number of arguments in extension function application: "
                f"expected 1, got {len(e.args)}",
                e,
            )
            return None, NONE
        arg = e.args[0]
        if (
            not isinstance(arg, A.Literal)
            or not isinstance(arg.value, str)
            or isinstance(arg.value, bool)
        ):
            if self.type_of(arg, caps) is None:
                return None, NONE
            self.fail(
                "extension-argument",
                "extension constructors may not be called with non-literal expressions",
                e,
            )
            return None, NONE
        try:
            parse(arg.value)
        except ExtensionError:
            self.fail(
                "extension-argument", f"failed to parse as {what}: {escape_string(arg.value)}", e
            )
            return None, NONE
        return ExtensionType(result), NONE


_NOT_LITERAL: Any = object()


def _literal(e: A.Expr) -> Any:
    """The value of a literal as Cedar's typechecker sees one: a literal, or ``&&``/``||``
    over boolean literals (which it folds); else ``_NOT_LITERAL``."""
    if isinstance(e, A.Literal):
        return e.value
    if isinstance(e, A.And | A.Or):
        acc = _literal(e.args[0])
        for arg in e.args[1:]:
            value = _literal(arg)
            if not isinstance(acc, bool) or not isinstance(value, bool):
                return _NOT_LITERAL
            acc = (acc and value) if isinstance(e, A.And) else (acc or value)
        return acc if isinstance(acc, bool) else _NOT_LITERAL
    return _NOT_LITERAL


def _unguarded(required: bool, capability: tuple[Any, ...], caps: Caps) -> bool:
    """Whether reading an attribute needs a ``has`` guard that is not in scope."""
    return not required and capability not in caps


def _key_text(e: A.Expr) -> str:
    if isinstance(e, A.Literal) and isinstance(e.value, str):
        return f"`{escape_string(e.value)}`"
    return "`<expression>`"
