"""format_policies: the canonical layout, comments, and the parentheses precedence needs."""

from __future__ import annotations

import cedarpy
import pytest

from lion.errors import PolicyError
from lion.kernel.policy import PolicySet, parse_policies
from lion.policy.format import format_policies, format_policy


def fmt(text: str, width: int = 80) -> str:
    out = format_policies(text, width=width)
    assert format_policies(out, width=width) == out, "not a fixed point"
    assert repr(parse_policies(out)) == repr(parse_policies(text)), "meaning changed"
    cedarpy.format_policies(out)  # Cedar reads it too
    return out


def cond(expr: str) -> str:
    """The canonical form of one `when` expression."""
    out = fmt(f"permit(principal, action, resource) when {{ {expr} }};", width=500)
    head = "permit (principal, action, resource) when { "
    assert out.startswith(head) and out.endswith(" };\n"), out
    return out[len(head) : -len(" };\n")]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("(1+2)*3==9", "(1 + 2) * 3 == 9"),
        ("1+(2*3)==7", "1 + 2 * 3 == 7"),
        ("1-(2-3)==2", "1 - (2 - 3) == 2"),
        ("(1-2)-3==-4", "1 - 2 - 3 == -4"),
        ("((context.a || context.b)) && context.c", "(context.a || context.b) && context.c"),
        ("context.a || (context.b && context.c)", "context.a || context.b && context.c"),
        ("context.a && (context.b && context.c)", "context.a && (context.b && context.c)"),
        ("(context.a && context.b) && context.c", "context.a && context.b && context.c"),
        ("!(!context.x)", "!!context.x"),
        ("!(context.a == context.b)", "!(context.a == context.b)"),
        ("-(-5) == 5", "--5 == 5"),
        ("-(-(-(-(-5)))) == 3", "----(-5) == 3"),
        ("(-5).x", "(-5).x"),
        ("!(-context.n == 1)", "!(-context.n == 1)"),
        ("-(!context.b)", "-(!context.b)"),
        ("1 - -5 == 6", "1 - -5 == 6"),
        ("(if context.a then 1 else 2) + 1 == 3", "(if context.a then 1 else 2) + 1 == 3"),
        (
            "if context.a then (context.b || context.c) else (1 == 2)",
            "if context.a then context.b || context.c else 1 == 2",
        ),
        ("(context.a == context.b) == context.c", "(context.a == context.b) == context.c"),
        ('(principal in Group::"g") in context.s', '(principal in Group::"g") in context.s'),
        ('context["a"]["if"]["b c"]', 'context.a["if"]["b c"]'),
        ('context has "if" && context has "x"', 'context has "if" && context has x'),
        ("context has a.b.c", "context has a.b.c"),
        ("context has a && context.a has b", "context has a.b"),
        ('context.s like "a\\*b*c"', 'context.s like "a\\*b*c"'),
        ('"tab\\there\\u{1}\\u{e9}" == "\\x41"', '"tab\\there\\u{1}\u00e9" == "A"'),
        ('[1,2,] == [{a: 1, "b c": 2, "then": 3}]', '[1, 2] == [{a: 1, "b c": 2, "then": 3}]'),
        ("principal is A::B in (context.g)", "principal is A::B in context.g"),
        ("(principal is A::B) == true", "(principal is A::B) == true"),
        ("context.s.contains((1+2))", "context.s.contains(1 + 2)"),
        ('User::"a\\"b".x == -9223372036854775808', 'User::"a\\"b".x == -9223372036854775808'),
    ],
)
def test_canonical_expressions(written: str, canonical: str) -> None:
    assert cond(written) == canonical


def test_fixed_point_of_canonical_text_is_the_text() -> None:
    text = 'permit (principal == User::"a", action, resource) when { context.ok };\n'
    assert fmt(text) == text


def test_head_breaks_one_constraint_per_line_and_conditions_break_inside_braces() -> None:
    text = (
        '@id("long") @advice permit(principal == User::"alice", action in [Action::"read", '
        'Action::"write"], resource in Folder::"some-long-folder-name-that-is-long") when '
        "{ principal.department == context.department_of_the_requester && resource.owner "
        "== principal } unless { context.blocked };"
    )
    assert fmt(text) == (
        '@id("long")\n'
        "@advice\n"
        "permit (\n"
        '  principal == User::"alice",\n'
        '  action in [Action::"read", Action::"write"],\n'
        '  resource in Folder::"some-long-folder-name-that-is-long"\n'
        ")\n"
        "when {\n"
        "  principal.department == context.department_of_the_requester &&\n"
        "  resource.owner == principal\n"
        "}\n"
        "unless { context.blocked };\n"
    )


def test_nested_chains_indent_their_continuation_lines() -> None:
    long = " && ".join(f"context.attribute_number_{i}" for i in range(4))
    out = fmt(f"permit(principal, action, resource) when {{ {long} || context.other }};")
    assert out.splitlines()[1:] == [
        "when {",
        "  context.attribute_number_0 &&",
        "    context.attribute_number_1 &&",
        "    context.attribute_number_2 &&",
        "    context.attribute_number_3 ||",
        "  context.other",
        "};",
    ]


def test_lines_stay_within_80_columns_when_tokens_allow() -> None:
    elements = ", ".join(f'"element-{i}"' for i in range(30))
    text = (
        f"forbid(principal, action, resource) when {{ [{elements}].containsAny(context.tags) && "
        "(if context.a then {first: context.b, second: context.c, third: context.d} "
        "else {first: 1, second: 2, third: 3}) == context.rec };"
    )
    out = fmt(text)
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert '    "element-0",' in out.splitlines(), out


