"""Validate policies against a Cedar schema, as Cedar's strict validator does.

::

    report = validate(policy_text, schema, path="app.cedar")
    if not report.ok:
        for issue in report.issues:
            print(issue)     # app.cedar:3:12: unable to guarantee safety of access to ...

Each policy is typed once per request environment its scope allows (a
principal type, an action and a resource type the schema says go together);
a policy whose scope allows none can never apply and is an error, as in
Cedar. What is checked: unknown entity types, actions and attributes; type
errors; an optional attribute or a tag read without a ``has`` (``hasTag``)
guard that holds there; extension constructors called with anything but a
valid literal.

The point (docs/policy.md): a policy set that validates never evaluates to
UNKNOWN on a request and entities that conform to the schema (``conforms``),
except for integer overflow and a reference to an entity that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lion.errors import PolicyError
from lion.kernel.policy import _ast as A
from lion.kernel.policy._entities import Entities, Request
from lion.kernel.policy._policy_set import PolicySet
from lion.kernel.policy._values import CedarSet, EntityUID, Record, Value
from lion.kernel.policy._values import Datetime as _Datetime
from lion.kernel.policy._values import Decimal as _Decimal
from lion.kernel.policy._values import Duration as _Duration
from lion.kernel.policy._values import IPAddr as _IPAddr
from lion.policy._schema_types import (
    ActionDef,
    BoolType,
    EntityType,
    ExtensionType,
    LongType,
    RecordType,
    SetType,
    StringType,
    Type,
    render_type,
)
from lion.policy._typecheck import Checker, Env, Issue
from lion.policy.schema import Schema

__all__ = ["ValidationIssue", "ValidationReport", "conforms", "environments", "validate"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One reason a policy does not validate; ``str()`` is ``path:line:col: message``."""

    kind: str
    message: str
    policy_id: str
    line: int
    column: int
    path: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: for policy `{self.policy_id}`, {self.message}"
        )


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The issues found, in policy order; ``ok`` when there are none."""

    issues: tuple[ValidationIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues

    def __str__(self) -> str:
        return "\n".join(str(i) for i in self.issues) if self.issues else "ok"


def validate(
    policies: PolicySet | str, schema: Schema, path: str = "<policies>"
) -> ValidationReport:
    """Check every policy (and template) of ``policies`` against ``schema``."""
    if isinstance(policies, str):
        policies = PolicySet.from_str(policies, path)
    if not isinstance(policies, PolicySet):
        raise PolicyError(f"expected a `PolicySet` or policy text, got `{type(policies).__name__}`")
    issues: list[ValidationIssue] = []
    for policy in _all_policies(policies):
        issues.extend(_check_policy(policy, schema, path))
    return ValidationReport(tuple(issues))


def _all_policies(policies: PolicySet) -> Iterator[A.Policy]:
    yield from policies.policies
    template = getattr(policies, "template", None)
    for template_id in getattr(policies, "templates", ()) or ():
        found = template(template_id) if callable(template) else None
        if isinstance(found, A.Policy):
            yield found


def _located(issue: Issue, policy: A.Policy, path: str) -> ValidationIssue:
    span = issue.span or policy.span
    line, column = (span.line, span.column) if span is not None else (1, 1)
    return ValidationIssue(issue.kind, issue.message, policy.id, line, column, path)


def _check_policy(policy: A.Policy, schema: Schema, path: str) -> list[ValidationIssue]:
    found: dict[tuple[str, str, int, int], ValidationIssue] = {}

    def add(issue: Issue) -> None:
        located = _located(issue, policy, path)
        found.setdefault((located.kind, located.message, located.line, located.column), located)

    scope_issues: list[Issue] = []
    envs = list(environments(policy, schema, scope_issues))
    for issue in scope_issues:
        add(issue)
    if not envs:
        add(
            Issue(
                "impossible-policy",
                "unable to find an applicable action given the policy scope constraints",
                policy.span,
            )
        )
    for issue in _name_issues(policy, schema):
        add(issue)
    for env in envs:
        checker = Checker(schema, env, policy.span)
        checker.condition(policy)
        for issue in checker.issues:
            add(issue)
    return list(found.values())


def _children(e: A.Expr) -> Iterator[A.Expr]:
    for name in e.__dataclass_fields__:
        value = getattr(e, name)
        if isinstance(value, A.Expr):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, A.Expr):
                    yield item
                elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], A.Expr):
                    yield item[1]


def _name_issues(policy: A.Policy, schema: Schema) -> Iterator[Issue]:
    """Unknown entity types and actions, and ids outside an enum, wherever they are written.

    Cedar checks names over the whole policy, before and apart from typing, so a
    name in an operand that never runs (``false && Foo::"a" == principal``) counts.
    """
    stack = [c.expr for c in policy.conditions]
    checker = Checker(schema, None, policy.span)  # type: ignore[arg-type]
    while stack:
        e = stack.pop()
        if isinstance(e, A.Literal) and isinstance(e.value, EntityUID):
            checker.entity_literal(e.value, e)
        elif isinstance(e, A.IsType) and not (
            e.entity_type in schema.entity_types or schema.is_action_type(e.entity_type)
        ):
            checker.fail("unknown-entity-type", f"unrecognized entity type `{e.entity_type}`", e)
        stack.extend(_children(e))
    yield from checker.issues


def environments(
    policy: A.Policy, schema: Schema, issues: list[Issue] | None = None
) -> Iterator[Env]:
    """The request environments the policy's scope allows (unknown names go to ``issues``)."""
    sink: list[Issue] = issues if issues is not None else []
    known = _scope_names_known(policy, schema, sink)
    if not known:
        return
    for action in schema.actions.values():
        if not _action_matches(policy.action, action, schema):
            continue
        for principal in action.principal_types:
            if not _entity_matches(policy.principal, principal, schema):
                continue
            for resource in action.resource_types:
                if _entity_matches(policy.resource, resource, schema):
                    yield Env(principal, action, resource)


