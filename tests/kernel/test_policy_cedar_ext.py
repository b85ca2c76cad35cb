"""Cedar agreement for extension types and templates, including requests where Cedar errs.

Random policy sets use ``decimal``, ``ip``, ``datetime`` and ``duration``
literals (some malformed), their methods, comparisons and equality, over
entity attributes and context values that hold ``__extn`` JSON (some
malformed, some of the wrong type); some policies are templates, linked at
random with ``link_all`` and, in Cedar, with ``PolicySet.with_linked_batch``.

LION refines Cedar (its ``&&``, ``||`` and ``if`` are Kleene, so some of
Cedar's errors are values in LION, never the other way round). Per request:

1. the request is rejected (PolicyError) by LION exactly when Cedar cannot
   build it or its entities;
2. LION's erroring (UNKNOWN) policy ids are a subset of Cedar's;
3. every policy whose value Cedar tells (it evaluated it without error, and
   its effect is that of the decision, or Cedar denied by default) has the
   same value in LION: TRUE iff Cedar lists it among the reasons;
4. hence, when Cedar reports no error, LION reports none and the decision and
   determining policies are Cedar's; and a definite LION decision never
   contradicts Cedar's on a request where Cedar has no error.

(With Cedar errors, a definite LION decision can differ from Cedar's: for
``permit when { context.missing || true }`` LION permits, Cedar drops the
policy and denies. That is the documented refinement, not a disagreement.)

A failing case is saved under tests/corpus/policy/ext/ and replayed by
``test_corpus_replays``. ``LION_EXAMPLES=3000`` runs a larger campaign.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import cedarpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lion.errors import PolicyError
from lion.kernel.policy import Decision, Effect, Kleene, PolicySet
from lion.kernel.policy._extensions import call_extension

EXAMPLES = int(os.environ.get("LION_EXAMPLES", 150))
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "policy" / "ext"

USERS = ['User::"alice"', 'User::"bob"']
GROUPS = ['Group::"admins"', 'Group::"all"']
DOCS = ['Doc::"d1"', 'Doc::"d2"']
ACTIONS = ['Action::"read"', 'Action::"write"']


def uid_json(text: str) -> dict[str, str]:
    type_name, ident = text.split("::")
    return {"type": type_name, "id": json.loads(ident)}


# -- extension arguments: mostly valid, some malformed, boundaries included -------------

DECIMALS = ["0.0", "1.0", "1.5", "-1.5", "1.2345", "0.0001", "12.34", "-0.0"]
DECIMALS += ["922337203685477.5807", "-922337203685477.5808"]
BAD_DECIMALS = ["1.23456", "1.", "x", "922337203685477.5808", "1"]
IPS = ["10.0.0.1", "10.0.0.0/8", "10.1.2.3/16", "127.0.0.1", "127.0.0.0/8", "::1", "::/0"]
IPS += ["ff02::1", "224.0.0.1", "192.168.0.0/16", "0.0.0.0/0", "fe80::1/64", "::1/127"]
BAD_IPS = ["10.0.0.1/33", "::ffff:1.2.3.4", "01.2.3.4", "1.2.3", "::1/0128"]
DATETIMES = ["2024-01-01", "2024-02-29", "2023-02-28T23:59:59Z", "2024-01-01T00:00:00.000Z"]
DATETIMES += ["2024-03-10T12:30:00+0130", "2024-03-10T12:30:00.500-0800", "0000-01-01"]
DATETIMES += ["1969-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z", "2024-12-31"]
BAD_DATETIMES = ["2023-02-29", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+2400", "2024-1-1"]
DURATIONS = ["0ms", "1ms", "1s", "1m", "1h", "1d", "-1d", "1d2h3m4s5ms", "90m", "-36h"]
DURATIONS += ["9223372036854775807ms", "-9223372036854775808ms", "106751991167d"]
BAD_DURATIONS = ["1h1d", "x", "106751991168d", ""]

GOOD = {"decimal": DECIMALS, "ip": IPS, "datetime": DATETIMES, "duration": DURATIONS}
BAD = {"decimal": BAD_DECIMALS, "ip": BAD_IPS, "datetime": BAD_DATETIMES, "duration": BAD_DURATIONS}
KIND_OF_ATTR = {"dec": "decimal", "ip": "ip", "dt": "datetime", "dur": "duration"}


def ext_arg(fn: str, bad_weight: int = 1) -> st.SearchStrategy[str]:
    return st.one_of(*([st.sampled_from(GOOD[fn])] * 8), *([st.sampled_from(BAD[fn])] * bad_weight))


def extn(fn: str) -> st.SearchStrategy[Any]:
    return st.sampled_from(GOOD[fn]).map(lambda a: {"__extn": {"fn": fn, "arg": a}})


def attr_value(name: str) -> st.SearchStrategy[Any]:
    """A JSON attribute value: usually the extension value the name suggests."""
    if name in KIND_OF_ATTR:
        fn = KIND_OF_ATTR[name]
        return st.one_of(extn(fn), extn(fn), extn(fn), extn(fn), st.integers(-2, 2), st.just("s"))
    if name == "n":
        return st.integers(-3, 3)
    if name == "s":
        return st.sampled_from(["", "a", "10.0.0.1"])
    return st.lists(st.one_of(extn("decimal"), extn("ip"), extn("duration")), max_size=3)


attr_names = ["dec", "ip", "dt", "dur", "n", "s", "set"]
attrs = st.fixed_dictionaries({}, optional={name: attr_value(name) for name in attr_names})
malformed = st.sampled_from(list(GOOD)).flatmap(
    lambda fn: st.sampled_from(BAD[fn]).map(lambda a: {"__extn": {"fn": fn, "arg": a}})
)


# Hypothesis favours boundary integers, so `integers(0, 30) == 0` would be far from rare.
RARELY = st.sampled_from([False] * 39 + [True])


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    context = draw(attrs)
    if draw(RARELY):  # now and then a value Cedar cannot build
        context["bad"] = draw(malformed)
    return context


@st.composite
def entity_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for uid in USERS + DOCS + GROUPS:
        if uid != USERS[0] and not draw(st.booleans()):
            continue
        parents = [] if uid in GROUPS else draw(st.lists(st.sampled_from(GROUPS), max_size=2))
        entity_attrs = draw(attrs) if uid not in GROUPS else {}
        if draw(RARELY):
            entity_attrs["bad"] = draw(malformed)
        out.append(
            {
                "uid": uid_json(uid),
                "attrs": entity_attrs,
                "parents": [uid_json(p) for p in dict.fromkeys(parents)],
            }
        )
    return out


# -- expressions -------------------------------------------------------------------

HOLDERS = ["context", "principal", "resource"]


def attr(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(HOLDERS).map(lambda h: f"{h}.{name}")


def literal(fn: str) -> st.SearchStrategy[str]:
    return ext_arg(fn).map(lambda a: f'{fn}("{a}")')


@functools.cache
def ext_expr(fn: str, depth: int) -> st.SearchStrategy[str]:
    name = {"decimal": "dec", "ip": "ip", "datetime": "dt", "duration": "dur"}[fn]
    base = [literal(fn), literal(fn), attr(name)]
    if depth > 0 and fn == "datetime":
        dt, dur = ext_expr("datetime", depth - 1), ext_expr("duration", depth - 1)
        base.append(st.tuples(dt, dur).map(lambda t: f"{t[0]}.offset({t[1]})"))
        base.append(dt.map(lambda x: f"{x}.toDate()"))
    if depth > 0 and fn == "duration":
        dt = ext_expr("datetime", depth - 1)
        base.append(st.tuples(dt, dt).map(lambda t: f"{t[0]}.durationSince({t[1]})"))
        base.append(dt.map(lambda x: f"{x}.toTime()"))
    if depth > 0:
        sub = ext_expr(fn, depth - 1)
        base.append(
            st.tuples(bools(depth - 1), sub, sub).map(
                lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"
            )
        )
    return st.one_of(*base)


@functools.cache
def any_ext(depth: int) -> st.SearchStrategy[str]:
    return st.one_of(
        *(ext_expr(fn, depth) for fn in GOOD),
        st.sampled_from(["context.n", "context.s", "1", '"10.0.0.1"']),
    )


DURATION_TO = ["toDays", "toHours", "toMinutes", "toSeconds", "toMilliseconds"]
DECIMAL_CMP = ["lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"]
IP_TESTS = ["isIpv4", "isIpv6", "isLoopback", "isMulticast"]


@functools.cache
def longs(depth: int) -> st.SearchStrategy[str]:
    base = [
        st.sampled_from(["0", "1", "-1", "24", "context.n", "principal.n"]),
        st.tuples(ext_expr("duration", depth), st.sampled_from(DURATION_TO)).map(
            lambda t: f"{t[0]}.{t[1]}()"
        ),
    ]
    return st.one_of(*base)


@functools.cache
def bools(depth: int) -> st.SearchStrategy[str]:
    atoms = st.sampled_from(["true", "false", "context has dec", "principal has ip"])
    if depth < 0:
        return atoms
    dec, ip = ext_expr("decimal", depth), ext_expr("ip", depth)
    dt, dur = ext_expr("datetime", depth), ext_expr("duration", depth)
    anys = any_ext(depth)
    options = [
        atoms,
        st.tuples(dec, st.sampled_from(DECIMAL_CMP), dec).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
        st.tuples(ip, st.sampled_from(IP_TESTS)).map(lambda t: f"{t[0]}.{t[1]}()"),
        st.tuples(ip, ip).map(lambda t: f"{t[0]}.isInRange({t[1]})"),
        st.tuples(st.one_of(dt, dur), st.sampled_from(["<", "<=", ">", ">="]), st.one_of(dt, dur))
        .map(" ".join)
        .map(lambda s: f"({s})"),
        st.tuples(longs(depth), st.sampled_from(["<", "==", ">="]), longs(depth))
        .map(" ".join)
        .map(lambda s: f"({s})"),
        st.tuples(anys, st.sampled_from(["==", "!="]), anys).map(" ".join).map(lambda s: f"({s})"),
        st.tuples(st.lists(anys, max_size=3), anys).map(
            lambda t: f"[{', '.join(t[0])}].contains({t[1]})"
        ),
        st.tuples(attr("set"), anys).map(lambda t: f"{t[0]}.contains({t[1]})"),
        # misuse: methods and comparisons on the wrong types
        st.tuples(anys, st.sampled_from([*DECIMAL_CMP, "isInRange"]), anys).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        st.tuples(anys, st.sampled_from(IP_TESTS), st.sampled_from(["", "1"])).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        st.tuples(anys, st.sampled_from(["<", ">="]), anys).map(" ".join).map(lambda s: f"({s})"),
    ]
    if depth > 0:
        sub = bools(depth - 1)
        options.append(
            st.tuples(sub, st.sampled_from(["&&", "||"]), sub).map(" ".join).map(lambda s: f"({s})")
        )
        options.append(sub.map(lambda x: f"(!{x})"))
        options.append(
            st.tuples(sub, sub, sub).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})")
        )
    return st.one_of(*options)


# -- policy sets with templates and links ---------------------------------------------

PRINCIPAL_SCOPES = ["principal", f"principal == {USERS[0]}", f"principal in {GROUPS[0]}"]
RESOURCE_SCOPES = ["resource", f"resource == {DOCS[0]}", "resource is Doc"]
PRINCIPAL_SLOTS = ["principal == ?principal", "principal in ?principal"]
PRINCIPAL_SLOTS += ["principal is User in ?principal"]
RESOURCE_SLOTS = ["resource == ?resource", "resource in ?resource", "resource is Doc in ?resource"]
ACTION_SCOPES = ["action", f"action == {ACTIONS[0]}", f"action in [{ACTIONS[0]}, {ACTIONS[1]}]"]


@st.composite
def policy_sets(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """Policy text (static policies and templates) and Cedar JSON template links."""
    count = draw(st.integers(1, 5))
    texts: list[str] = []
    templates: dict[str, tuple[str, ...]] = {}
    for index in range(count):
        slotted = draw(st.sampled_from(["", "", "P", "R", "PR"]))
        principal = draw(st.sampled_from(PRINCIPAL_SLOTS if "P" in slotted else PRINCIPAL_SCOPES))
        resource = draw(st.sampled_from(RESOURCE_SLOTS if "R" in slotted else RESOURCE_SCOPES))
        action = draw(st.sampled_from(ACTION_SCOPES))
        effect = draw(st.sampled_from(["permit", "permit", "forbid"]))
        conditions = draw(
            st.lists(st.tuples(st.sampled_from(["when", "unless"]), bools(1)), max_size=2)
        )
        body = " ".join(f"{kind} {{ {expr} }}" for kind, expr in conditions)
        texts.append(f"{effect}({principal}, {action}, {resource}) {body};")
        if slotted:
            templates[f"policy{index}"] = tuple(
                s for s, flag in (("?principal", "P"), ("?resource", "R")) if flag in slotted
            )
    links: list[dict[str, Any]] = []
    if templates:
        for index in range(draw(st.integers(0, 4))):
            template = draw(st.sampled_from(sorted(templates)))
            values = {
                slot: uid_json(
                    draw(st.sampled_from(USERS + GROUPS if slot == "?principal" else DOCS + GROUPS))
                )
                for slot in templates[template]
            }
            links.append({"templateId": template, "newId": f"link{index}", "values": values})
    return "\n".join(texts), links


requests = st.fixed_dictionaries(
    {
        "principal": st.sampled_from(USERS + GROUPS[:1]),
        "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from(DOCS),
        "context": contexts(),
    }
)


# -- comparison ----------------------------------------------------------------------

_POLICY_ERROR = re.compile(r"^error while evaluating policy `(.*?)`: ", re.S)


def cedar_set(policies: str, links: list[dict[str, Any]]) -> cedarpy.PolicySet:
    base = cedarpy.PolicySet.from_str(policies)
    if not links:
        return base
    return base.with_linked_batch(
        [
            {"template_id": x["templateId"], "new_id": x["newId"], "values": x["values"]}
            for x in links
        ]
    )


def compare(
    policies: str,
    links: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    reqs: list[dict[str, Any]],
) -> Counter[str]:
    """Run both engines on every request; assert the refinement relation; count outcomes."""
    lion = PolicySet.from_str(policies).link_all(links)
    results = cedarpy.is_authorized_batch(reqs, cedar_set(policies, links), entities)
    stats: Counter[str] = Counter()
    for req, cedar in zip(reqs, results, strict=True):
        errors = cedar.diagnostics.errors
        matches = [_POLICY_ERROR.match(e) for e in errors]
        cedar_rejects = cedar.decision == cedarpy.Decision.NoDecision and not all(matches)
        try:
            ours = lion.evaluate(req, entities)
        except PolicyError as exc:
            assert cedar_rejects, (policies, links, req, str(exc), errors)
            stats["both_rejected_input"] += 1
            continue
        assert not cedar_rejects, (policies, links, req, errors)
        cedar_errors = {m.group(1) for m in matches if m}
        reasons = set(cedar.diagnostics.reasons)
        ours_unknown = {r.policy_id for r in ours.results if r.value is Kleene.UNKNOWN}
        assert ours_unknown <= cedar_errors, (policies, links, req, ours.explain(), errors)
        assert {r.policy_id for r in ours.results} == set(lion.ids)
        # Cedar's reasons are the determining policies: the satisfied permits when it allows,
        # the satisfied forbids when a forbid denies (then the permits' values are not told).
        allowed = cedar.decision == cedarpy.Decision.Allow
        told = Effect.PERMIT if allowed else Effect.FORBID
        for result in ours.results:
            if result.policy_id in cedar_errors or (result.effect is not told and reasons):
                continue
            want = Kleene.TRUE if result.policy_id in reasons else Kleene.FALSE
            assert result.value is want, (policies, links, req, result, ours.explain(), errors)
            stats["policy_values_compared"] += 1
        if not cedar_errors:
            expected = (
                Decision.PERMIT if cedar.decision == cedarpy.Decision.Allow else Decision.DENY
            )
            assert ours.errors == ()
            assert (ours.decision, ours.determining) == (expected, tuple(sorted(reasons)))
            stats["agreed"] += 1
            stats[f"agreed_{ours.decision.name.lower()}"] += 1
        else:
            stats["cedar_errors"] += 1
            stats["lion_unknown"] += bool(ours_unknown)
            stats["lion_resolved_some"] += len(cedar_errors - ours_unknown) > 0
        stats["linked_policies_true"] += sum(
            1 for r in ours.results if r.policy_id.startswith("link") and r.value is Kleene.TRUE
        )
    return stats


def save_case(
    policies: str,
    links: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    reqs: list[dict[str, Any]],
) -> Path:
    case = {"policies": policies, "links": links, "entities": entities, "requests": reqs}
    text = json.dumps(case, indent=1)
    name = hashlib.sha256(text.encode()).hexdigest()[:16]
    CORPUS.mkdir(parents=True, exist_ok=True)
    path = CORPUS / f"random-{name}.json"
    path.write_text(text + "\n")
    return path


def test_random_extension_and_template_policies_refine_cedar() -> None:
    totals: Counter[str] = Counter()
    last_failure: list[tuple[Any, ...]] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(
        policy_set=policy_sets(),
        entities=entity_lists(),
        reqs=st.lists(requests, min_size=1, max_size=4),
    )
    def run(
        policy_set: tuple[str, list[dict[str, Any]]],
        entities: list[dict[str, Any]],
        reqs: list[dict[str, Any]],
    ) -> None:
        policies, links = policy_set
        try:
            totals.update(compare(policies, links, entities, reqs))
        except AssertionError:
            last_failure[:] = [(policies, links, entities, reqs)]  # the shrunk case is the last
            raise

    try:
        run()
    except AssertionError:
        if last_failure:
            print(f"saved failing case to {save_case(*last_failure[0])}")
        raise
    print(f"cedar extension/template agreement: {dict(sorted(totals.items()))}")
    # The generator must exercise every part of the relation, not just errors.
    assert totals["agreed"] >= EXAMPLES // 2
    assert totals["agreed_permit"] >= EXAMPLES // 20
    assert totals["agreed_deny"] >= EXAMPLES // 10
    assert totals["cedar_errors"] >= EXAMPLES // 10
    assert totals["lion_unknown"] >= EXAMPLES // 20
    assert totals["linked_policies_true"] >= 1
    assert totals["both_rejected_input"] >= 1


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.name)
def test_corpus_replays(path: Path) -> None:
    case = json.loads(path.read_text())
    stats = compare(case["policies"], case.get("links", []), case["entities"], case["requests"])
    assert sum(stats[k] for k in ("agreed", "cedar_errors", "both_rejected_input")) == len(
        case["requests"]
    )


# -- constructor formats: random strings, every outcome compared -----------------------

OCTETS = ["0", "1", "9", "10", "99", "100", "255", "256", "01", "000", "", "1a"]
PREFIXES = ["0", "8", "32", "33", "64", "128", "129", "08", "", "-1", "100", "0128", "x"]
GROUPS6 = ["0", "1", "ffff", "FFFF", "0001", "abcd", "12345", "g", ""]
NUMBERS = ["0", "1", "01", "24", "60", "1000", "9223372036854775807", "9223372036854775808"]
NUMBERS += ["106751991167", "106751991168", "2562047788015", "99999999999999999999", ""]


@st.composite
def ip_texts(draw: st.DrawFn) -> str:
    good = draw(st.integers(0, 3)) > 0  # mostly well-formed parts
    if draw(st.booleans()):
        count = 4 if good else draw(st.integers(3, 5))
        octets = draw(
            st.lists(
                st.sampled_from(OCTETS[:7] if good else OCTETS), min_size=count, max_size=count
            )
        )
        text = ".".join(octets)
    else:
        pool = GROUPS6[:6] if good else GROUPS6
        if draw(st.booleans()):
            groups = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=7 if good else 9))
            at = draw(st.integers(0, len(groups)))
            text = ":".join(groups[:at]) + "::" + ":".join(groups[at:])
        else:
            count = 8 if good else draw(st.integers(1, 9))
            text = ":".join(draw(st.lists(st.sampled_from(pool), min_size=count, max_size=count)))
        if not good and draw(st.booleans()):
            text += draw(st.sampled_from([":1.2.3.4", "%eth0", "]", ".1", " "]))
    if draw(st.booleans()):
        text += "/" + draw(st.sampled_from(PREFIXES[:6] if good else PREFIXES))
    return text


@st.composite
def decimal_texts(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "-", "+", "--"]))
    whole = draw(st.sampled_from(["0", "1", "12", "00", "922337203685477", "922337203685478", ""]))
    point = draw(st.sampled_from([".", ".", ".", "", ".."]))
    frac = draw(st.sampled_from(["0", "5", "5807", "5808", "5809", "00000", "1234", "12345", ""]))
    return sign + whole + point + frac


@st.composite
def datetime_texts(draw: st.DrawFn) -> str:
    year = draw(st.sampled_from(["0000", "1900", "1969", "1970", "2000", "2023", "2024", "9999"]))
    month = draw(st.sampled_from(["01", "02", "04", "12", "00", "13", "1"]))
    day = draw(st.sampled_from(["01", "28", "29", "30", "31", "00", "32"]))
    text = f"{year}-{month}-{day}"
    if draw(st.booleans()):
        hh = draw(st.sampled_from(["00", "09", "23", "24", "7"]))
        mm = draw(st.sampled_from(["00", "30", "59", "60"]))
        ss = draw(st.sampled_from(["00", "59", "60"]))
        sep = draw(st.sampled_from(["T", "T", "T", " ", "t"]))
        text += f"{sep}{hh}:{mm}:{ss}"
        text += draw(st.sampled_from(["", "", ".000", ".999", ".5", ".1234"]))
        text += draw(
            st.sampled_from(["Z", "Z", "+0000", "-0000", "+2359", "-2359", "+2400", "+0060"])
            | st.sampled_from(["", "z", "+01:00", "+01", "Zx"])
        )
    return text


@st.composite
def duration_texts(draw: st.DrawFn) -> str:
    good = draw(st.integers(0, 2)) > 0
    sign = draw(st.sampled_from(["", "", "-"] if good else ["", "-", "+", "--"]))
    units = ["d", "h", "m", "s", "ms"] if good else ["d", "h", "m", "s", "ms", "D", ""]
    numbers = NUMBERS[:7] if good else NUMBERS
    parts = draw(
        st.lists(
            st.tuples(st.sampled_from(numbers), st.sampled_from(units)),
            min_size=1 if good else 0,
            max_size=4,
            unique_by=(lambda p: p[1]) if good else None,
        )
    )
    if good:  # Cedar's order
        parts.sort(key=lambda p: units.index(p[1]))
    return sign + "".join(n + u for n, u in parts)


FORMAT_POLICY = "permit(principal, action, resource) when {{ {fn}(context.s) == context.x }};"


def _inner(value: Any) -> str:
    text = str(value)
    return text[text.index('("') + 2 : text.rindex('")')]


def compare_formats(fn: str, texts: list[str]) -> Counter[str]:
    """``fn(s)`` for every string: LION's value is Cedar's, or both fail with one message."""
    lion = PolicySet.from_str(f"permit(principal, action, resource) when {{ {fn}(context.s) }};")
    reqs = []
    outcomes = []
    for text in texts:
        context: dict[str, Any] = {"s": text}
        ours = lion.evaluate({**REQUEST_BASE, "context": context})
        message = ours.errors[0].message if ours.errors else ""
        if not message.startswith("type error: expected bool"):  # it built a value
            outcomes.append(re.sub(r" \(at \d+:\d+\)$", "", message))
        else:
            outcomes.append(None)
            # the value LION read, written back in canonical form: Cedar must read the same
            context["x"] = {"__extn": {"fn": fn, "arg": _canonical(fn, text)}}
        reqs.append({**REQUEST_BASE, "context": context})
    stats: Counter[str] = Counter()
    for text, want, cedar in zip(
        texts,
        outcomes,
        cedarpy.is_authorized_batch(reqs, FORMAT_POLICY.format(fn=fn), []),
        strict=True,
    ):
        errors = [_POLICY_ERROR.sub("", e) for e in cedar.diagnostics.errors]
        if want is None:
            assert (cedar.decision, errors) == (cedarpy.Decision.Allow, []), (fn, text, errors)
            stats["same_value"] += 1
        else:
            assert errors == [want], (fn, text, want, errors)
            stats["same_error"] += 1
    return stats


REQUEST_BASE = {"principal": USERS[0], "action": ACTIONS[0], "resource": DOCS[0]}


def _canonical(fn: str, text: str) -> str:
    return _inner(call_extension(fn, [text]))


@pytest.mark.parametrize(
    ("fn", "texts"),
    [
        ("ip", ip_texts()),
        ("decimal", decimal_texts()),
        ("datetime", datetime_texts()),
        ("duration", duration_texts()),
    ],
)
def test_constructor_formats_agree_with_cedar(fn: str, texts: st.SearchStrategy[str]) -> None:
    totals: Counter[str] = Counter()

    @settings(max_examples=max(20, EXAMPLES // 5), deadline=None, database=None)
    @given(st.lists(texts, min_size=1, max_size=30))
    def run(batch: list[str]) -> None:
        totals.update(compare_formats(fn, batch))

    run()
    print(f"{fn} formats: {dict(totals)}")
    assert totals["same_value"] >= 10
    assert totals["same_error"] >= 10
