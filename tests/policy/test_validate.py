"""The validator: Cedar's verdict on a corpus of policies, located issues, and `conforms`."""
# ruff: noqa: E501  (the corpus keeps one policy per line)

from __future__ import annotations

import cedarpy
import pytest

from lion.errors import PolicyError
from lion.kernel.policy import PolicySet
from lion.policy import Schema, ValidationIssue, conforms, validate

SCHEMA_TEXT = """
entity Group;
entity User in [Group] { age?: Long, name: String, tags: Set<String>, addr: {city: String, zip?: Long} } tags String;
entity Photo in [Group] { owner: User, size: Long };
type Ctx = { ok: Bool, n?: Long };
action view appliesTo { principal: [User], resource: [Photo], context: Ctx };
action edit in [view] appliesTo { principal: [User], resource: [Photo, User] };
action nothing;
entity Color enum ["red", "blue"];
action paint appliesTo { principal: [User], resource: [Color] };
"""
SCHEMA = Schema.from_cedar(SCHEMA_TEXT)
CEDAR_SCHEMA = cedarpy.Schema.from_str(SCHEMA_TEXT)

CASES = [
    "permit(principal, action, resource) when { false };",
    'permit(principal, action == Action::"nothing", resource);',
    "permit(principal, action, resource) when { principal == resource };",
    'permit(principal, action, resource) when { principal == User::"a" };',
    'permit(principal, action, resource) when { resource == User::"a" };',
    'permit(principal, action, resource) when { 1 == "a" };',
    "permit(principal, action, resource) when { 1 == true };",
    "permit(principal, action, resource) when { principal has name };",
    "permit(principal, action, resource) when { principal has age };",
    "permit(principal, action, resource) when { principal has foo };",
    "permit(principal, action, resource) when { principal.age > 1 };",
    "permit(principal, action, resource) when { principal has age && principal.age > 1 };",
    "permit(principal, action, resource) when { false && 1 };",
    "permit(principal, action, resource) when { true || 1 };",
    'permit(principal, action, resource) when { if true then 1 else "a" };',
    'permit(principal, action, resource) when { (if principal.name == "x" then 1 else "a") == 1 };',
    "permit(principal, action, resource) when { [] == [] };",
    'permit(principal, action, resource) when { [1, "a"].contains(1) };',
    'permit(principal, action, resource) when { [User::"a", Photo::"b"].contains(principal) };',
    "permit(principal, action, resource) when { principal.foo };",
    "permit(principal, action, resource) when { context.ok };",
    "permit(principal, action, resource) when { context.n > 1 };",
    "permit(principal, action, resource) when { principal.addr.zip > 1 };",
    "permit(principal, action, resource) when { principal.addr has zip && principal.addr.zip > 1 };",
    'permit(principal, action, resource) when { Foo::"a" == principal };',
    'permit(principal, action == Action::"nope", resource);',
    'permit(principal in Photo::"a", action, resource);',
    "permit(principal is Photo, action, resource);",
    "permit(principal, action, resource) when { principal is Photo };",
    "permit(principal, action, resource) when { principal is Foo };",
    'permit(principal, action, resource) when { principal.hasTag("a") && principal.getTag("a") == "x" };',
    'permit(principal, action, resource) when { principal.getTag("a") == "x" };',
    'permit(principal, action, resource) when { resource.getTag("a") == "x" };',
    "permit(principal, action, resource) when { {a: 1} == {a: 1, b: 2} };",
    "permit(principal, action, resource) when { {a: 1}.a == 1 };",
    'permit(principal, action, resource) when { ip("1.2.3.4").isIpv4() };',
    'permit(principal, action, resource) when { ip("1.2.3").isIpv4() };',
    "permit(principal, action, resource) when { ip(principal.name).isIpv4() };",
    'permit(principal, action, resource) when { datetime("2024-01-01") < datetime("2024-01-02") };',
    'permit(principal, action, resource) when { decimal("1.0") < decimal("2.0") };',
    'permit(principal, action, resource) when { duration("1h") < duration("2h") };',
    'permit(principal, action, resource) when { principal.name like "a*" };',
    'permit(principal, action, resource) when { principal.age like "a*" };',
    'permit(principal, action, resource) when { 1 + "a" == 2 };',
    "permit(principal, action, resource) when { principal in resource };",
    "permit(principal, action, resource) when { resource in principal };",
    'permit(principal, action, resource) when { action == Action::"view" };',
    'permit(principal, action, resource) when { action in [Action::"view", Action::"nope"] };',
    "permit(principal, action, resource) when { resource.owner == principal };",
    "permit(principal, action, resource) when { resource has owner };",
    "permit(principal, action, resource) when { principal has age || principal.age > 1 };",
    "permit(principal, action, resource) when { (principal has age || principal has age) && principal.age > 1 };",
    "permit(principal, action, resource) when { if principal has age then principal.age > 1 else false };",
    "permit(principal, action, resource) when { !(principal has age) || principal.age > 1 };",
    "permit(principal, action, resource) unless { principal has age } ;",
    "permit(principal, action, resource) when { principal has age } when { principal.age > 1 };",
    "permit(principal, action, resource) when { principal.name == 1 };",
    "permit(principal, action, resource) when { principal.name == principal.name };",
    "permit(principal, action, resource) when { 1 == principal.name };",
    'permit(principal, action, resource) when { principal.tags == "a" };',
    "permit(principal, action, resource) when { principal.addr == 1 };",
    "permit(principal, action, resource) when { principal.addr == principal };",
    "permit(principal, action, resource) when { [1] == [true] };",
    "permit(principal, action, resource) when { principal.tags.contains(1) };",
    "permit(principal, action, resource) when { {a:1} == 1 };",
    "permit(principal, action, resource) when { principal == 1 };",
    "permit(principal, action, resource) when { principal.tags == [1] };",
    "permit(principal, action, resource) when { principal.tags == principal.tags };",
    "permit(principal, action, resource) when { resource == principal.addr };",
    "permit(principal, action, resource) when { [principal, resource].contains(principal) };",
    "permit(principal, action, resource) when { principal != 1 };",
    'permit(principal, action, resource) when { (1 == "a") == 1 };',
    "permit(principal, action, resource) when { 1 < 2 && (principal.name == 1) };",
    "permit(principal, action, resource) when { if true then 1 else 2 };",
    'permit(principal, action, resource) when { (if false then 1 else "a") == "a" };',
    "permit(principal, action, resource) when { principal.tags.containsAll([1]) };",
    'permit(principal, action, resource) when { principal.tags.containsAny(["1"]) };',
    "permit(principal, action, resource) when { principal.tags.isEmpty() };",
    'permit(principal, action, resource) when { ["a"].isEmpty() };',
    "permit(principal, action, resource) when { principal.name.isEmpty() };",
    "permit(principal, action, resource) when { true && 1 };",
    "permit(principal, action, resource) when { 1 && true };",
    'permit(principal, action, resource) when { principal.name == "a" && 1 };',
    'permit(principal, action, resource) when { principal.name == "a" || 1 };',
    "permit(principal, action, resource) when { 1 };",
    "permit(principal, action, resource) when { 1 > 2 || 1 };",
    'permit(principal, action, resource) when { User::"a" in [Group::"g", Photo::"a"] };',
    'permit(principal, action, resource) when { principal in [Group::"g", Photo::"a"] };',
    "permit(principal, action, resource) when { principal in 1 };",
    "permit(principal, action, resource) when { principal in [1] };",
    "permit(principal, action, resource) when { 1 in [1] };",
    "permit(principal, action, resource) when { -principal.name == 1 };",
    'permit(principal, action, resource) when { principal.addr.city like "x" };',
    "permit(principal, action, resource) when { context has ok && context.ok };",
    "permit(principal, action, resource) when { context has n && context.n > 1 };",
    'permit(principal, action == Action::"view", resource) when { context.ok };',
    'permit(principal, action == Action::"edit", resource) when { context.ok };',
    "permit(principal, action, resource) when { principal has age } unless { principal.age > 1 };",
    "permit(principal, action, resource) when { principal.name has x };",
    "permit(principal, action, resource) when { 1 has x };",
    "permit(principal, action, resource) when { {a: 1} has a };",
    "permit(principal, action, resource) when { principal.addr has city };",
    "permit(principal, action, resource) when { principal.foo.bar };",
    'permit(principal, action, resource) when { principal is User in Group::"g" };',
    "permit(principal, action, resource) when { principal is User in 1 };",
    "permit(principal, action, resource) when { principal is Photo && principal.size > 1 };",
    'permit(principal, action in Action::"view", resource);',
    'permit(principal, action in [Action::"view"], resource is User);',
    'permit(principal, action, resource) when { datetime("2024-01-01").lessThan(datetime("2024-01-02")) };',
    'permit(principal, action, resource) when { decimal("1.0").lessThan(decimal("2.0")) };',
    'permit(principal, action, resource) when { resource.hasTag("a") };',
    'permit(principal, action, resource) when { Photo::"x".hasTag("a") };',
    'permit(principal, action, resource) when { Photo::"x".hasTag("a") && Photo::"x".getTag("a") == 1 };',
    'permit(principal, action, resource) when { Color::"green" == resource };',
    'permit(principal, action, resource) when { Color::"red" == resource };',
    "permit(principal, action, resource) when { action.foo };",
    "permit(principal, action, resource) when { action has foo };",
    "permit(principal, action, resource) when { context == {} };",
    'permit(principal, action == Action::"edit", resource) when { context == {} };',
    'permit(principal, action, resource) when { ip("1.2.3.4") == ip("1.2.3.4") };',
    'permit(principal, action, resource) when { ip("1.2.3.4") == decimal("1.0") };',
    "permit(principal, action, resource) when { principal in [principal] };",
    "permit(principal, action, resource) when { principal.hasTag(1) };",
    'permit(principal, action, resource) when { principal.hasTag(principal.name) && principal.getTag(principal.name) == "a" };',
    'permit(principal, action, resource) when { principal.addr == {city: "x"} };',
    'permit(principal, action, resource) when { principal.addr == {city: "x", zip: 1} };',
    "permit(principal, action, resource) when { principal has foo && principal.foo.bar };",
    'permit(principal, action, resource) when { principal in Photo::"a" && principal.foo };',
    "permit(principal, action, resource) when { principal is Photo && principal.foo };",
    'permit(principal, action, resource) when { principal == Photo::"a" && principal.foo };',
    'permit(principal, action, resource) when { action == Action::"edit" && context.ok };',
    'permit(principal, action == Action::"view", resource) when { action == Action::"edit" && context.foo };',
    "permit(principal, action, resource) when { if principal is Photo then principal.foo else true };",
    'permit(principal, action, resource) when { datetime("2024-01-01").offset(duration("1h")).toTime().toDays() > 1 };',
    'permit(principal, action, resource) when { datetime("2024-01-01").durationSince(datetime("2024-01-01")) == duration("1h") };',
    'permit(principal, action, resource) when { ip("1.2.3.4").isInRange(ip("1.0.0.0/8")) };',
    'permit(principal, action, resource) when { decimal("1.0") == decimal("1.00") };',
    'permit(principal, action, resource) when { decimal("1.00000") == decimal("1.00") };',
    'permit(principal, action, resource) when { datetime("x") == datetime("2024-01-01") };',
    'permit(principal, action, resource) when { duration("1x") == duration("1h") };',
    'permit(principal, action, resource) when { ip("1.2.3.4", "a").isIpv4() };',
    'permit(principal, action, resource) when { principal.name < "b" };',
    'permit(principal, action, resource) when { 1 < duration("1h") };',
    "permit(principal, action, resource) when { principal.tags.contains(principal.name) };",
    "permit(principal, action, resource) when { resource is Color };",
    'permit(principal, action, resource) when { Action::"view" in Action::"edit" };',
    'permit(principal, action, resource) when { principal in Action::"edit" };',
    'permit(principal, action, resource) when { action in User::"a" };',
    "permit(principal, action, resource) when { [1, 2] == [1] };",
    "permit(principal, action, resource) when { [principal.age] == [1] };",
    "permit(principal, action, resource) when { {a: principal.age} == {a: 1} };",
    "permit(principal, action, resource) when { (principal has age && principal.age == 1) || (principal has age && principal.age == 2) };",
    'permit(principal, action, resource) when { principal.hasTag("a") || principal.getTag("a") == "x" };',
    "permit(principal, action, resource) when { (if principal has age then true else principal has age) && principal.age > 0 };",
    "permit(principal, action, resource) when { true && principal.age > 0 };",
    "permit(principal, action, resource) when { !(true) && principal.age > 0 };",
    "permit(principal, action, resource) when { (1 == 2) && principal.age > 0 };",
    "permit(principal, action, resource) when { (1 == 1) || principal.age > 0 };",
    'permit(principal, action, resource) when { (User::"a" == User::"a") || principal.age > 0 };',
    'permit(principal, action, resource) when { ("a" like "a") || principal.age > 0 };',
    "permit(principal, action, resource) when { ({a: 1} has a) || principal.age > 0 };",
    "permit(principal, action, resource) when { ({a: 1} has b) && principal.age > 0 };",
    "permit(principal, action, resource) when { 1 != (true || false) };",
    "permit(principal, action, resource) when { 1 != (false || true) };",
    "permit(principal, action, resource) when { 1 != (false || (1 == 1)) };",
    "permit(principal, action, resource) when { 1 != (true && true) };",
    "permit(principal, action, resource) when { 1 != (false && true) };",
    "permit(principal, action, resource) when { 1 != (principal has foo && true) };",
    "permit(principal, action, resource) when { 1 != (if true then true else 1) };",
    "permit(principal, action, resource) when { 1 != (if true then (1 == 2) else 1) };",
    "permit(principal, action, resource) when { 1 != !true };",
    "permit(principal, action, resource) when { 1 != (1 == 1) };",
    'permit(principal, action, resource) when { 1 != (User::"a" == User::"a") };',
    'permit(principal, action, resource) when { "a" == (if true then "b" else 1) };',
    'permit(principal, action, resource) when { (if true then 1 else "a") == "x" };',
    'permit(principal, action, resource) when { (if false then 1 else "a") == 2 };',
    "permit(principal, action, resource) when { (true || principal.foo) == 1 };",
    "permit(principal, action, resource) when { (false || true) == 1 };",
    "permit(principal, action, resource) when { (false || false) == 1 };",
    "permit(principal, action, resource) when { (true && false) == 1 };",
    "permit(principal, action, resource) when { (true && true) == 1 };",
    "permit(principal, action, resource) when { (principal has foo) == 1 };",
    "permit(principal, action, resource) when { (principal is Photo) == 1 };",
    "permit(principal, action, resource) when { [true || false] == [1] };",
    'permit(principal, action, resource) when { (if (true || false) then 1 else 2) == "a" };',
    "permit(principal, action, resource) when { (true || false) == principal.name };",
    "permit(principal, action, resource) when { principal.name == (true || false) };",
    "permit(principal, action, resource) when { [1].contains(true || false) };",
    "permit(principal, action, resource) when { (principal has name || false) == 1 };",
    "permit(principal, action, resource) when { (false || principal has name) == 1 };",
    'permit(principal, action, resource) when { (false || "a") == 1 };',
    "permit(principal, action, resource) when { (false || false || true) == 1 };",
    "permit(principal, action, resource) when { (true || false || 1) == 1 };",
    "permit(principal, action, resource) when { (true && (true || false)) == 1 };",
    "permit(principal, action, resource) when { (true || 1) == 1 };",
    "permit(principal, action, resource) when { (true || 1) };",
    "permit(principal, action, resource) when { (false && 1) == 1 };",
    "permit(principal, action, resource) when { (false && principal.foo) == 1 };",
    "permit(principal, action, resource) when { ((1 == 2) && false) == 1 };",
    'permit(principal, action, resource) when { (false && false) == "a" };',
    'permit(principal, action, resource) when { (-3) == "a" };',
    'permit(principal, action, resource) when { --3 == "a" };',
    'permit(principal, action, resource) when { -9223372036854775808 == "a" };',
    'permit(principal, action, resource == Color::"green");',
    'permit(principal, action, resource == Color::"red");',
    'permit(principal, action, resource in Color::"green");',
    'permit(principal, action, resource is Color in Color::"green");',
    'permit(principal, action, resource) when { false && Foo::"a" == principal };',
    'permit(principal, action, resource) when { false && Action::"nope" == action };',
    "permit(principal, action, resource) when { false && principal is Foo };",
    'permit(principal, action, resource) when { false && Color::"green" == resource };',
    'permit(principal, action, resource) when { false && ip("x").isIpv4() };',
    "permit(principal, action, resource) when { false && [] == [] };",
    'permit(principal, action == Action::"nothing", resource) when { Foo::"a" == principal };',
    'permit(principal is Photo, action == Action::"view", resource) when { Color::"green" == principal };',
]