def test_one_action_in_a_list_is_written_without_brackets() -> None:
    out = fmt('permit(principal, action in [Action::"a"], resource);')
    assert out == 'permit (principal, action in Action::"a", resource);\n'
    assert fmt("permit(principal, action in [], resource);") == (
        "permit (principal, action in [], resource);\n"
    )


def test_comments_are_kept_by_the_stated_rules() -> None:
    text = (
        "// header\n\n"
        "// about a\n"
        '@id("a") permit(principal, action, resource) when {\n'
        "  // inside a\n"
        "  context.ok\n"
        "}; // after a\n"
        "forbid(principal, action, resource);\n"
        "// the end\n"
    )
    assert fmt(text) == (
        "// header\n"
        "\n"
        "// about a\n"
        "// inside a\n"
        '@id("a")\n'
        "permit (principal, action, resource) when { context.ok }; // after a\n"
        "\n"
        "forbid (principal, action, resource);\n"
        "\n"
        "// the end\n"
    )


def test_comment_markers_inside_strings_are_not_comments() -> None:
    text = 'permit(principal, action, resource) when { context.u == "http://x;y" }; // c\n'
    assert fmt(text) == (
        'permit (principal, action, resource) when { context.u == "http://x;y" }; // c\n'
    )


def test_only_comments_and_nothing() -> None:
    assert format_policies("") == ""
    assert format_policies("  \n") == ""
    assert format_policies("// a\n\n\n// b\n") == "// a\n\n// b\n"


def test_bad_text_is_a_policy_error_with_location() -> None:
    with pytest.raises(PolicyError) as info:
        format_policies("permit(principal, action, resource) when { 1 + };", "p.cedar")
    assert str(info.value).startswith("p.cedar:1:")


def test_a_policy_set_keeps_ids_that_would_not_be_assigned_again() -> None:
    policies = parse_policies(
        '@id("x") permit(principal, action, resource);\nforbid(principal, action, resource);'
    )
    renamed = [policies[1].__class__(**{**_fields(policies[1]), "id": "custom"})]
    out = format_policies(PolicySet([policies[0], *renamed]))
    reread = parse_policies(out)
    assert [p.id for p in reread] == ["x", "custom"]
    # ids assigned by position need no annotation
    assert format_policies(PolicySet(parse_policies("permit(principal, action, resource);"))) == (
        "permit (principal, action, resource);\n"
    )


def _fields(policy: object) -> dict[str, object]:
    return {name: getattr(policy, name) for name in policy.__dataclass_fields__}  # type: ignore[attr-defined]


def test_format_policy_of_one_policy() -> None:
    (policy,) = parse_policies(
        '@a("1") forbid(principal is User, action, resource is Doc in Folder::"f");'
    )
    assert format_policy(policy) == (
        '@a("1")\nforbid (principal is User, action, resource is Doc in Folder::"f");'
    )


def test_templates_and_extension_calls() -> None:
    text = (
        '@id("t") permit(principal is User in ?principal, action, resource == ?resource) when '
        '{ ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) && decimal("1.23").lessThan(decimal('
        'context.x)) && datetime("2024-01-01").offset(duration("1h")).toDate() == '
        'datetime("2024-01-01") };'
    )
    assert fmt(text) == (
        '@id("t")\n'
        "permit (principal is User in ?principal, action, resource == ?resource)\n"
        "when {\n"
        '  ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) &&\n'
        '  decimal("1.23").lessThan(decimal(context.x)) &&\n'
        '  datetime("2024-01-01").offset(duration("1h")).toDate() ==\n'
        '    datetime("2024-01-01")\n'
        "};\n"
    )


def test_a_policy_set_prints_static_policies_and_templates_not_links() -> None:
    text = (
        '@id("s") forbid(principal, action, resource);\n'
        '@id("t") permit(principal == ?principal, action, resource);'
    )
    linked = PolicySet.from_str(text).link("t", "l1", {"?principal": 'User::"a"'})
    assert [p.id for p in linked.policies] == ["s", "l1"]
    assert format_policies(linked) == (
        '@id("s")\nforbid (principal, action, resource);\n\n'
        '@id("t")\npermit (principal == ?principal, action, resource);\n'
    )


def test_links_can_be_written_as_the_static_policies_they_stand_for() -> None:
    text = (
        "forbid(principal, action, resource) when { context.stop };\n"
        '@id("t") permit(principal == ?principal, action, resource in ?resource);'
    )
    linked = PolicySet.from_str(text).link_all(
        [
            {
                "templateId": "t",
                "newId": "alice-d",
                "values": {"?principal": 'User::"alice"', "?resource": 'Doc::"d"'},
            },
            {
                "templateId": "t",
                "newId": "bob-d",
                "values": {"?principal": 'User::"bob"', "?resource": 'Doc::"d"'},
            },
        ]
    )
    out = format_policies(linked, links=True)
    assert format_policies(out) == out
    again = PolicySet.from_str(out)
    assert [p.id for p in again.policies] == ["policy0", "alice-d", "bob-d"]
    assert again.templates == ("t",)
    for who in ("alice", "bob", "carol"):
        for stop in (True, False):
            request = {
                "principal": f'User::"{who}"',
                "action": 'Action::"read"',
                "resource": 'Doc::"d"',
                "context": {"stop": stop},
            }
            assert again.evaluate(request).decision == linked.evaluate(request).decision
            assert again.evaluate(request).determining == linked.evaluate(request).determining
