"""Machine runs for conformance: random action sequences that the spec mostly enables.

A run is ``{"init": args, "steps": [(action, args), ...]}`` with concrete
arguments, so it replays from the corpus without the seeds that made it.

Uniform arguments rarely enable a guarded action (derive from a minted,
unrevoked capability, with rights it has), so runs would be mostly refusals.
So each argument is either fresh or a value that occurs in the spec state at
that point (an id in use, a capability's rights), a record whole or field by
field; and
each step draws up to ENABLE_TRIES argument tuples, keeping the first the
spec enables (else the last one, a refusal); a set in use is often taken in
part (a subset: what attenuation asks for). Then, with chance NEAR_MISS, one
argument is redrawn: a near miss. Half the runs have a focus action that half
of their steps repeat, so a counter the action bumps reaches its limit within
a run; fresh ints are drawn near the spec's numbers with chance EDGE.

Deep states: a third of the runs start with a *walk*, up to `walk_steps`
steps made the same way from one drawn seed (cheap for Hypothesis, however
long), before the steered segment of up to `max_steps` steps. Every step of
both is checked. The walk's length is drawn as an integer, so the shrinker
cuts a walk from its end (the steps it keeps are the same steps).

Everything a run contains is a function of Hypothesis's draws alone (set
members are visited in a fixed order, never in hash order), so a seed gives
the same runs in every process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from lion.spec import ast
from lion.verify.boundaries import near, spec_numbers
from lion.verify.interpret import Interpreter
from lion.verify.strategies import DEFAULT_STRINGS, INT_RANGE, args_of, from_type
from lion.verify.values import MapValue, RecordValue, domain, format_value, from_json, to_json

__all__ = ["WALK_FACTOR", "decode_run", "encode_run", "machine_runs", "text_run"]

EDGE = 0.3  # chance that a machine-run int is drawn near a spec number
ENABLE_TRIES = 12  # argument draws per step, looking for a tuple the spec enables
NEAR_MISS = 0.3  # chance that a step then changes one of its arguments
WALK_FACTOR = 3  # a walk is up to this many times the machine's max_steps
WALK_TRIES = 6  # a walk's steps look less hard for an enabled tuple: they are many

Run = dict[str, Any]
Fresh = Callable[[ast.Type], Any]


def _collect(value: Any, ty: ast.Type, pool: dict[Any, list[Any]]) -> None:
    """Add `value` and every value inside it to `pool`, by type (ints by value alone)."""
    found = pool.setdefault("int" if isinstance(ty, ast.IntType) else ty, [])
    if value not in found:
        found.append(value)
    if isinstance(ty, ast.SetType):
        # a fixed order: hash order changes from process to process
        for elem in sorted(value, key=lambda v: format_value(v, ty.elem)):
            _collect(elem, ty.elem, pool)
    elif isinstance(ty, ast.MapType):
        for k, v in value.items():
            _collect(k, ty.key, pool)
            _collect(v, ty.value, pool)
    elif isinstance(ty, ast.OptionType) and value is not None:
        _collect(value, ty.elem, pool)
    elif isinstance(ty, ast.RecordType):
        for name, fty in ty.fields:
            _collect(value[name], fty, pool)


def _random_value(rng: random.Random, ty: ast.Type, numbers: tuple[int, ...] = ()) -> Any:
    """A random value of any type from `rng` alone (strings from the default pool)."""
    if isinstance(ty, ast.IntType) and not ty.bounded:
        edges = near(numbers, ty) if numbers else []
        if edges and rng.random() < 0.5:
            return rng.choice(edges)
        lo = ty.lo if ty.lo is not None else INT_RANGE[0]
        hi = ty.hi if ty.hi is not None else INT_RANGE[1]
        return rng.randint(lo, hi)
    if isinstance(ty, ast.StringType):
        return rng.choice(DEFAULT_STRINGS)
    if isinstance(ty, ast.SetType):
        return frozenset(v for v in domain(ty.elem) if rng.random() < 0.5)
    if isinstance(ty, ast.OptionType):
        return None if rng.random() < 0.25 else _random_value(rng, ty.elem, numbers)
    if isinstance(ty, ast.MapType):
        return MapValue({k: _random_value(rng, ty.value, numbers) for k in domain(ty.key)})
    if isinstance(ty, ast.RecordType):
        return RecordValue(ty.name, {n: _random_value(rng, fty, numbers) for n, fty in ty.fields})
    return rng.choice(domain(ty))


def _finite(ty: ast.Type) -> bool:
    if isinstance(ty, ast.IntType):
        return ty.bounded
    if isinstance(ty, ast.StringType):
        return False
    if isinstance(ty, ast.SetType | ast.OptionType):
        return _finite(ty.elem)
    if isinstance(ty, ast.MapType):
        return _finite(ty.key) and _finite(ty.value)
    if isinstance(ty, ast.RecordType):
        return all(_finite(fty) for _, fty in ty.fields)
    return True


class _Stepper:
    """Makes one step of a run from a state: arguments steered towards enabled ones."""

    def __init__(self, module: ast.Module, machine: ast.Machine) -> None:
        self.interp = Interpreter(module)
        self.machine = machine
        self.types = {v.name: v.ty for v in machine.vars}
        self.params = {a.name: a.params for a in machine.actions}
        self.actions = sorted(self.params)
        self.numbers = spec_numbers(module)

    def value(
        self, rng: random.Random, ty: ast.Type, pool: dict[Any, list[Any]], fresh: Fresh
    ) -> Any:
        if isinstance(ty, ast.RecordType):
            whole = pool.get(ty, [])
            if whole and rng.random() < 0.5:  # a record in use, as it is (a capability's scope)
                return rng.choice(whole)
            return RecordValue(
                ty.name, {n: self.value(rng, fty, pool, fresh) for n, fty in ty.fields}
            )
        if isinstance(ty, ast.IntType):
            known = [v for v in pool.get("int", ()) if ty.lo <= v <= ty.hi] if ty.bounded else []
        else:
            known = pool.get(ty, [])
        if known and rng.random() < 0.5:
            chosen = rng.choice(known)
            if isinstance(ty, ast.SetType) and rng.random() < 0.5:
                # a part of a set in use: what attenuation, a subset check or a
                # narrower request needs (a uniform set is rarely inside another)
                ordered = sorted(chosen, key=lambda v: format_value(v, ty.elem))
                return frozenset(v for v in ordered if rng.random() < 0.5)
            return chosen
        if isinstance(ty, ast.IntType) and self.numbers and rng.random() < EDGE:
            edges = near(self.numbers, ty)
            if edges:
                return rng.choice(edges)
        if _finite(ty):
            return _random_value(rng, ty)
        return fresh(ty)

    def step(
        self, rng: random.Random, state: dict[str, Any], action: str, fresh: Fresh, tries: int
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Arguments for `action` in `state`, and the spec's next state (None: refused)."""
        params = self.params[action]
        pool: dict[Any, list[Any]] = {}
        for name, current in state.items():
            if name in self.types:
                _collect(current, self.types[name], pool)
        args: dict[str, Any] = {}
        nxt = None
        for _ in range(tries):
            args = {p.name: self.value(rng, p.ty, pool, fresh) for p in params}
            nxt = self.interp.step(self.machine.name, action, state, *args.values())
            if nxt is not None:
                break
        if params and rng.random() < NEAR_MISS:
            # change one argument of a (likely) enabled step: refusals that
            # differ from an allowed call in one detail catch missing checks
            p = rng.choice(params)
            args = {**args, p.name: self.value(rng, p.ty, pool, fresh)}
            nxt = self.interp.step(self.machine.name, action, state, *args.values())
        return args, nxt