def _scope_names_known(policy: A.Policy, schema: Schema, sink: list[Issue]) -> bool:
    ok = True
    for scope in (policy.principal, policy.resource):
        names = [u.type for u in scope.entities]
        if scope.entity_type is not None:
            names.append(scope.entity_type)
        for name in names:
            if name not in schema.entity_types and not schema.is_action_type(name):
                sink.append(
                    Issue("unknown-entity-type", f"unrecognized entity type `{name}`", policy.span)
                )
                ok = False
    for scope in (policy.principal, policy.resource):
        for uid in scope.entities:
            definition = schema.entity_types.get(uid.type)
            enum = definition.enum if definition is not None else None
            if enum is not None and uid.id not in enum:
                sink.append(
                    Issue(
                        "unknown-entity",
                        f"entity `{uid}` is of an enumerated entity type, but "
                        f'"{uid.id}" is not declared as a valid eid',
                        policy.span,
                    )
                )
                ok = False
    for uid in policy.action.entities:
        if uid not in schema.actions:
            sink.append(Issue("unknown-action", f"unrecognized action `{uid}`", policy.span))
            ok = False
    return ok


def _entity_matches(scope: A.Scope, entity_type: str, schema: Schema) -> bool:
    if scope.op == "all":
        return True
    if scope.op in ("is", "is_in") and scope.entity_type != entity_type:
        return False
    if scope.op == "is":
        return True
    if scope.slot is not None:
        return True
    target = scope.entities[0].type
    if scope.op == "==":
        return entity_type == target
    return schema.may_be_in(entity_type, target)


def _action_matches(scope: A.Scope, action: ActionDef, schema: Schema) -> bool:
    if scope.op == "all":
        return True
    if scope.op == "==":
        return action.uid == scope.entities[0]
    if scope.op == "in":
        return any(schema.action_in(action.uid, group) for group in scope.entities)
    return False


# ---------------------------------------------------------------------------- conformance


def conforms(schema: Schema, request: Any, entities: Any = None) -> tuple[str, ...]:
    """What keeps ``request`` and ``entities`` from conforming to ``schema`` (empty: they do).

    ``request`` and ``entities`` take the forms ``PolicySet.evaluate`` takes.
    """
    req = request if isinstance(request, Request) else Request.from_json(request)
    store = entities if isinstance(entities, Entities) else Entities.from_json(entities or [])
    problems: list[str] = []
    action = schema.actions.get(req.action)
    if action is None:
        problems.append(f"request: unrecognized action `{req.action}`")
    else:
        if req.principal.type not in action.principal_types:
            problems.append(
                f"request: principal `{req.principal}` is not allowed for `{req.action}`"
            )
        if req.resource.type not in action.resource_types:
            problems.append(f"request: resource `{req.resource}` is not allowed for `{req.action}`")
        for role, uid in (("principal", req.principal), ("resource", req.resource)):
            if not _enum_ok(schema, uid):
                problems.append(f"request: {role} `{uid}` is not one of its type's enumerated ids")
        problems.extend(_value_problems(req.context, action.context, schema, "request.context"))
    for entity in store:
        problems.extend(_entity_problems(entity, schema))
    return tuple(problems)


