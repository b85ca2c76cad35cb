"""Templates in the Python policy engine: slots, linking (API and Cedar JSON), errors."""

from __future__ import annotations

import json
from typing import Any

import cedarpy
import pytest

from lion.errors import PolicyError
from lion.kernel.backend import PythonBackend
from lion.kernel.policy import Decision, EntityUID, PolicySet, Scope

TEXT = """
permit(principal, action == Action::"read", resource);
@id("owner")
permit(principal == ?principal, action, resource in ?resource) when { context.ok };
forbid(principal is User in ?principal, action == Action::"delete", resource);
permit(principal, action, resource == ?resource) unless { context.ok };
"""
ENTITIES: list[dict[str, Any]] = [
    {
        "uid": {"type": "User", "id": "alice"},
        "attrs": {},
        "parents": [{"type": "Group", "id": "g"}],
    },
    {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": [{"type": "Folder", "id": "f"}]},
]


def request(principal: str, action: str, resource: str, ok: bool = True) -> dict[str, Any]:
    return {"principal": principal, "action": action, "resource": resource, "context": {"ok": ok}}


REQUESTS = [
    request(p, a, r, ok)
    for p in ['User::"alice"', 'User::"bob"']
    for a in ['Action::"read"', 'Action::"write"', 'Action::"delete"']
    for r in ['Doc::"d"', 'Doc::"e"']
    for ok in (True, False)
]


def test_slots_parse_into_scopes_and_templates_are_kept_apart() -> None:
    policies = PolicySet.from_str(TEXT)
    assert policies.ids == ("policy0",)
    assert policies.templates == ("owner", "policy2", "policy3")
    assert len(policies) == 1
    owner = policies.template("owner")
    assert owner is not None and owner.is_template and owner.template is None
    assert owner.principal == Scope("==", None, (), "?principal")
    assert owner.resource == Scope("in", None, (), "?resource")
    forbid = policies.template("policy2")
    assert forbid is not None
    assert forbid.principal == Scope("is_in", "User", (), "?principal")
    assert policies.template("policy0") is None  # a static policy, not a template
    assert policies.get("owner") is None


def test_templates_are_never_evaluated() -> None:
    policies = PolicySet.from_str("permit(principal == ?principal, action, resource);")
    response = policies.evaluate(request('User::"a"', 'Action::"r"', 'Doc::"d"'))
    assert response.decision is Decision.DENY
    assert response.results == ()


def test_a_linked_policy_evaluates_like_the_static_policy_it_spells() -> None:
    linked = (
        PolicySet.from_str(TEXT)
        .link("owner", "alice-d", {"?principal": 'User::"alice"', "?resource": 'Folder::"f"'})
        .link("policy2", "no-delete", {"?principal": {"type": "Group", "id": "g"}})
        .link("policy3", "open-e", {"?resource": {"__entity": {"type": "Doc", "id": "e"}}})
    )
    static = PolicySet.from_str(
        """permit(principal, action == Action::"read", resource);
        @id("alice-d")
        permit(principal == User::"alice", action, resource in Folder::"f") when { context.ok };
        @id("no-delete")
        forbid(principal is User in Group::"g", action == Action::"delete", resource);
        @id("open-e")
        permit(principal, action, resource == Doc::"e") unless { context.ok };"""
    )
    assert linked.ids == ("policy0", "alice-d", "no-delete", "open-e")
    assert [p.template for p in linked.policies] == [None, "owner", "policy2", "policy3"]
    # a linked policy is the static policy it spells, `@id` included
    for ours, theirs in zip(linked.policies, static.policies, strict=True):
        assert (ours.id, ours.principal, ours.resource, ours.conditions, ours.annotations) == (
            theirs.id,
            theirs.principal,
            theirs.resource,
            theirs.conditions,
            theirs.annotations,
        )
    seen = set()
    for req in REQUESTS:
        ours, theirs = linked.evaluate(req, ENTITIES), static.evaluate(req, ENTITIES)
        assert (ours.decision, ours.determining) == (theirs.decision, theirs.determining), req
        seen.add((ours.decision, ours.determining))
    assert len(seen) >= 4  # the requests exercise every linked policy


def test_link_returns_a_new_set_and_leaves_the_old_one_alone() -> None:
    base = PolicySet.from_str(TEXT)
    one = base.link("policy3", "a", {"?resource": 'Doc::"e"'})
    two = one.link("policy3", "b", {"?resource": 'Doc::"d"'})
    assert base.ids == ("policy0",)
    assert one.ids == ("policy0", "a")
    assert two.ids == ("policy0", "a", "b")
    assert two.templates == base.templates
    req = request('User::"bob"', 'Action::"write"', 'Doc::"d"', ok=False)
    assert base.evaluate(req).decision is Decision.DENY
    assert one.evaluate(req).decision is Decision.DENY
    assert two.evaluate(req).determining == ("b",)


@pytest.mark.parametrize(
    ("template", "new_id", "slots", "message"),
    [
        ("nope", "x", {}, "`nope` is not a template"),
        ("policy0", "x", {}, "`policy0` is a static policy, not a template"),
        ("policy3", "policy0", {"?resource": 'Doc::"d"'}, "a policy already has that id"),
        ("policy3", "owner", {"?resource": 'Doc::"d"'}, "a template already has that id"),
        ("policy3", "", {"?resource": 'Doc::"d"'}, "non-empty string id"),
        ("owner", "x", {"?principal": 'User::"a"'}, "needs a value for `?resource`"),
        ("policy3", "x", {}, "template `policy3` needs a value for `?resource`"),
        (
            "policy3",
            "x",
            {"?resource": 'Doc::"d"', "?principal": 'User::"a"'},
            "template `policy3` has no slot `?principal`",
        ),
        ("policy3", "x", {"?resource": 'Doc::"d"', "?other": 'A::"b"'}, "has no slot `?other`"),
        ("policy3", "x", {"?resource": "Doc"}, "slots.?resource: `Doc` is not an entity uid"),
        ("policy3", "x", {"?resource": {"type": "Doc"}}, "slots.?resource: an entity uid needs"),
        ("policy3", "x", [("?resource", 'Doc::"d"')], "expected a mapping"),
    ],
)
def test_link_errors(template: str, new_id: str, slots: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("?", r"\?")):
        PolicySet.from_str(TEXT).link(template, new_id, slots)


def test_a_link_id_cannot_be_reused_by_a_later_link() -> None:
    once = PolicySet.from_str(TEXT).link("policy3", "x", {"?resource": 'Doc::"d"'})
    with pytest.raises(PolicyError, match="a policy already has that id"):
        once.link("policy3", "x", {"?resource": 'Doc::"e"'})


LINKS = [
    {
        "templateId": "owner",
        "newId": "alice-d",
        "values": {
            "?principal": {"type": "User", "id": "alice"},
            "?resource": {"type": "Folder", "id": "f"},
        },
    },
    {"templateId": "policy3", "newId": "open-e", "values": {"?resource": 'Doc::"e"'}},
]


@pytest.mark.parametrize("form", ["decoded", "text"])
def test_link_all_reads_cedars_json_links(form: str) -> None:
    links: Any = LINKS if form == "decoded" else json.dumps(LINKS)
    linked = PolicySet.from_str(TEXT).link_all(links)
    assert linked.ids == ("policy0", "alice-d", "open-e")
    alice = linked.policies[1]
    assert alice.principal.entities == (EntityUID("User", "alice"),)
    assert alice.resource.entities == (EntityUID("Folder", "f"),)


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ("{", "template links: invalid JSON"),
        ({"templateId": "owner"}, "expected an array"),
        ([1], r"links\[0\]: expected an object"),
        ([{"newId": "a", "values": {}}], r"links\[0\]: missing `templateId`"),
        ([{"templateId": "policy3", "values": {}}], r"links\[0\]: missing `newId`"),
        ([{"templateId": "policy3", "newId": "a"}], r"links\[0\]: missing `values`"),
        ([{"templateId": "policy3", "newId": 3, "values": {}}], r"links\[0\].newId"),
        ([{"templateId": "t", "newId": "a", "values": {}, "x": 1}], "unexpected key `x`"),
        (
            [LINKS[1], {"templateId": "policy3", "newId": "z", "values": {"?resource": "bad"}}],
            r"links\[1\].values.\?resource",
        ),
        ([LINKS[1], LINKS[1]], "cannot link `open-e`: a policy already has that id"),
    ],
)
def test_link_all_errors_name_the_link(links: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        PolicySet.from_str(TEXT).link_all(links)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("permit(principal == ?resource, action, resource);", "template slot `?principal`"),
        ("permit(principal, action, resource in ?principal);", "template slot `?resource`"),
        ("permit(principal == ?foo, action, resource);", "found `?foo`"),
        ("permit(principal, action == ?action, resource);", "the action scope takes an entity"),
        (
            "permit(principal, action, resource) when { principal == ?principal };",
            "`?principal` can appear only in the principal or resource scope",
        ),
        (
            "permit(principal == ?principal, action, resource) unless { ?principal in [] };",
            "can appear only in the principal or resource scope",
        ),
        ("permit(principal is ?principal, action, resource);", "unexpected `?principal`"),
        ("permit(principal in [?principal], action, resource);", "unexpected `?principal`"),
    ],
)
def test_misplaced_slots_are_parse_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("?", r"\?")) as info:
        PolicySet.from_str(text)
    assert info.value.location is not None
    with pytest.raises(ValueError):  # noqa: PT011 - Cedar rejects them too, in its own words
        cedarpy.PolicySet.from_str(text)


