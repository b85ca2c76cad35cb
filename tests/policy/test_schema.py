"""Cedar schemas: both forms read to equal values, errors are located, and cedarpy agrees on a corpus."""
# ruff: noqa: E501  (the corpus keeps one schema per line)

from __future__ import annotations

import json
from pathlib import Path

import cedarpy
import pytest

from lion.errors import PolicyError, SchemaError
from lion.kernel.policy import EntityUID
from lion.policy.schema import (
    Attribute,
    BoolType,
    EntityType,
    ExtensionType,
    LongType,
    RecordType,
    Schema,
    SetType,
    StringType,
)

PHOTOS = """
// a photo-sharing app
namespace App {
  type Address = { city: String, zip?: Long };
  entity Group;
  entity User in [Group] { name: String, age?: Long, home: Address, "nick name"?: String } tags String;
  entity Photo in Group = { owner: User, size: Long, seen: Set<datetime>, ip: ipaddr, };
  entity Color enum ["red", "blue"];
  action view appliesTo { principal: [User], resource: [Photo, Color], context: { ok: Bool } };
  action edit, "delete" in [view] appliesTo { principal: User, resource: Photo, context: Ctx };
  type Ctx = { limit?: decimal, took: duration };
  action nothing;
}
entity Admin in [App::Group];
action "audit" in [App::Action::"view"] appliesTo { principal: Admin, resource: App::Photo };
"""

PHOTOS_JSON = {
    "App": {
        "commonTypes": {
            "Address": {
                "type": "Record",
                "attributes": {
                    "city": {"type": "String"},
                    "zip": {"type": "Long", "required": False},
                },
            },
            "Ctx": {
                "type": "Record",
                "attributes": {
                    "limit": {"type": "Extension", "name": "decimal", "required": False},
                    "took": {"type": "duration"},
                },
            },
        },
        "entityTypes": {
            "Group": {},
            "User": {
                "memberOfTypes": ["Group"],
                "shape": {
                    "type": "Record",
                    "attributes": {
                        "name": {"type": "String"},
                        "age": {"type": "Long", "required": False},
                        "home": {"type": "Address"},
                        "nick name": {"type": "String", "required": False},
                    },
                },
                "tags": {"type": "String"},
            },
            "Photo": {
                "memberOfTypes": ["Group"],
                "shape": {
                    "type": "Record",
                    "attributes": {
                        "owner": {"type": "Entity", "name": "User"},
                        "size": {"type": "Long"},
                        "seen": {
                            "type": "Set",
                            "element": {"type": "Extension", "name": "datetime"},
                        },
                        "ip": {"type": "EntityOrCommon", "name": "ipaddr"},
                    },
                },
            },
            "Color": {"enum": ["red", "blue"]},
        },
        "actions": {
            "view": {
                "appliesTo": {
                    "principalTypes": ["User"],
                    "resourceTypes": ["Photo", "Color"],
                    "context": {"type": "Record", "attributes": {"ok": {"type": "Boolean"}}},
                }
            },
            "edit": {
                "memberOf": [{"id": "view"}],
                "appliesTo": {
                    "principalTypes": ["User"],
                    "resourceTypes": ["Photo"],
                    "context": {"type": "Ctx"},
                },
            },
            "delete": {
                "memberOf": [{"id": "view", "type": "App::Action"}],
                "appliesTo": {
                    "principalTypes": ["User"],
                    "resourceTypes": ["Photo"],
                    "context": {"type": "Ctx"},
                },
            },
            "nothing": {},
        },
    },
    "": {
        "entityTypes": {"Admin": {"memberOfTypes": ["App::Group"]}},
        "actions": {
            "audit": {
                "memberOf": [{"id": "view", "type": "App::Action"}],
                "appliesTo": {"principalTypes": ["Admin"], "resourceTypes": ["App::Photo"]},
            }
        },
    },
}