def machine_runs(
    module: ast.Module, machine: ast.Machine, max_steps: int, walk_steps: int = 0
) -> st.SearchStrategy[Run]:
    """Random runs: an optional walk of up to `walk_steps` steps, then up to `max_steps`."""
    stepper = _Stepper(module, machine)
    actions = stepper.actions
    numbers = stepper.numbers
    strategies: dict[ast.Type, st.SearchStrategy[Any]] = {}

    @st.composite
    def runs(draw: st.DrawFn) -> Run:
        init = draw(args_of(machine.init.params, numbers=numbers))
        first = stepper.interp.init(machine.name, *init.values())
        steps: list[tuple[str, dict[str, Any]]] = []
        if first is None or not actions:
            return {"init": init, "steps": steps}
        state = first

        def drawn(ty: ast.Type) -> Any:
            if ty not in strategies:
                strategies[ty] = from_type(ty, numbers=numbers)
            return draw(strategies[ty])

        # integers shrink to 0: a shrunk run drops its walk if the failure does not need it
        if walk_steps and draw(st.integers(0, 2)) == 2:
            walk = random.Random(draw(st.integers(0, 2**32 - 1)))
            length = draw(st.integers(0, walk_steps))  # shrinking cuts the walk's tail

            def walked(ty: ast.Type) -> Any:
                return _random_value(walk, ty, numbers)

            for _ in range(length):
                action = walk.choice(actions)
                args, nxt = stepper.step(walk, state, action, walked, WALK_TRIES)
                state = state if nxt is None else nxt
                steps.append((action, args))
        # The segment's length comes from a drawn seed: Hypothesis's own small-value
        # bias made most runs 0 to 2 steps long. But the shrinker cannot shorten
        # a run through the seed, so each step after the first also draws a
        # stop mark: a zero ends the run there. Generation rarely draws it (about
        # 2% a step); the shrinker tries it first, which cuts a failing run's tail.
        length = random.Random(draw(st.integers(0, 2**32 - 1))).randint(1, max_steps)
        # Half the runs have a focus action that half their steps repeat, so a
        # counter it bumps gets full; the other half keep every interleaving as
        # likely (focusing all runs halved the catch rate of an interleaving bug).
        focus = draw(st.sampled_from(actions)) if draw(st.booleans()) else None
        for i in range(length):
            if i and draw(st.integers(0, 255)) == 0:
                break
            # booleans shrink to False, so a shrunk run keeps its drawn actions
            repeat = focus is not None and draw(st.booleans())
            action = focus if focus is not None and repeat else draw(st.sampled_from(actions))
            # One drawn seed per step keeps Hypothesis's work small; the run
            # records the concrete arguments, so replay does not need the seed.
            rng = random.Random(draw(st.integers(0, 2**32 - 1)))
            args, nxt = stepper.step(rng, state, action, drawn, ENABLE_TRIES)
            state = state if nxt is None else nxt
            steps.append((action, args))
        return {"init": init, "steps": steps}

    return runs()


