//! Extension types and templates in the Rust policy engine: Cedar's semantics
//! (values checked against cedarpy 4.12.2), the reference's messages, and
//! round-trip properties of the text forms.

use lion_core::policy::ext::{
    self, datetime_text, decimal_text, duration_text, parse_datetime, parse_decimal,
    parse_duration, parse_ip, ExtFn,
};
use lion_core::policy::json::{parse_json, Json};
use lion_core::policy::templates::parse_links;
use lion_core::policy::{Decision, Entities, Limits, PolicySet, Request, Value};
use proptest::prelude::*;

fn json(text: &str) -> Json {
    let parsed = parse_json(text);
    assert!(parsed.is_ok(), "{text}: {parsed:?}");
    parsed.unwrap_or(Json::Null)
}

fn request(context: &str) -> Result<Request, String> {
    let text = format!(
        r#"{{"principal": "User::\"alice\"", "action": "Action::\"read\"",
            "resource": "Doc::\"d\"", "context": {context}}}"#
    );
    Request::from_json(&json(&text), &Limits::default()).map_err(|e| e.to_string())
}

fn set(text: &str) -> PolicySet {
    let parsed = PolicySet::parse(text, "<policies>", Limits::default());
    assert!(parsed.is_ok(), "{text}: {parsed:?}");
    let Ok(parsed) = parsed else { unreachable!() };
    parsed
}

/// The decision of one `when` condition, and the first error message.
fn decide_in(expr: &str, context: &str) -> (Decision, String) {
    let policies = set(&format!(
        "permit(principal, action, resource) when {{ {expr} }};"
    ));
    let req = request(context);
    assert!(req.is_ok(), "{req:?}");
    let Ok(req) = req else { unreachable!() };
    let r = policies.evaluate(&req, &Entities::empty());
    let error = r.errors.first().map(|e| e.1.clone()).unwrap_or_default();
    (r.decision, error)
}

fn holds(expr: &str) -> bool {
    let (decision, error) = decide_in(expr, "{}");
    assert!(error.is_empty(), "{expr}: {error}");
    decision == Decision::Permit
}

fn error_of(expr: &str) -> String {
    let (decision, error) = decide_in(expr, "{}");
    assert_eq!(decision, Decision::Indeterminate, "{expr}");
    error
}

