//! The policy engine: hand-written cases for the language, the limits and the
//! error locations, and properties that live only in Rust (the step bound,
//! combine laws, Kleene laws, the parser never panicking or overflowing).

use lion_core::policy::eval::Env;
use lion_core::policy::json::parse_json;
use lion_core::policy::{combine, Decision, Effect, Entities, Kleene, Limits, PolicySet, Request};
use lion_core::CoreError;
use proptest::prelude::*;

const ENTITIES: &str = r#"[
  {"uid": {"type": "User", "id": "alice"},
   "attrs": {"age": 30, "tags": ["a", "b"], "boss": {"__entity": {"type": "User", "id": "bob"}}},
   "parents": [{"type": "Group", "id": "staff"}], "tags": {"level": 3}},
  {"uid": {"type": "Group", "id": "staff"}, "parents": [{"type": "Group", "id": "all"}]},
  {"uid": {"type": "Group", "id": "all"}}
]"#;

fn entities() -> Entities {
    let json = parse_json(ENTITIES).unwrap_or(lion_core::policy::json::Json::Null);
    Entities::from_json(&json, &Limits::default()).unwrap_or_default()
}

fn request(context: &str) -> Request {
    let text = format!(
        r#"{{"principal": "User::\"alice\"", "action": "Action::\"read\"",
            "resource": "Doc::\"d\"", "context": {context}}}"#
    );
    let json = parse_json(&text).map_err(|e| format!("{e:?}"));
    assert!(json.is_ok(), "{json:?}");
    let req = Request::from_json(
        &json.unwrap_or(lion_core::policy::json::Json::Null),
        &Limits::default(),
    );
    assert!(req.is_ok(), "{req:?}");
    req.unwrap_or_else(|_| unreachable!())
}

fn parse(text: &str) -> Result<PolicySet, CoreError> {
    PolicySet::parse(text, "<policies>", Limits::default())
}

/// Decision, determining ids and errors of one `when` condition.
fn decide(expr: &str, context: &str) -> (Decision, Vec<String>, Vec<(String, String)>) {
    let set = parse(&format!(
        "permit(principal, action, resource) when {{ {expr} }};"
    ));
    assert!(set.is_ok(), "{expr}: {set:?}");
    let Ok(set) = set else { unreachable!() };
    let r = set.evaluate(&request(context), &entities());
    (r.decision, r.determining, r.errors)
}

fn error_of(expr: &str) -> String {
    let (decision, _, errors) = decide(expr, "{}");
    assert_eq!(decision, Decision::Indeterminate, "{expr}");
    errors.first().map(|e| e.1.clone()).unwrap_or_default()
}

#[test]
fn operators_evaluate() {
    for expr in [
        "1 + 2 * 3 == 7",
        "-9223372036854775808 < 0",
        r#""abc" like "a*c""#,
        r#"!("abc" like "a*b")"#,
        "principal in Group::\"all\"",
        "principal is User in Group::\"staff\"",
        "principal.boss is User",
        "principal has age && principal.age >= 18",
        "principal.tags.contains(\"a\") && principal.tags.containsAll([\"b\"])",
        "[1, 2].containsAny([2, 3]) && [].isEmpty()",
        "principal.hasTag(\"level\") && principal.getTag(\"level\") == 3",
        "{a: 1, b: [true]} == {b: [true], a: 1}",
        "true != 1",
        "(if 1 > 2 then 1 else 2) == 2",
        "context.x || true",
        "context has x.y || !(context has x)",
    ] {
        assert_eq!(decide(expr, "{}").0, Decision::Permit, "{expr}");
    }
}

#[test]
fn errors_carry_the_reference_messages() {
    assert_eq!(
        error_of("context.x"),
        "record does not have the attribute `x` (at 1:52)"
    );
    assert_eq!(
        error_of("9223372036854775807 + 1 > 0"),
        "integer overflow while adding `9223372036854775807` and `1` (at 1:64)"
    );
    assert_eq!(
        error_of("User::\"ghost\".age > 1"),
        "entity `User::\"ghost\"` does not exist (at 1:58)"
    );
    assert_eq!(
        error_of("1"),
        "type error: expected bool, got long (at 1:44)"
    );
    assert_eq!(
        error_of("principal in [1]"),
        "type error: expected entity, got long (at 1:54)"
    );
    assert_eq!(
        error_of("principal.boss.age > 1"),
        "entity `User::\"bob\"` does not exist (at 1:59)"
    );
}

#[test]
fn parse_errors_name_the_place() {
    for (text, place) in [
        ("permit(principal, action, resource)", "<policies>:1:36"),
        ("permit(principal, action, resource) when { 1 + };", "<policies>:1:48"),
        ("permit(principal, action, resource) when { context.if };", "<policies>:1:52"),
        ("permit(principal, action, resource) when { a == b == c };", "<policies>:1:51"),
        ("permit(principal, action, resource) when { !=1 };", "<policies>:1:45"),
        ("permit(principal, action, resource);\npermit(p, action, resource);", "<policies>:2:8"),
        ("@id(\"x\") permit(principal, action, resource);\n@id(\"x\") permit(principal, action, resource);", "<policies>:2:2"),
        ("permit(principal, action, resource) when { \"abc };", "<policies>:1:44"),
        ("permit(principal, action, resource) when { 9223372036854775808 };", "<policies>:1:44"),
    ] {
        let result = parse(text);
        let prefix = format!("{place}: ");
        assert!(
            matches!(&result, Err(CoreError::Policy(msg)) if msg.starts_with(&prefix)),
            "{text}: {result:?}"
        );
    }
}