@pytest.mark.parametrize("policy", CASES)
def test_verdict_is_cedars(policy: str) -> None:
    """Every case, valid or not, gets Cedar's strict-mode verdict (cedarpy asked live)."""
    cedar = cedarpy.validate_policies(policy, CEDAR_SCHEMA)
    report = validate(policy, SCHEMA)
    assert report.ok == cedar.validation_passed, (
        [str(e.error) for e in cedar.errors],
        [str(i) for i in report.issues],
    )


def test_an_unguarded_optional_attribute_is_located() -> None:
    text = '@id("adults")\npermit(principal, action == Action::"view", resource)\nwhen { principal.age >= 18 };'
    report = validate(text, SCHEMA, path="app.cedar")
    assert not report.ok
    (issue,) = report.issues
    assert issue == ValidationIssue(
        "unsafe-optional-attribute",
        "unable to guarantee safety of access to optional attribute `age` on entity type `User`",
        "adults",
        3,
        18,
        "app.cedar",
    )
    assert str(issue).startswith("app.cedar:3:18: for policy `adults`, unable to guarantee")
    guarded = text.replace("principal.age >= 18", "principal has age && principal.age >= 18")
    assert validate(guarded, SCHEMA).ok


@pytest.mark.parametrize(
    ("policy", "kind", "where", "words"),
    [
        (
            'permit(principal, action, resource) when { principal.nme == "a" };',
            "unknown-attribute",
            (1, 54),
            "attribute `nme` on entity type `User` not found",
        ),
        (
            'permit(principal, action == Action::"publish", resource);',
            "unknown-action",
            (1, 1),
            'unrecognized action `Action::"publish"`',
        ),
        (
            "permit(principal, action, resource) when { principal is Admin };",
            "unknown-entity-type",
            (1, 54),
            "unrecognized entity type `Admin`",
        ),
        (
            'permit(principal, action, resource) when { principal.name like "a*" && 1 + "a" == 2 };',
            "type-error",
            (1, 76),
            "expected Long but saw String",
        ),
        (
            'permit(principal, action, resource) when { principal.addr.city like "x" && principal.age like "x" };',
            "unsafe-optional-attribute",
            (1, 86),
            "optional attribute `age`",
        ),
        (
            'permit(principal, action, resource) when { (if principal.name == "a" then 1 else "a") == 1 };',
            "incompatible-types",
            (1, 45),
            "the types Long and String are not compatible",
        ),
        (
            'permit(principal, action, resource is Color) when { principal.getTag("t") == "x" };',
            "unsafe-tag-access",
            (1, 63),
            'tag `"t"`',
        ),
        (
            "permit(principal is Photo, action, resource);",
            "impossible-policy",
            (1, 1),
            "unable to find an applicable action",
        ),
        (
            'permit(principal, action, resource) when { ip("1.2.3").isIpv4() };',
            "extension-argument",
            (1, 44),
            "failed to parse as IP address",
        ),
        (
            "permit(principal, action, resource) when { [] == [] };",
            "empty-set",
            (1, 44),
            "empty set literals",
        ),
    ],
)
def test_each_kind_of_issue_has_its_place(
    policy: str, kind: str, where: tuple[int, int], words: str
) -> None:
    report = validate(policy, SCHEMA, path="p.cedar")
    found = [i for i in report.issues if i.kind == kind]
    assert found, [str(i) for i in report.issues]
    assert (found[0].line, found[0].column) == where, str(found[0])
    assert words in found[0].message
    assert not cedarpy.validate_policies(policy, CEDAR_SCHEMA).validation_passed