def encode_run(machine: ast.Machine, run: Run) -> dict[str, Any]:
    """A run as JSON data (for the corpus)."""
    actions = {a.name: a for a in machine.actions}
    return {
        "init": {p.name: to_json(run["init"][p.name], p.ty) for p in machine.init.params},
        "steps": [
            {
                "action": name,
                "args": {p.name: to_json(args[p.name], p.ty) for p in actions[name].params},
            }
            for name, args in run["steps"]
        ],
    }


def decode_run(machine: ast.Machine, data: dict[str, Any]) -> Run:
    """The run `encode_run` wrote."""
    actions = {a.name: a for a in machine.actions}
    return {
        "init": {p.name: from_json(data["init"][p.name], p.ty) for p in machine.init.params},
        "steps": [
            (
                s["action"],
                {p.name: from_json(s["args"][p.name], p.ty) for p in actions[s["action"]].params},
            )
            for s in data["steps"]
        ],
    }


def text_run(machine: ast.Machine, run: Run) -> str:
    """A run in spec syntax: ``init(...); action(args); ...``."""
    actions = {a.name: a for a in machine.actions}
    parts = [
        "init("
        + ", ".join(format_value(run["init"][p.name], p.ty) for p in machine.init.params)
        + ")"
    ]
    for name, args in run["steps"]:
        parts.append(
            f"{name}("
            + ", ".join(format_value(args[p.name], p.ty) for p in actions[name].params)
            + ")"
        )
    return "; ".join(parts)