#[test]
fn ids_follow_the_reference() {
    let set = parse(
        "@id(\"a\") permit(principal, action, resource);\nforbid(principal, action, resource);",
    );
    let ids: Vec<String> = set
        .map(|s| s.policies().iter().map(|p| p.id.clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["a", "policy1"]);
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let parens = format!(
        "permit(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(parse(&parens).is_ok());
    for (open, close) in [
        ("[", "]"),
        ("!(", ")"),
        ("{a: ", "}"),
        ("if true then ", ""),
        ("-", ""),
    ] {
        let text = format!(
            "permit(principal, action, resource) when {{ {}1{} }};",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        let result = parse(&text);
        assert!(
            matches!(&result, Err(CoreError::Policy(msg))
                if msg.contains("nested too deeply") || msg.contains("too many occurrences")),
            "{open}: {result:?}"
        );
    }
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let data = parse_json(&deep_json);
    assert!(data.is_err());
}

#[test]
fn step_limit_makes_the_policy_unknown() {
    let text = format!(
        "permit(principal, action, resource) when {{ {} }};",
        vec!["1 + 1 == 2"; 50].join(" && ")
    );
    let limits = Limits {
        max_steps: 40,
        ..Limits::default()
    };
    let set = PolicySet::parse(&text, "<policies>", limits);
    assert!(set.is_ok(), "{set:?}");
    let Ok(set) = set else { return };
    let r = set.evaluate(&request("{}"), &entities());
    assert_eq!(r.decision, Decision::Indeterminate);
    assert_eq!(r.errors[0].1, "evaluation took more than 40 steps");
}

#[test]
fn limits_are_validated() {
    assert!(Limits {
        max_depth: 401,
        ..Limits::default()
    }
    .validate()
    .is_err());
    assert!(Limits {
        max_steps: 0,
        ..Limits::default()
    }
    .validate()
    .is_err());
    assert!(Limits::default().validate().is_ok());
}

#[test]
fn index_does_not_change_results() {
    let mut rules = Vec::new();
    for i in 0..50 {
        rules.push(format!(
            "permit(principal == User::\"u{i}\", action, resource);"
        ));
        rules.push(format!(
            "forbid(principal in Group::\"g{}\", action == Action::\"a{i}\", resource);",
            i % 3
        ));
        rules.push(format!("permit(principal is User, action in [Action::\"a{i}\", Action::\"read\"], resource is Doc);"));
    }
    let set = parse(&rules.join("\n"));
    assert!(set.is_ok(), "{set:?}");
    let Ok(set) = set else { return };
    let ents = entities();
    let req = request("{}");
    let mut env = Env::new(&req, &ents, 1000);
    // Brute force: every policy, no index.
    let mut triples = Vec::new();
    for p in set.policies() {
        let (value, _) = env.evaluate_policy(p);
        triples.push((p.effect, p.id.as_str(), value));
    }
    let (decision, determining) = combine(triples);
    let r = set.evaluate(&req, &ents);
    assert_eq!((r.decision, r.determining), (decision, determining));
}

// -- properties ------------------------------------------------------------------------

fn kleene() -> impl Strategy<Value = Kleene> {
    prop_oneof![
        Just(Kleene::True),
        Just(Kleene::False),
        Just(Kleene::Unknown)
    ]
}

fn triples() -> impl Strategy<Value = Vec<(Effect, String, Kleene)>> {
    prop::collection::vec(
        (
            prop_oneof![Just(Effect::Permit), Just(Effect::Forbid)],
            prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(String::from),
            kleene(),
        ),
        0..8,
    )
}

fn expr_strategy() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "true",
        "false",
        "1",
        "-1",
        "9223372036854775807",
        "context.x",
        "context.s",
        "principal",
        "\"ab\"",
        "[1, 2]",
        "context",
        "principal.tags",
        "{a: 1}",
    ])
    .prop_map(String::from);
    leaf.prop_recursive(5, 64, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["&&", "||", "==", "+", "*", "<", "in"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("(if {a} then {b} else {c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}.contains({b})")),
            inner.prop_map(|a| format!("({a} like \"a*\")")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn combine_ignores_order_and_duplicates(mut ts in triples(), seed in any::<u64>()) {
        let as_refs = |ts: &[(Effect, String, Kleene)]| -> Vec<(Effect, String, Kleene)> { ts.to_vec() };
        let run = |ts: &[(Effect, String, Kleene)]| combine(ts.iter().map(|(e, i, v)| (*e, i.as_str(), *v)));
        let first = run(&ts);
        let mut doubled = as_refs(&ts);
        doubled.extend(as_refs(&ts));
        prop_assert_eq!(run(&doubled), first.clone());
        if !ts.is_empty() {
            let k = (seed as usize) % ts.len();
            ts.rotate_left(k);
            ts.reverse();
        }
        prop_assert_eq!(run(&ts), first);
    }

    #[test]
    fn combine_laws(ts in triples()) {
        let run = |ts: &[(Effect, String, Kleene)]| combine(ts.iter().map(|(e, i, v)| (*e, i.as_str(), *v)));
        let (decision, determining) = run(&ts);
        let has = |e: Effect, v: Kleene| ts.iter().any(|t| t.0 == e && t.2 == v);
        // A TRUE forbid always denies; a PERMIT needs a TRUE permit and no doubtful forbid.
        if has(Effect::Forbid, Kleene::True) { prop_assert_eq!(decision, Decision::Deny); }
        if decision == Decision::Permit {
            prop_assert!(has(Effect::Permit, Kleene::True));
            prop_assert!(!has(Effect::Forbid, Kleene::Unknown));
        }
        // Determining ids are sorted and distinct.
        let mut sorted = determining.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&sorted, &determining);
        // Adding a FALSE policy changes nothing.
        let mut more = ts.clone();
        more.push((Effect::Forbid, "z".into(), Kleene::False));
        more.push((Effect::Permit, "y".into(), Kleene::False));
        prop_assert_eq!(run(&more), (decision, determining));
    }

    #[test]
    fn kleene_laws(a in kleene(), b in kleene()) {
        prop_assert_eq!(a.and(b), b.and(a));
        prop_assert_eq!(a.or(b), b.or(a));
        prop_assert_eq!(a.and(b).negate(), a.negate().or(b.negate()));
        prop_assert_eq!(a.negate().negate(), a);
    }

    #[test]
    fn evaluation_stays_within_its_step_bound(expr in expr_strategy(), max_steps in 1usize..60) {
        let text = format!("permit(principal, action, resource) when {{ {expr} }};");
        let limits = Limits { max_steps, ..Limits::default() };
        if let Ok(set) = PolicySet::parse(&text, "<policies>", limits) {
            let ents = entities();
            let req = request(r#"{"x": true, "s": "abc"}"#);
            let mut env = Env::new(&req, &ents, max_steps);
            for p in set.policies() {
                let (value, error) = env.evaluate_policy(p);
                let limited = error.as_deref() == Some(&format!("evaluation took more than {max_steps} steps"));
                if !limited {
                    prop_assert!(env.steps() <= max_steps, "{} steps for {}", env.steps(), expr);
                } else {
                    prop_assert_eq!(value, Kleene::Unknown);
                }
            }
        }
    }

    #[test]
    fn parser_never_panics_and_errors_are_located(text in "\\PC{0,80}") {
        if let Err(CoreError::Policy(msg)) = parse(&text) {
            prop_assert!(msg.starts_with("<policies>:"), "{}", msg);
        }
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "(", ")", "{", "}", "[", "]", ";", ",", ".", "!", "-", "permit", "when", "principal",
        "action", "resource", "context", "if", "then", "else", "in", "is", "has", "like", "==",
        "&&", "||", "::", ":", "1", "\"s\"", "User", "?principal", "@", "id", "9223372036854775808",
    ]), 0..40)) {
        let body = tokens.join(" ");
        for text in [format!("permit(principal, action, resource) when {{ {body} }};"), body] {
            if let Err(CoreError::Policy(msg)) = parse(&text) {
                prop_assert!(msg.starts_with("<policies>:"), "{}", msg);
            }
        }
    }

    #[test]
    fn json_parser_never_panics(text in "\\PC{0,60}") {
        let _ = parse_json(&text);
        let _ = Entities::from_json(&parse_json(&text).unwrap_or(lion_core::policy::json::Json::Null), &Limits::default());
    }
}

