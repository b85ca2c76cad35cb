"""AST -> Python closures, and the three-valued evaluation of one policy.

Each expression is compiled once into a closure; evaluating a request runs the
closures, never the parser. An evaluation error raises ``EvalError`` inside
the closures; ``&&``, ``||`` and ``if`` catch it and apply strong Kleene
logic, and whatever escapes makes the policy UNKNOWN. Exhausting the step
budget raises ``LimitExceeded``, which nothing catches until the policy
boundary: the policy is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lion.kernel.policy import _ast as A
from lion.kernel.policy._combine import Kleene
from lion.kernel.policy._entities import Entities, Request
from lion.kernel.policy._extensions import METHODS, ExtensionError, call_extension, compare
from lion.kernel.policy._limits import DEFAULT_LIMITS, Limits
from lion.kernel.policy._values import (
    INT_MAX,
    INT_MIN,
    CedarSet,
    EntityUID,
    Record,
    Value,
    type_name,
    value_eq,
)

__all__ = [
    "CompiledPolicy",
    "Env",
    "EvalError",
    "LimitExceeded",
    "compile_policy",
    "evaluate_policy",
]


class EvalError(Exception):
    """An evaluation error: the subexpression's value is unknown."""

    def __init__(self, message: str, span: A.Span | None = None) -> None:
        if span is not None:
            message = f"{message} (at {span})"
        super().__init__(message)
        self.message = message


class LimitExceeded(Exception):
    """The evaluation of one policy ran out of its step budget."""