def test_every_policy_of_a_set_is_checked_and_named() -> None:
    text = (
        '@id("ok") permit(principal, action == Action::"view", resource) when { context.ok };\n'
        '@id("bad") forbid(principal, action, resource) when { context.n > 1 };\n'
        '@id("tpl") permit(principal == ?principal, action == Action::"view", resource) when { principal.age > 1 };'
    )
    report = validate(PolicySet.from_str(text), SCHEMA, path="set.cedar")
    assert {i.policy_id for i in report.issues} == {"bad", "tpl"}  # templates are validated too
    assert all(i.path == "set.cedar" for i in report.issues)
    assert "ok" in str(validate(text.split("\n")[0], SCHEMA))


def test_bad_policy_text_is_a_policy_error() -> None:
    with pytest.raises(PolicyError):
        validate("permit(principal, action, resource", SCHEMA)
    with pytest.raises(PolicyError, match="expected a `PolicySet`"):
        validate(42, SCHEMA)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- conforms

ENTITIES = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {"name": "Alice", "tags": ["x"], "addr": {"city": "Oslo"}},
        "parents": [{"type": "Group", "id": "g"}],
        "tags": {"role": "admin"},
    },
    {"uid": {"type": "Group", "id": "g"}, "attrs": {}, "parents": []},
    {
        "uid": {"type": "Photo", "id": "p"},
        "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}, "size": 3},
        "parents": [],
    },
]
REQUEST = {
    "principal": 'User::"alice"',
    "action": 'Action::"view"',
    "resource": 'Photo::"p"',
    "context": {"ok": True},
}