#[test]
fn decimals_have_four_digits_and_the_i64_range() {
    assert_eq!(parse_decimal("1.23"), Ok(12_300));
    assert_eq!(parse_decimal("-0.0001"), Ok(-1));
    assert_eq!(parse_decimal("922337203685477.5807"), Ok(i64::MAX));
    assert_eq!(parse_decimal("-922337203685477.5808"), Ok(i64::MIN));
    assert_eq!(parse_decimal("01.0"), Ok(10_000));
    let overflow =
        "error while evaluating `decimal` extension function: overflow when converting to decimal";
    assert_eq!(
        parse_decimal("922337203685477.5808"),
        Err(overflow.to_string())
    );
    assert_eq!(parse_decimal("١.٢"), Err(overflow.to_string())); // digits, not ASCII
    for bad in ["1.", ".5", "+1.0", "1", "1.2.3", "--1.0", ""] {
        let want = format!(
            "error while evaluating `decimal` extension function: `{bad}` is not a well-formed decimal value"
        );
        assert_eq!(parse_decimal(bad), Err(want));
    }
    assert!(parse_decimal("1.23456")
        .is_err_and(|e| e.ends_with("too many digits after the decimal in `1.23456`")));
    assert_eq!(decimal_text(12_300), "1.23");
    assert_eq!(decimal_text(-1), "-0.0001");
    assert_eq!(decimal_text(i64::MIN), "-922337203685477.5808");
    assert!(holds(r#"decimal("1.23") == decimal("1.2300")"#));
    assert!(holds(r#"decimal("-0.0") == decimal("0.0")"#));
    assert!(holds(r#"decimal("1.23").lessThan(decimal("1.24"))"#));
    assert!(holds(
        r#"decimal("1.24").greaterThanOrEqual(decimal("1.24"))"#
    ));
    assert!(!holds(r#"decimal("1.0") == 1"#));
}

#[test]
fn ip_ranges_follow_cedar() {
    assert!(holds(r#"ip("10.0.0.1").isInRange(ip("10.0.0.0/24"))"#));
    assert!(holds(r#"ip("10.0.0.0/24").isInRange(ip("10.0.0.0/16"))"#));
    assert!(!holds(r#"ip("10.0.0.0/16").isInRange(ip("10.0.0.0/24"))"#));
    assert!(!holds(r#"ip("10.0.0.1").isInRange(ip("::/0"))"#));
    assert!(holds(
        r#"ip("127.0.0.2").isLoopback() && ip("::1").isLoopback()"#
    ));
    assert!(!holds(r#"ip("::2").isLoopback()"#));
    assert!(holds(
        r#"ip("224.0.0.1").isMulticast() && ip("ff00::1").isMulticast()"#
    ));
    assert!(holds(r#"ip("::1").isIpv6() && ip("1.2.3.4").isIpv4()"#));
    // The address is kept as written: the same network written twice differs.
    assert!(!holds(r#"ip("10.0.0.1/24") == ip("10.0.0.0/24")"#));
    assert!(holds(r#"ip("::1/128") == ip("::1")"#));
    let cases = [
        ("10.0.0.1/33", "error parsing prefix: 33 is larger than the limit 32"),
        ("1.2.3.4/024", "error parsing prefix: string length 3 is too large"),
        ("010.0.0.1", "invalid IP address: 010.0.0.1"),
        (" 1.2.3.4", "invalid IP address:  1.2.3.4"),
        ("1.2.3.4/", "error parsing prefix from the string ``: cannot parse integer from empty string"),
        ("1.2.3.4/x", "error parsing prefix `x`: encountered non-digit"),
        ("::1/08", "error parsing prefix `08`: leading zero(s)"),
        ("fe80::1%eth0/8", "error parsing IP address from the string `fe80::1%eth0`: invalid IP address syntax"),
        ("::ffff:127.0.0.1", "error parsing IP address from string: We do not accept IPv4 embedded in IPv6 (e.g., ::ffff:127.0.0.1). Found: `::ffff:127.0.0.1`"),
    ];
    for (text, message) in cases {
        let want = format!("error while evaluating `ipaddr` extension function: {message}");
        assert_eq!(parse_ip(text).err(), Some(want), "{text}");
    }
    let shown = parse_ip("2001:db8:0:0:1:0:0:1/64").map(|ip| ip.to_string());
    assert_eq!(shown.as_deref(), Ok("ip(\"2001:db8::1:0:0:1/64\")"));
}

#[test]
fn datetimes_take_cedars_five_forms() {
    let day = ext::MS_PER_DAY;
    let y2024 = 19_723 * day; // 2024-01-01
    assert_eq!(parse_datetime("2024-01-01"), Ok(y2024));
    assert_eq!(parse_datetime("2024-01-01T00:00:00Z"), Ok(y2024));
    assert_eq!(parse_datetime("2024-01-01T00:00:00.001Z"), Ok(y2024 + 1));
    assert_eq!(
        parse_datetime("2024-01-01T00:00:00+0100"),
        Ok(y2024 - 3_600_000)
    );
    assert_eq!(
        parse_datetime("2024-01-01T00:00:00.500-0030"),
        Ok(y2024 + 1_800_500)
    );
    assert_eq!(parse_datetime("1969-12-31"), Ok(-day));
    assert_eq!(
        parse_datetime("2024-02-29").map(|t| t - y2024),
        Ok(59 * day)
    );
    let cases = [
        ("2024-02-30", "invalid date: 2024-02-30"),
        ("2023-02-29", "invalid date: 2023-02-29"),
        ("1900-02-29", "invalid date: 1900-02-29"),
        ("2024-04-31", "invalid date: 2024-04-31"),
        (
            "2024-01-01T24:00:00Z",
            "invalid hour/minute/second: 24:00:00",
        ),
        (
            "2024-01-01T00:00:60Z",
            "invalid hour/minute/second: 00:00:60",
        ),
        (
            "2024-01-01T00:00:00.1Z",
            "invalid millisecond and/or offset pattern",
        ),
        (
            "2024-01-01T00:00:00+01:00",
            "invalid millisecond and/or offset pattern",
        ),
        (
            "2024-01-01T00:00:00",
            "invalid millisecond and/or offset pattern",
        ),
        ("2024-01-01T00:00:00+2400", "invalid offset range: 240"),
        ("2024-01-01T0:00:00Z", "invalid hour/minute/second pattern"),
        ("2024-1-01", "invalid date pattern"),
    ];
    for (text, message) in cases {
        let want = format!("error while evaluating `datetime` extension function: {message}");
        assert_eq!(parse_datetime(text), Err(want), "{text}");
    }
    assert!(holds(
        r#"datetime("2024-01-01T00:00:00+0100") < datetime("2024-01-01")"#
    ));
    assert!(holds(
        r#"datetime("1969-12-31T12:00:00Z").toDate() == datetime("1969-12-31")"#
    ));
    assert!(holds(
        r#"datetime("1969-12-31T12:00:00Z").toTime() == duration("12h")"#
    ));
    assert!(holds(
        r#"datetime("2024-01-01").offset(duration("1d")) == datetime("2024-01-02")"#
    ));
    assert!(holds(
        r#"datetime("2024-01-02").durationSince(datetime("2024-01-01")) == duration("1d")"#
    ));
    let far = r#"datetime("1970-01-01").offset(duration("9223372036854775807ms"))"#;
    assert!(error_of(&format!("{far}.offset(duration(\"1ms\")) == {far}")).starts_with(
        "error while evaluating `offset` extension function: overflows when adding an offset: \
         datetime(\"1970-01-01\").offset(duration(\"9223372036854775807ms\")).offset(duration(\"1ms\"))"
    ));
}

#[test]
fn durations_parse_in_unit_order_and_truncate() {
    assert_eq!(parse_duration("1d2h3m4s5ms"), Ok(93_784_005));
    assert_eq!(parse_duration("1m1ms"), Ok(60_001));
    assert_eq!(parse_duration("-9223372036854775808ms"), Ok(i64::MIN));
    assert_eq!(
        parse_duration("106751991167d"),
        Ok(106_751_991_167 * ext::MS_PER_DAY)
    );
    for bad in ["1h1d", "", "-", "1d-1h", "1ms1m", "1.5h", "1 d", "d"] {
        assert_eq!(
            parse_duration(bad),
            Err(
                "error while evaluating `duration` extension function: invalid duration pattern"
                    .into()
            ),
            "{bad}"
        );
    }
    for big in [
        "9223372036854775808ms",
        "106751991168d",
        "99999999999999999999999999999d",
    ] {
        assert!(parse_duration(big)
            .is_err_and(|e| e.ends_with("Duration overflows internal representation")));
    }
    assert!(holds(r#"duration("-1d12h").toDays() == -1"#));
    assert!(holds(r#"duration("36h").toDays() == 1"#));
    assert!(holds(r#"duration("1h") < duration("2h")"#));
    assert_eq!(duration_text(0), "0ms");
    assert_eq!(duration_text(-93_784_005), "-1d2h3m4s5ms");
}

#[test]
fn comparisons_and_calls_report_type_and_arity_errors() {
    let at = |m: &str, col: u32| format!("{m} (at 1:{col})");
    assert_eq!(
        error_of(r#"decimal("1.23") < decimal("1.24")"#),
        at(
            "type error: expected one of [long, datetime, duration], got decimal",
            60
        )
    );
    assert_eq!(
        error_of(r#"duration("1h") < datetime("2024-01-01")"#),
        at("type error: expected duration, got datetime", 59)
    );
    assert_eq!(
        error_of(r#"duration("1h").lessThan(duration("2h"))"#),
        at("type error: expected decimal, got duration", 59)
    );
    assert_eq!(
        error_of(r#"ip("1.2.3.4", "x").isIpv4()"#),
        at(
            "wrong number of arguments provided to extension function `ip`: expected 1, got 2",
            44
        )
    );
    assert_eq!(
        error_of(r#"ip("::1").isInRange()"#),
        at("wrong number of arguments provided to extension function `isInRange`: expected 2, got 1", 54)
    );
    assert_eq!(
        error_of("decimal(1) == decimal(1)"),
        at("type error: expected string, got long", 44)
    );
    for (text, message) in [
        (
            "permit(principal, action, resource) when { context.decimal(\"1.0\") };",
            "`decimal` is a function, not a method",
        ),
        (
            "permit(principal, action, resource) when { isIpv4(ip(\"::1\")) };",
            "`isIpv4` is a method, not a function",
        ),
        (
            "permit(principal, action, resource) when { nope(1) };",
            "`nope` is not a valid function",
        ),
    ] {
        let err = PolicySet::parse(text, "p", Limits::default())
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains(message)),
            "{text}: {err:?}"
        );
    }
}

#[test]
fn extn_json_makes_values_or_names_the_field() {
    let ctx = r#"{"a": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
                  "d": {"__extn": {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "2024-01-01"}},
                                                            {"__extn": {"fn": "duration", "arg": "1d"}}]}}}"#;
    let (decision, error) = decide_in(
        r#"context.a.isInRange(ip("10.0.0.0/8")) && context.d == datetime("2024-01-02")"#,
        ctx,
    );
    assert_eq!((decision, error.as_str()), (Decision::Permit, ""));
    let cases = [
        (r#"{"x": {"__extn": {"fn": "decimal", "arg": "1.23456"}}}"#,
         "request.context.x.__extn: error while evaluating `decimal` extension function: too many digits after the decimal in `1.23456`"),
        (r#"{"x": {"__extn": {"fn": "nope", "arg": "1"}}}"#,
         "request.context.x.__extn: extension function `nope` does not exist"),
        (r#"{"x": {"__extn": {"arg": "1"}}}"#,
         "request.context.x.__extn: `fn` must name an extension function, got null"),
        (r#"{"x": {"__extn": {"fn": "ip"}}}"#,
         "request.context.x.__extn: an extension value needs exactly one of `arg` and `args`"),
        (r#"{"x": {"__extn": {"fn": "ip", "args": "1"}}}"#,
         "request.context.x.__extn.args: expected an array, got a string"),
        (r#"{"x": {"__extn": "1.5"}}"#,
         "request.context.x.__extn: expected an object such as {\"fn\": \"ip\", \"arg\": \"10.0.0.1\"}, got a string"),
        (r#"{"x": {"__extn": {"fn": "decimal", "arg": 1}}}"#,
         "request.context.x.__extn: type error: expected string, got long"),
    ];
    for (context, message) in cases {
        assert_eq!(
            request(context).err().as_deref(),
            Some(message),
            "{context}"
        );
    }
}

#[test]
fn ext_values_compare_by_type_and_value() {
    let a = ext::call(ExtFn::Decimal, &[Value::Str("1.0".into())]);
    let b = ext::call(ExtFn::Duration, &[Value::Str("10000ms".into())]);
    assert!(matches!(a, Ok(Value::Decimal(10_000))));
    assert!(matches!(b, Ok(Value::Duration(10_000))));
    assert_ne!(a, b); // same number inside, different types
    assert!(holds(
        r#"[ip("::1"), decimal("1.0")].contains(decimal("1.0000")) && !([ip("::1")].contains(ip("::1/127")))"#
    ));
}

const TEMPLATES: &str = r#"
@id("t") permit(principal == ?principal, action, resource in ?resource) when { context.ok };
@id("s") forbid(principal, action, resource) when { context.deny };
@id("u") permit(principal is User in ?principal, action, resource);
"#;

#[test]
fn templates_are_kept_apart_and_linked_policies_decide() {
    let base = set(TEMPLATES);
    let ids =
        |s: &PolicySet| -> Vec<String> { s.policies().iter().map(|p| p.id.clone()).collect() };
    assert_eq!(ids(&base), vec!["s"]);
    let templates: Vec<&str> = base.templates().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(templates, vec!["t", "u"]);
    let linked = base.link(
        "t",
        "alice-docs",
        json(r#"{"?principal": "User::\"alice\"", "?resource": {"type": "Doc", "id": "d"}}"#),
    );
    let Ok(linked) = linked else {
        unreachable!("{linked:?}")
    };
    assert_eq!(ids(&linked), vec!["s", "alice-docs"]);
    assert_eq!(ids(&base), vec!["s"]); // the set is immutable
    assert_eq!(linked.policies()[1].template.as_deref(), Some("t"));
    let req = request(r#"{"ok": true, "deny": false}"#);
    let Ok(req) = req else { unreachable!() };
    let r = linked.evaluate(&req, &Entities::empty());
    assert_eq!(
        (r.decision, r.determining),
        (Decision::Permit, vec!["alice-docs".to_string()])
    );
    // Linking errors, worded as the reference's.
    let cases = [
        (
            "t",
            "s",
            "{}",
            "cannot link `s`: a policy already has that id",
        ),
        (
            "t",
            "u",
            "{}",
            "cannot link `u`: a template already has that id",
        ),
        (
            "s",
            "x",
            "{}",
            "cannot link `x`: `s` is a static policy, not a template",
        ),
        (
            "nope",
            "x",
            "{}",
            "cannot link `x`: `nope` is not a template",
        ),
        (
            "u",
            "x",
            "{}",
            "slots: template `u` needs a value for `?principal`",
        ),
        (
            "u",
            "x",
            r#"{"?principal": "User::\"a\"", "?resource": "Doc::\"d\""}"#,
            "slots: template `u` has no slot `?resource`",
        ),
        (
            "u",
            "x",
            r#"{"?p": 1}"#,
            "slots: template `u` has no slot `?p` (slots are `?principal` and `?resource`)",
        ),
        (
            "u",
            "x",
            r#"{"?principal": "alice"}"#,
            "slots.?principal: `alice` is not an entity uid such as `User::\"alice\"`",
        ),
        (
            "u",
            "x",
            "[]",
            "slots: expected a mapping from slots such as `?principal` to entity uids, got `list`",
        ),
    ];
    for (template, new_id, values, message) in cases {
        let err = base
            .link(template, new_id, json(values))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(message),
            "{template} {new_id} {values}"
        );
    }
}

#[test]
fn template_links_json_is_all_or_nothing() {
    let base = set(TEMPLATES);
    let good = parse_links(&json(
        r#"[{"templateId": "u", "newId": "g1", "values": {"?principal": {"type": "Group", "id": "g"}}},
            {"templateId": "u", "newId": "g2", "values": {"?principal": {"type": "Group", "id": "h"}}}]"#,
    ));
    let Ok(good) = good else {
        unreachable!("{good:?}")
    };
    let linked = base.link_all(&good);
    assert!(linked.is_ok_and(|s| s.len() == 3));
    let twice = [good.clone(), good].concat();
    let err = base.link_all(&twice).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("cannot link `g1`: a policy already has that id")
    );
    for (links, message) in [
        ("{}", "template links: expected an array, got `dict`"),
        (r#"[1]"#, "links[0]: expected an object, got `int`"),
        (
            r#"[{"templateId": "u", "newId": "x"}]"#,
            "links[0]: missing `values`",
        ),
        (
            r#"[{"templateId": "u", "newId": "", "values": {}}]"#,
            "links[0].newId: expected a non-empty string",
        ),
        (
            r#"[{"newId": "x", "values": {}, "zz": 1, "aa": 2}]"#,
            "links[0]: unexpected key `aa`",
        ),
    ] {
        let err = parse_links(&json(links)).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(message), "{links}");
    }
}

#[test]
fn slots_stand_only_in_their_own_scope() {
    for (text, message) in [
        (
            "permit(principal == ?resource, action, resource);",
            "expected an entity uid or the template slot `?principal`, found `?resource`",
        ),
        (
            "permit(principal, action == ?principal, resource);",
            "the action scope takes an entity uid, not a template slot such as `?principal`",
        ),
        (
            "permit(principal, action, resource) when { principal == ?principal };",
            "the template slot `?principal` can appear only in the principal or resource scope",
        ),
    ] {
        let err = PolicySet::parse(text, "p", Limits::default())
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains(message)),
            "{text}: {err:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn datetime_text_parses_back(ms in -62_167_219_200_000i64..253_402_300_800_000) {
        let text = datetime_text(ms);
        prop_assert!(text.is_some());
        prop_assert_eq!(parse_datetime(&text.unwrap_or_default()), Ok(ms));
    }

    #[test]
    fn duration_and_decimal_texts_parse_back(n in any::<i64>()) {
        prop_assert_eq!(parse_duration(&duration_text(n)), Ok(n));
        prop_assert_eq!(parse_decimal(&decimal_text(n)), Ok(n));
    }

    #[test]
    fn extension_parsers_never_panic(text in "\\PC{0,30}") {
        let _ = (parse_decimal(&text), parse_ip(&text), parse_datetime(&text), parse_duration(&text));
    }
}