class Env:
    """The request being evaluated, the entity store and the step counter."""

    __slots__ = ("action", "context", "entities", "max_steps", "principal", "resource", "steps")

    def __init__(
        self, request: Request, entities: Entities, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.principal = request.principal
        self.action = request.action
        self.resource = request.resource
        self.context = request.context
        self.entities = entities
        self.steps = 0
        self.max_steps = limits.max_steps

    def tick(self, cost: int = 1) -> None:
        self.steps += cost
        if self.steps > self.max_steps:
            raise LimitExceeded(f"evaluation took more than {self.max_steps} steps")

    def is_in(self, uid: EntityUID, ancestor: EntityUID) -> bool:
        return uid == ancestor or ancestor in self.entities.ancestors(uid)


Fn = Callable[[Env], Value]


def _type_error(expected: str, got: Value, span: A.Span | None) -> EvalError:
    return EvalError(f"type error: expected {expected}, got {type_name(got)}", span)


def _long(value: Value, span: A.Span | None) -> int:
    if type(value) is not int:
        raise _type_error("long", value, span)
    return value


def _bool(value: Value, span: A.Span | None) -> bool:
    if type(value) is not bool:
        raise _type_error("bool", value, span)
    return value


def _entity(value: Value, span: A.Span | None) -> EntityUID:
    if type(value) is not EntityUID:
        raise _type_error("entity", value, span)
    return value


def _set(value: Value, span: A.Span | None) -> CedarSet:
    if type(value) is not CedarSet:
        raise _type_error("set", value, span)
    return value


def compile_expr(expr: A.Expr, limits: Limits = DEFAULT_LIMITS) -> Fn:
    """Compile ``expr`` to a closure over an ``Env``; raises ValueError if it is too deep."""
    if expr.depth > limits.max_depth:
        raise ValueError(f"expression is nested more than {limits.max_depth} levels deep")
    return _compile(expr)


def _compile(e: A.Expr) -> Fn:
    span = e.span
    if isinstance(e, A.Literal):
        value: Value = e.value

        def literal(env: Env) -> Value:
            env.tick()
            return value

        return literal
    if isinstance(e, A.Var):
        name = e.name
        if name == "principal":
            return lambda env: env.principal
        if name == "action":
            return lambda env: env.action
        if name == "resource":
            return lambda env: env.resource
        return lambda env: env.context
    if isinstance(e, A.SetExpr):
        element_fns = tuple(_compile(x) for x in e.elements)

        def set_literal(env: Env) -> Value:
            env.tick(1 + len(element_fns))
            return CedarSet([f(env) for f in element_fns])

        return set_literal
    if isinstance(e, A.RecordExpr):
        field_fns = tuple((k, _compile(x)) for k, x in e.fields)

        def record_literal(env: Env) -> Value:
            env.tick(1 + len(field_fns))
            return Record({k: f(env) for k, f in field_fns})

        return record_literal
    if isinstance(e, A.Not):
        arg = _compile(e.arg)

        def not_(env: Env) -> Value:
            env.tick()
            return not _bool(arg(env), span)

        return not_
    if isinstance(e, A.Neg):
        arg = _compile(e.arg)

        def neg(env: Env) -> Value:
            env.tick()
            v = _long(arg(env), span)
            if v == INT_MIN:
                raise EvalError(f"integer overflow while negating `{v}`", span)
            return -v

        return neg
    if isinstance(e, A.BinaryOp):
        return _compile_binary(e)
    if isinstance(e, A.And | A.Or):
        return _compile_junction(e)
    if isinstance(e, A.IfThenElse):
        return _compile_if(e)
    if isinstance(e, A.GetAttr):
        return _compile_get_attr(e)
    if isinstance(e, A.HasAttr):
        obj = _compile(e.obj)
        attr = e.attr

        def has(env: Env) -> Value:
            env.tick()
            v = obj(env)
            kind = type(v)
            if kind is Record:
                return attr in v  # type: ignore[operator]
            if kind is EntityUID:
                entity = env.entities.get(v)  # type: ignore[arg-type]
                return entity is not None and attr in entity.attrs
            raise _type_error("record or entity", v, span)

        return has
    if isinstance(e, A.Like):
        arg = _compile(e.arg)
        pattern = e.pattern

        def like(env: Env) -> Value:
            env.tick()
            v = arg(env)
            if type(v) is not str:
                raise _type_error("string", v, span)
            env.tick(len(v) // 64)  # pattern matching is linear in the text
            return pattern.matches(v)

        return like
    if isinstance(e, A.IsType):
        arg = _compile(e.arg)
        entity_type = e.entity_type
        in_fn = _compile_in(e.in_, span) if e.in_ is not None else None

        def is_type(env: Env) -> Value:
            env.tick()
            v = _entity(arg(env), span)
            if v.type != entity_type:
                return False
            return True if in_fn is None else in_fn(env, v)

        return is_type
    if isinstance(e, A.MethodCall):
        if e.method in METHODS:
            return _compile_extension(e.method, (e.obj, *e.args), span)
        return _compile_method(e)
    if isinstance(e, A.ExtCall):
        return _compile_extension(e.name, e.args, span)
    raise TypeError(f"not an expression node: {type(e).__name__}")


def _compile_binary(e: A.BinaryOp) -> Fn:
    span = e.span
    left = _compile(e.left)
    op = e.op
    if op == "in":
        rhs = _compile_in(e.right, span)

        def in_(env: Env) -> Value:
            env.tick()
            return rhs(env, _entity(left(env), span))

        return in_
    right = _compile(e.right)
    if op in ("==", "!="):
        negate = op == "!="

        def equality(env: Env) -> Value:
            env.tick()
            return value_eq(left(env), right(env)) is not negate

        return equality
    if op in ("<", "<=", ">", ">="):
        ordered: Callable[[int, int], bool] = {
            "<": int.__lt__,
            "<=": int.__le__,
            ">": int.__gt__,
            ">=": int.__ge__,
        }[op]

        def comparison(env: Env) -> Value:
            env.tick()
            a, b = left(env), right(env)
            if type(a) is int and type(b) is int:
                return ordered(a, b)
            try:  # datetimes and durations compare too
                return ordered(*compare(a, b))
            except ExtensionError as exc:
                raise EvalError(exc.message, span) from None

        return comparison
    arith: Callable[[int, int], int] = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__}[op]
    verb = {"+": "adding", "-": "subtracting", "*": "multiplying"}[op]

    def arithmetic(env: Env) -> Value:
        env.tick()
        a = _long(left(env), span)
        b = _long(right(env), span)
        result = arith(a, b)
        if not INT_MIN <= result <= INT_MAX:
            raise EvalError(f"integer overflow while {verb} `{a}` and `{b}`", span)
        return result

    return arithmetic


def _compile_in(rhs_expr: A.Expr, span: A.Span | None) -> Callable[[Env, EntityUID], bool]:
    """``uid in rhs`` where rhs is an entity or a set of entities."""
    rhs = _compile(rhs_expr)

    def in_(env: Env, uid: EntityUID) -> bool:
        target = rhs(env)
        if type(target) is EntityUID:
            return env.is_in(uid, target)
        if type(target) is CedarSet:
            env.tick(len(target))
            members = list(target)
            for member in members:  # every element must be an entity, as in Cedar
                if type(member) is not EntityUID:
                    raise _type_error("entity", member, span)
            ancestors = env.entities.ancestors(uid)
            return any(m == uid or m in ancestors for m in members)
        raise _type_error("entity or set of entities", target, span)

    return in_


def _compile_junction(e: A.And | A.Or) -> Fn:
    span = e.span
    arg_fns = tuple(_compile(a) for a in e.args)
    # `&&` is decided by any FALSE operand, `||` by any TRUE one, whatever the others are.
    decisive = isinstance(e, A.Or)

    def junction(env: Env) -> Value:
        env.tick()
        error: EvalError | None = None
        for fn in arg_fns:
            try:
                v = fn(env)
                if type(v) is not bool:
                    raise _type_error("bool", v, span)
            except EvalError as exc:
                if error is None:
                    error = exc
                continue
            if v is decisive:
                return decisive
        if error is not None:
            raise error
        return not decisive

    return junction


def _compile_if(e: A.IfThenElse) -> Fn:
    span = e.span
    cond, then, else_ = _compile(e.cond), _compile(e.then), _compile(e.else_)

    def if_then_else(env: Env) -> Value:
        env.tick()
        try:
            c = _bool(cond(env), span)
        except EvalError as exc:
            # Unknown condition: the result is known only if both branches agree.
            try:
                a = then(env)
                b = else_(env)
            except EvalError:
                raise exc from None
            if value_eq(a, b):
                return a
            raise
        return then(env) if c else else_(env)

    return if_then_else


def _compile_get_attr(e: A.GetAttr) -> Fn:
    span = e.span
    obj = _compile(e.obj)
    attr = e.attr

    def get_attr(env: Env) -> Value:
        env.tick()
        v = obj(env)
        kind = type(v)
        if kind is Record:
            found = v.get(attr)  # type: ignore[union-attr]
            if found is None:
                raise EvalError(f"record does not have the attribute `{attr}`", span)
            return found
        if kind is EntityUID:
            entity = env.entities.get(v)  # type: ignore[arg-type]
            if entity is None:
                raise EvalError(f"entity `{v}` does not exist", span)
            found = entity.attrs.get(attr)
            if found is None:
                raise EvalError(f"entity `{v}` does not have the attribute `{attr}`", span)
            return found
        raise _type_error("record or entity", v, span)

    return get_attr


def _compile_method(e: A.MethodCall) -> Fn:
    span = e.span
    obj = _compile(e.obj)
    method = e.method
    arg = _compile(e.args[0]) if e.args else None

    def call(env: Env) -> Value:
        env.tick()
        receiver = obj(env)
        if method in ("hasTag", "getTag"):
            uid = _entity(receiver, span)
            assert arg is not None
            key = arg(env)
            if type(key) is not str:
                raise _type_error("string", key, span)
            entity = env.entities.get(uid)
            if method == "hasTag":
                return entity is not None and key in entity.tags
            if entity is None:
                raise EvalError(f"entity `{uid}` does not exist", span)
            found = entity.tags.get(key)
            if found is None:
                raise EvalError(f"entity `{uid}` does not have the tag `{key}`", span)
            return found
        s = _set(receiver, span)
        if method == "isEmpty":
            return len(s) == 0
        assert arg is not None
        other = arg(env)
        if method == "contains":
            env.tick(1)
            return s.contains(other)
        o = _set(other, span)
        env.tick(len(o))
        if method == "containsAll":
            return o.keys() <= s.keys()
        return not o.keys().isdisjoint(s.keys())

    return call


def _compile_extension(name: str, arg_exprs: tuple[A.Expr, ...], span: A.Span | None) -> Fn:
    """An extension function or method (the receiver first): arguments, then the call."""
    arg_fns = tuple(_compile(a) for a in arg_exprs)

    def extension(env: Env) -> Value:
        env.tick()
        args = [f(env) for f in arg_fns]
        try:
            return call_extension(name, args)
        except ExtensionError as exc:
            raise EvalError(exc.message, span) from None

    return extension


ScopeCheck = Callable[[Env], bool]


def _compile_scope(scope: A.Scope, var: str) -> ScopeCheck | None:
    def get(env: Env) -> EntityUID:
        return (
            env.principal if var == "principal" else env.action if var == "action" else env.resource
        )

    op, entity_type, targets = scope.op, scope.entity_type, scope.entities
    if op == "all":
        return None
    if op == "==":
        target = targets[0]
        return lambda env: get(env) == target
    if op == "in":
        wanted = frozenset(targets)

        def in_(env: Env) -> bool:
            uid = get(env)
            return uid in wanted or not wanted.isdisjoint(env.entities.ancestors(uid))

        return in_
    if op == "is":
        return lambda env: get(env).type == entity_type
    target = targets[0]
    return lambda env: get(env).type == entity_type and env.is_in(get(env), target)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with its scope checks and conditions compiled to closures."""

    policy: A.Policy
    scope: tuple[ScopeCheck, ...]
    conditions: tuple[tuple[bool, Fn, A.Span | None], ...]  # (is_when, closure, span)


def compile_policy(policy: A.Policy, limits: Limits = DEFAULT_LIMITS) -> CompiledPolicy:
    """Compile once; evaluate many times. Raises ValueError if a condition is too deep."""
    checks = tuple(
        check
        for check in (
            _compile_scope(policy.principal, "principal"),
            _compile_scope(policy.action, "action"),
            _compile_scope(policy.resource, "resource"),
        )
        if check is not None
    )
    conditions = tuple(
        (c.kind == "when", compile_expr(c.expr, limits), c.expr.span) for c in policy.conditions
    )
    return CompiledPolicy(policy, checks, conditions)


def evaluate_policy(compiled: CompiledPolicy, env: Env) -> tuple[Kleene, str | None]:
    """The policy's Kleene value for the request in ``env``, and its first error if UNKNOWN.

    The value is scope AND every ``when`` AND NOT every ``unless``.
    """
    for check in compiled.scope:
        if not check(env):
            return Kleene.FALSE, None
    env.steps = 0
    error: str | None = None
    try:
        for is_when, fn, span in compiled.conditions:
            try:
                v = fn(env)
                if type(v) is not bool:
                    raise _type_error("bool", v, span)
            except EvalError as exc:
                if error is None:
                    error = exc.message
                continue
            if v is not is_when:
                return Kleene.FALSE, None
    except LimitExceeded as exc:
        return Kleene.UNKNOWN, str(exc)
    except RecursionError:
        return Kleene.UNKNOWN, "expression is nested too deeply to evaluate"
    if error is not None:
        return Kleene.UNKNOWN, error
    return Kleene.TRUE, None