def _entity_problems(entity: Any, schema: Schema) -> Iterator[str]:
    uid: EntityUID = entity.uid
    where = f"entity `{uid}`"
    if schema.is_action_type(uid.type):
        declared = schema.actions.get(uid)
        if declared is None:
            yield f"{where}: unrecognized action"
        elif not set(entity.parents) <= set(declared.member_of) | _action_closure(schema, uid):
            yield f"{where}: parents differ from the schema's action hierarchy"
        return
    definition = schema.entity_types.get(uid.type)
    if definition is None:
        yield f"{where}: unrecognized entity type `{uid.type}`"
        return
    if definition.enum is not None and uid.id not in definition.enum:
        yield f"{where}: `{uid.id}` is not one of the enumerated ids of `{uid.type}`"
    for parent in entity.parents:
        if parent.type not in definition.member_of:
            yield f"{where}: a `{uid.type}` cannot be in a `{parent.type}` (parent `{parent}`)"
    yield from _value_problems(entity.attrs, definition.shape, schema, f"{where}.attrs")
    tags: Record = entity.tags
    if len(tags) and definition.tags is None:
        yield f"{where}: has tags, but `{uid.type}` declares none"
    elif definition.tags is not None:
        for key, value in tags.items():
            yield from _value_problems(value, definition.tags, schema, f"{where}.tags.{key}")


def _enum_ok(schema: Schema, uid: EntityUID) -> bool:
    definition = schema.entity_types.get(uid.type)
    return definition is None or definition.enum is None or uid.id in definition.enum


def _action_closure(schema: Schema, uid: EntityUID) -> set[EntityUID]:
    return {a for a in schema.actions if a != uid and schema.action_in(uid, a)}


def _value_problems(value: Value, t: Type, schema: Schema, where: str) -> Iterator[str]:
    expected = render_type(t)
    if isinstance(t, BoolType):
        ok = type(value) is bool
    elif isinstance(t, LongType):
        ok = type(value) is int
    elif isinstance(t, StringType):
        ok = type(value) is str
    elif isinstance(t, EntityType):
        ok = isinstance(value, EntityUID) and value.type == t.name
        if ok and not _enum_ok(schema, value):  # type: ignore[arg-type]
            yield f"{where}: `{value}` is not one of the enumerated ids of `{t.name}`"
            return
    elif isinstance(t, ExtensionType):
        kinds = {
            "decimal": _Decimal,
            "ipaddr": _IPAddr,
            "datetime": _Datetime,
            "duration": _Duration,
        }
        ok = isinstance(value, kinds[t.name])
    elif isinstance(t, SetType):
        if not isinstance(value, CedarSet):
            ok = False
        else:
            for index, element in enumerate(value):
                yield from _value_problems(element, t.element, schema, f"{where}[{index}]")
            return
    else:
        if not isinstance(value, Record):
            ok = False
        else:
            yield from _record_problems(value, t, schema, where)
            return
    if not ok:
        yield f"{where}: expected {expected}, got {_describe(value)}"


def _record_problems(value: Record, t: RecordType, schema: Schema, where: str) -> Iterator[str]:
    for name, attribute in t.attributes.items():
        if name in value:
            inner = value.get(name)
            assert inner is not None
            yield from _value_problems(inner, attribute.type, schema, f"{where}.{name}")
        elif attribute.required:
            yield f"{where}: required attribute `{name}` is missing"
    if not t.open:
        for name in value.keys():  # noqa: SIM118 - a Record is not iterable
            if name not in t.attributes:
                yield f"{where}: attribute `{name}` is not declared"


def _describe(value: Value) -> str:
    from lion.kernel.policy._values import format_value, type_name

    return f"{type_name(value)} `{format_value(value, 40)}`"