#[test]
fn results_list_every_policy_in_set_order() {
    let set = parse(
        r#"@id("f") forbid(principal, action, resource) when { context.x > 1 };
           @id("skipped") permit(principal == User::"bob", action, resource);
           @id("p") permit(principal, action, resource);"#,
    );
    let Ok(set) = set else { unreachable!() };
    let r = set.evaluate(&request("{}"), &entities());
    assert_eq!(r.decision, Decision::Indeterminate);
    let results: Vec<(&str, Effect, Kleene, Option<&str>)> = set
        .results(&r)
        .iter()
        .map(|p| (p.policy_id, p.effect, p.value, p.error))
        .collect();
    let message = "record does not have the attribute `x` (at 1:61)";
    assert_eq!(
        results,
        vec![
            ("f", Effect::Forbid, Kleene::Unknown, Some(message)),
            ("skipped", Effect::Permit, Kleene::False, None),
            ("p", Effect::Permit, Kleene::True, None),
        ]
    );
    // The errors are the UNKNOWN results, and the hits every non-FALSE one.
    assert_eq!(r.errors, vec![("f".to_string(), message.to_string())]);
    let hits: Vec<u32> = r.hits.iter().map(|h| h.index).collect();
    assert_eq!(hits, vec![0, 2]);
}
