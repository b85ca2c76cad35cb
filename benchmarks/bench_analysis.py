"""Policy analysis time: `equivalent` and `implies` on generated sets of 10, 100 and 1,000 policies.

The policies look like real ones: principal/resource scopes with `in`
groups and folders, action lists, owner and level conditions, context
checks, and forbids. ``equivalent`` compares a set with a reordered copy of
itself (it holds: Z3 must prove it), ``implies`` compares a set with a copy
that has one planted widening (it does not hold: a counterexample is found,
concretized and replayed through both backends). Each time is the whole
call: parsing (rows "from text"; "parsed" rows get PolicySet objects),
encoding, solving and replay.

There is no peer in this run: Cedar's symbolic compiler reports 75 ms on
average on its benchmarks, shown as the reference column (target: at most
that for 100 policies).
"""

from __future__ import annotations

import random
import time

from benchmarks._table import Row
from lion.kernel.policy import PolicySet
from lion.policy.analyze import equivalent, implies

CEDAR_REPORTED_US = 75_000.0


def generate(count: int, seed: int = 7) -> list[str]:
    """``count`` policy texts with varied scopes and conditions."""
    rng = random.Random(seed)
    groups = max(2, count // 5)
    out = []
    for i in range(count):
        g = rng.randrange(groups)
        a = rng.randrange(8)
        f = rng.randrange(max(2, count // 4))
        kind = rng.randrange(5)
        if kind == 0:
            text = (
                f'permit(principal in Group::"g{g}", action == Action::"a{a}", '
                f'resource in Folder::"f{f}");'
            )
        elif kind == 1:
            text = (
                f'permit(principal, action in [Action::"a{a}", Action::"a{(a + 1) % 8}"], '
                f"resource is Doc) when {{ resource has owner && resource.owner == principal }};"
            )
        elif kind == 2:
            text = (
                f'permit(principal is User in Group::"g{g}", action, resource in Folder::"f{f}") '
                f"when {{ principal.level >= {rng.randrange(10)} }} "
                f"unless {{ context.risk > {rng.randrange(100)} }};"
            )
        elif kind == 3:
            text = (
                f'forbid(principal, action == Action::"a{a}", resource) '
                f"when {{ resource has locked && resource.locked }};"
            )
        else:
            text = (
                f'permit(principal in Group::"g{g}", action, resource) '
                f'when {{ context has ip && context.ip like "10.{rng.randrange(256)}.*" && '
                f"principal.dept == resource.dept }};"
            )
        out.append(f'@id("p{i}") {text}')
    return out


def _time(fn: object, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def run() -> list[Row]:
    rows = []
    peer = "Cedar SymCC (reported avg)"
    for count in (10, 100, 1000):
        policies = generate(count)
        text = "\n".join(policies)
        shuffled = policies[:]
        random.Random(1).shuffle(shuffled)
        reordered = "\n".join(shuffled)
        widened = text + '\n@id("planted") permit(principal in Group::"g0", action, resource);'
        parsed = [PolicySet.from_str(t) for t in (text, reordered, widened)]
        repeat = 3 if count <= 100 else 1
        target = "<= 75 ms" if count == 100 else ""

        def eq_text(text: str = text, reordered: str = reordered) -> None:
            assert equivalent(text, reordered).holds

        def imp_text(text: str = text, widened: str = widened) -> None:
            assert not implies(widened, text).holds

        def eq_parsed(parsed: list[PolicySet] = parsed) -> None:
            assert equivalent(parsed[0], parsed[1]).holds

        def imp_parsed(parsed: list[PolicySet] = parsed) -> None:
            assert not implies(parsed[2], parsed[0]).holds

        for name, fn in (
            (f"equivalent, {count} policies, from text (holds)", eq_text),
            (f"implies, {count} policies, from text (counterexample)", imp_text),
            (f"equivalent, {count} policies, parsed (holds)", eq_parsed),
            (f"implies, {count} policies, parsed (counterexample)", imp_parsed),
        ):
            rows.append(Row(name, _time(fn, repeat), peer, CEDAR_REPORTED_US, target))
    return rows


if __name__ == "__main__":
    from benchmarks._table import print_table

    print_table(run())