def test_the_two_forms_of_one_schema_are_equal_values() -> None:
    human = Schema.from_cedar(PHOTOS, "photos.cedarschema")
    from_json = Schema.from_json(json.dumps(PHOTOS_JSON), "photos.cedarschema.json")
    assert human == from_json
    assert Schema.from_json(PHOTOS_JSON) == human  # a decoded value works too
    cedarpy.Schema.from_str(PHOTOS)  # and Cedar reads both
    cedarpy.Schema.from_json_str(json.dumps(PHOTOS_JSON))


def test_what_a_schema_says() -> None:
    schema = Schema.from_cedar(PHOTOS)
    user = schema.entity_types["App::User"]
    assert user.member_of == ("App::Group",)
    assert user.tags == StringType()
    assert user.shape.attributes["age"] == Attribute(LongType(), required=False)
    assert user.shape.attributes["home"].type == RecordType(
        {"city": Attribute(StringType()), "zip": Attribute(LongType(), False)}
    )
    photo = schema.entity_types["App::Photo"].shape.attributes
    assert photo["owner"].type == EntityType("App::User")
    assert photo["seen"].type == SetType(ExtensionType("datetime"))
    assert photo["ip"].type == ExtensionType("ipaddr")
    assert schema.entity_types["App::Color"].enum == ("red", "blue")
    edit = schema.actions[EntityUID("App::Action", "edit")]
    assert edit.member_of == (EntityUID("App::Action", "view"),)
    assert edit.context.attributes["took"].type == ExtensionType("duration")
    assert schema.actions[EntityUID("App::Action", "nothing")].principal_types == ()
    audit = schema.actions[EntityUID("Action", "audit")]
    assert audit.resource_types == ("App::Photo",) and audit.context == RecordType()
    assert schema.action_in(EntityUID("Action", "audit"), EntityUID("App::Action", "view"))
    assert schema.may_be_in("Admin", "App::Group") and not schema.may_be_in("App::Group", "Admin")
    context = schema.actions[EntityUID("App::Action", "view")].context
    assert context.attributes["ok"].type == BoolType()


def test_to_json_reads_back_equal_and_cedar_accepts_it() -> None:
    schema = Schema.from_cedar(PHOTOS)
    written = schema.to_json()
    assert Schema.from_json(written) == schema
    cedarpy.Schema.from_json_str(json.dumps(written))