def test_conforming_data_has_no_problems() -> None:
    assert conforms(SCHEMA, REQUEST, ENTITIES) == ()


@pytest.mark.parametrize(
    ("request_patch", "entity_patch", "problem"),
    [
        ({"action": 'Action::"fly"'}, None, 'unrecognized action `Action::"fly"`'),
        ({"resource": 'User::"alice"'}, None, 'resource `User::"alice"` is not allowed'),
        ({"context": {}}, None, "request.context: required attribute `ok` is missing"),
        ({"context": {"ok": 1}}, None, "request.context.ok: expected Bool, got long"),
        ({"context": {"ok": True, "extra": 1}}, None, "attribute `extra` is not declared"),
        (
            None,
            {"attrs": {"name": 1, "tags": [], "addr": {"city": "x"}}},
            ".attrs.name: expected String",
        ),
        (
            None,
            {"attrs": {"tags": [], "addr": {"city": "x"}}},
            "required attribute `name` is missing",
        ),
        (None, {"parents": [{"type": "Photo", "id": "p"}]}, "a `User` cannot be in a `Photo`"),
        (None, {"tags": {"role": 3}}, ".tags.role: expected String"),
        (None, {"uid": {"type": "Ghost", "id": "g"}}, "unrecognized entity type `Ghost`"),
    ],
)
def test_what_does_not_conform_is_named(
    request_patch: dict[str, object] | None, entity_patch: dict[str, object] | None, problem: str
) -> None:
    request = {**REQUEST, **(request_patch or {})}
    entities = [{**ENTITIES[0], **(entity_patch or {})}, *ENTITIES[1:]]
    problems = conforms(SCHEMA, request, entities)
    assert any(problem in p for p in problems), problems


def test_enumerated_ids_must_be_declared_ones() -> None:
    request = {**REQUEST, "action": 'Action::"paint"', "resource": 'Color::"green"', "context": {}}
    assert any("enumerated ids" in p for p in conforms(SCHEMA, request, ENTITIES))
    request = {**request, "resource": 'Color::"red"'}
    assert conforms(SCHEMA, request, ENTITIES) == ()