def test_linking_agrees_with_cedarpy() -> None:
    ours = PolicySet.from_str(TEXT).link_all(LINKS)
    theirs = cedarpy.PolicySet.from_str(TEXT).with_linked_batch(
        [
            {"template_id": link["templateId"], "new_id": link["newId"], "values": link["values"]}
            for link in LINKS
        ]
    )
    for req in REQUESTS:
        mine = ours.evaluate(req, ENTITIES)
        cedar = cedarpy.is_authorized(req, theirs, ENTITIES)
        assert cedar.diagnostics.errors == []
        expected = Decision.PERMIT if cedar.decision == cedarpy.Decision.Allow else Decision.DENY
        assert (mine.decision, mine.determining) == (
            expected,
            tuple(sorted(cedar.diagnostics.reasons)),
        ), req


def test_the_python_backend_links_through_the_engine_protocol() -> None:
    engine = PythonBackend().policy_set(TEXT)
    assert tuple(engine.templates) == ("owner", "policy2", "policy3")
    linked = engine.link("policy3", "open-e", {"?resource": 'Doc::"e"'}).link_all(LINKS[:1])
    assert tuple(linked.ids) == ("policy0", "open-e", "alice-d")
    assert len(linked) == 3 and len(engine) == 1
    req = request('User::"bob"', 'Action::"write"', 'Doc::"e"', ok=False)
    assert linked.evaluate(req).determining == ("open-e",)