def test_from_file_reads_either_form(tmp_path: Path) -> None:
    human = tmp_path / "app.cedarschema"
    human.write_text(PHOTOS)
    as_json = tmp_path / "app.json"
    as_json.write_text(json.dumps(PHOTOS_JSON))
    sniffed = tmp_path / "app.schema"
    sniffed.write_text(json.dumps(PHOTOS_JSON))
    assert Schema.from_file(human) == Schema.from_file(as_json) == Schema.from_file(sniffed)
    with pytest.raises(SchemaError, match="cannot read schema file"):
        Schema.from_file(tmp_path / "missing.cedarschema")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("entity A { x: Foo };", "s:1:12", "failed to resolve type: `Foo`"),
        ("entity A {\n  n: { deep: { x: Nope } } };", "s:2:16", "failed to resolve type: `Nope`"),
        ("entity A;\nentity A;", "s:2:8", "`A` is declared twice"),
        ("entity A {\n  in: Long };", "s:2:3", "`in` is a reserved identifier"),
        ("entity A;\naction a in b;", "s:2:8", 'undeclared action: `Action::"b"`'),
        ("entity A {", "s:1:11", "unexpected end of input"),
        ("entity A; action a appliesTo { principal: A };", "s:1:20", "missing `resource`"),
        ("entity A;\n\n  entity B x;", "s:3:12", "unexpected `x`"),
        ("type T = U;\ntype U = T;", "s:1:6", "cycle in common type references"),
        ("action a in b;\naction b in a;", "s:", "cycle in action hierarchy"),
        ("type Long = String;", "s:1:6", "reserved schema keyword: `Long`"),
        (
            "entity A; type T = Long;\naction a appliesTo { principal: A, resource: A, context: T };",
            "s:2:8",
            "other than `Record`",
        ),
        ("entity Action;", "s:1:8", "`Action` declared"),
        ("namespace __cedar { entity A; }", "s:1:11", "reserved `__cedar`"),
        (
            "entity A; action a appliesTo { principal: [], resource: A };",
            "s:1:32",
            "`principal` is `[]`",
        ),
    ],
)
def test_human_form_errors_are_located(text: str, where: str, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        Schema.from_cedar(text, "s")
    rendered = str(caught.value)
    assert rendered.startswith(where) and message in rendered, rendered
    assert isinstance(caught.value, PolicyError)  # bad input, like a bad policy


def test_json_form_errors_are_located() -> None:
    text = '{\n  "": {\n    "entityTypes": {\n      "A": {"memberOfTypes": ["Nope"]}\n    },\n    "actions": {}\n  }\n}'
    with pytest.raises(SchemaError) as caught:
        Schema.from_json(text, "s.json")
    assert str(caught.value).startswith("s.json:4:7: failed to resolve type: `Nope`")
    with pytest.raises(SchemaError, match=r"^s.json:1:2: invalid JSON"):
        Schema.from_json("{,}", "s.json")
    with pytest.raises(SchemaError, match="duplicate key `A`"):
        Schema.from_json('{"": {"entityTypes": {"A": {}, "A": {}}, "actions": {}}}', "s.json")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep = "entity A { x: " + "Set<" * 3000 + "Long" + ">" * 3000 + " };"
    with pytest.raises(SchemaError, match="nested too deeply"):
        Schema.from_cedar(deep)


# A corpus of schemas, valid and broken; LION reads exactly those cedarpy reads.
HUMAN_CORPUS = [
    "entity A;",
    "entity A; action a appliesTo { principal: A };",
    "entity A; action a appliesTo { resource: A };",
    "entity A; action a appliesTo { principal: [], resource: [A] };",
    "entity A; action a in b;",
    "entity A; action a in b; action b in a;",
    "entity A; entity A;",
    "entity A; type A = Long;",
    "type Long = String; entity A { x: Long };",
    "type T = U; type U = T; entity A;",
    "entity A in B;",
    "entity A { x: Foo };",
    'entity E enum ["a", "b"]; entity A { e: E };',
    "entity E enum [];",
    "entity A { x: __cedar::Long, y: ipaddr, z: Boolean };",
    'entity A { x: Bool, "y z"?: Set<Set<String>>, };',
    'namespace N { entity A; action "x y" appliesTo { principal: A, resource: A, context: C }; type C = {n: Long}; }',
    "namespace N { entity A; } action a appliesTo { principal: N::A, resource: A };",
    "entity A = { in: Long };",
    "entity A = { entity: String, type: Bool, namespace: Long, appliesTo: Long, principal: Long, Set: Long, tags: Long, enum: Long };",
    "entity A = { is: Long };",
    "entity A = { __cedar: Long };",
    '@doc("x") entity A; @doc("y") @other action a appliesTo { principal: A, resource: A };',
    'entity A, B in [A] { x: Long }; action a, "b" appliesTo { principal: [A, B], resource: B };',
    "entity A; action a appliesTo { principal: A, resource: A, context: A };",
    "entity A; action a appliesTo { principal: A, resource: A, context: Set<Long> };",
    "entity A; action a appliesTo { principal: A, resource: A, principal: A };",
    "entity Action; action a;",
    'namespace A::B { entity C; action a appliesTo { principal: C, resource: A::B::C }; action b in [A::B::Action::"a"]; }',
    "entity A tags Set<String>;",
    "entity A { x: Long } tags { a: Long };",
    "entity A in [] ;",
    "action a; action a;",
    "type T = Long; action a appliesTo { principal: A, resource: A, context: T }; entity A;",
    "type T = {}; action a appliesTo { principal: A, resource: A, context: T }; entity A;",
    'entity G; entity E in [G] enum ["a"];',
    'entity E enum ["a"] in [G]; entity G;',
    'entity E enum ["a",];',
    'entity E { x: Long } enum ["a"];',
    "entity A; action a appliesTo { principal: [A,], resource: A, };",
    "entity A; action a appliesTo { };",
    'entity A; action a appliesTo { principal: A, resource: A } ;action b in [a, "a"];',
    'entity A; action a in Action::"b"; action b;',
    'entity A; action a in [Foo::Action::"b"]; namespace Foo { action b; }',
    'entity A; action a in [Foo::"b"]; namespace Foo { action b; }',
    "namespace Foo { action b; entity A; } namespace Foo { entity B; }",
    "entity A; action a appliesTo { principal: A, resource: A, context: {x: ipaddr, y: datetime, z: duration, w: decimal} };",
    "namespace __cedar { entity A; }",
    "entity A { x: Set<Long>, y: Set<{a: Long}>, z: {a: {b: Set<A>}} };",
    "type Bool = Long;",
    "type ipaddr = Long;",
    "entity ipaddr;",
    "entity Long;",
    "namespace N { type T = Long; } entity A { x: N::T };",
    "namespace N { type T = Long; } entity A { x: T };",
    "type T = Long; namespace N { entity A { x: T }; }",
    "type T = Long; namespace N { type T = String; entity A { x: T }; }",
    "entity T; namespace N { entity A { x: T }; }",
    "// comment\nentity A; // another\n",
    "entity A {x: Long} = ;",
    "entity A = {x: Long};",
    'action "a\\"b" ;',
    'entity A { "a\\nb": Long };',
    "namespace N::Action { entity A; }",
    "entity A; action a appliesTo { principal: A, resource: A, context: {} } ;",
    "entity A { x: Long, x: String };",
    "entity A { x: Set<> };",
    "entity A { x: Set<Long, Long> };",
    "entity A",
    "",
    "namespace { entity A; }",
    "entity A::B;",
    "entity A; action a appliesTo { principal: A, resource: A, context: { a?: Long } };",
    "entity A { a: A }; entity B in [A, A];",
]


@pytest.mark.parametrize("text", HUMAN_CORPUS)
def test_human_form_accepted_exactly_when_cedar_accepts(text: str) -> None:
    try:
        cedarpy.Schema.from_str(text)
        cedar_ok = True
    except ValueError:
        cedar_ok = False
    try:
        schema = Schema.from_cedar(text, "corpus.cedarschema")
    except SchemaError:
        assert not cedar_ok, f"LION refuses a schema Cedar reads: {text}"
        return
    assert cedar_ok, f"LION reads a schema Cedar refuses: {text}"
    assert Schema.from_json(schema.to_json()) == schema
    cedarpy.Schema.from_json_str(json.dumps(schema.to_json()))


JSON_CORPUS = [
    {"": {"entityTypes": {"A": {}}, "actions": {}}},
    {
        "": {
            "entityTypes": {
                "A": {"shape": {"type": "Record", "attributes": {"x": {"type": "Bool"}}}}
            },
            "actions": {},
        }
    },
    {
        "": {
            "entityTypes": {
                "A": {"shape": {"type": "Record", "attributes": {"x": {"type": "ipaddr"}}}}
            },
            "actions": {},
        }
    },
    {
        "": {
            "entityTypes": {"A": {"shape": {"type": "Record", "attributes": {"x": {"type": "A"}}}}},
            "actions": {},
        }
    },
    {
        "": {
            "entityTypes": {
                "A": {
                    "shape": {
                        "type": "Record",
                        "attributes": {"x": {"type": "EntityOrCommon", "name": "Long"}},
                    }
                }
            },
            "actions": {},
        }
    },
    {"": {"entityTypes": {"A": {"shape": {"type": "Long"}}}, "actions": {}}},
    {"": {"entityTypes": {"A": {}}, "actions": {"a": {"appliesTo": {"principalTypes": ["A"]}}}}},
    {"": {"entityTypes": {"A": {}}, "actions": {"a": {"appliesTo": {}}}}},
    {"": {"entityTypes": {"A": {}}}},
    {"": {"entityTypes": {"A": {}}, "actions": {}, "bogus": 1}},
    {"": {"entityTypes": {"A": {"foo": 1}}, "actions": {}}},
    {
        "": {
            "entityTypes": {
                "A": {"shape": {"type": "Record", "attributes": {"x": {"type": "Long", "foo": 1}}}}
            },
            "actions": {},
        }
    },
    {"": {"entityTypes": {"A": {}}, "actions": {"a": {"memberOf": [{"id": "b"}]}, "b": {}}}},
    {"": {"entityTypes": {"A": {}}, "actions": {"a": {"memberOf": [{"id": "b"}]}}}},
    {
        "": {
            "entityTypes": {
                "A": {"shape": {"type": "Record", "attributes": {}, "additionalAttributes": True}}
            },
            "actions": {},
        }
    },
    {
        "N": {
            "entityTypes": {"A": {}},
            "actions": {"a": {"memberOf": [{"id": "b", "type": "M::Action"}]}},
        },
        "M": {"entityTypes": {}, "actions": {"b": {}}},
    },
    {
        "": {"entityTypes": {"A": {"memberOfTypes": ["N::B"]}}, "actions": {}},
        "N": {"entityTypes": {"B": {}}, "actions": {}},
    },
    {
        "": {
            "entityTypes": {"A": {}},
            "actions": {
                "a": {
                    "appliesTo": {
                        "principalTypes": ["A"],
                        "resourceTypes": ["A"],
                        "context": {"type": "C"},
                    }
                }
            },
            "commonTypes": {"C": {"type": "Record", "attributes": {}}},
        }
    },
    {
        "": {
            "entityTypes": {"A": {}},
            "actions": {"a": {"appliesTo": {"principalTypes": [], "resourceTypes": ["A"]}}},
        }
    },
    {"": {"entityTypes": {"A": {"enum": ["x"]}}, "actions": {}}},
    {"": {"entityTypes": {"A": {"enum": []}}, "actions": {}}},
    {
        "": {
            "entityTypes": {"A": {"enum": ["x"], "shape": {"type": "Record", "attributes": {}}}},
            "actions": {},
        }
    },
    {"": {"entityTypes": {"A": {}}, "actions": {"a": {"appliesTo": None}}}},
    {
        "": {
            "entityTypes": {
                "A": {"shape": {"type": "Record", "attributes": {"x": {"type": "Set"}}}}
            },
            "actions": {},
        }
    },
    {
        "": {
            "entityTypes": {
                "A": {
                    "shape": {
                        "type": "Record",
                        "attributes": {"x": {"type": "Extension", "name": "nope"}},
                    }
                }
            },
            "actions": {},
        }
    },
    {
        "": {
            "entityTypes": {
                "A": {
                    "shape": {
                        "type": "Record",
                        "attributes": {"x": {"type": "Entity", "name": "B"}},
                    }
                }
            },
            "actions": {},
        }
    },
    {"": {"entityTypes": {"A": {}}, "actions": {}, "commonTypes": {"Long": {"type": "String"}}}},
    {"__cedar": {"entityTypes": {"A": {}}, "actions": {}}},
    {"": {"entityTypes": {"Action": {}}, "actions": {}}},
]


@pytest.mark.parametrize("data", JSON_CORPUS, ids=range(len(JSON_CORPUS)))
def test_json_form_accepted_exactly_when_cedar_accepts(data: object) -> None:
    text = json.dumps(data)
    try:
        cedarpy.Schema.from_json_str(text)
        cedar_ok = True
    except ValueError:
        cedar_ok = False
    try:
        schema = Schema.from_json(text, "corpus.json")
    except SchemaError:
        assert not cedar_ok, f"LION refuses a schema Cedar reads: {text}"
        return
    assert cedar_ok, f"LION reads a schema Cedar refuses: {text}"
    assert Schema.from_json(schema.to_json()) == schema
