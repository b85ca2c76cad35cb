"""Conformance: does an implementation behave exactly as its spec says?

For every `bind`, Hypothesis generates inputs from the spec's types and the
implementation's whole result is compared with the interpreter's, on the spec
side (the bind target returns spec values: it is, or wraps, the abstraction
function from implementation values to spec values).

- A function bind ``bind f python "pkg.mod:fn"``: ``fn(*args)`` must equal the
  spec's ``f(*args)`` for every generated argument tuple.
- A machine bind ``bind M python "pkg.mod:Class"``: ``Class()`` must offer
  ``init(*args) -> bool``, ``step(action, *args) -> bool`` (False when the
  action is not enabled, leaving the state unchanged) and ``state() -> dict``
  (spec values for the variables it models; variables it omits are ghost
  variables of the spec and are not compared). Random action sequences are
  run on both, comparing enabledness and state after every step.

Values are compared exactly (`lion.verify.exact`): ``True`` is not the int
1, an enum is an `EnumValue` of the right enum, a set is a set. Runs are
replayable: the same ``seed`` gives the same inputs and the same verdict.

A failing input is shrunk by Hypothesis, reported in spec syntax and saved
as JSON under the corpus directory, which the test suite replays.
"""

from __future__ import annotations

import importlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from lion.errors import VerifyError
from lion.spec import ast
from lion.verify.boundaries import default_max_steps, near, spec_numbers
from lion.verify.exact import describe_pair, exact_equal
from lion.verify.interpret import Interpreter
from lion.verify.strategies import args_of, from_type
from lion.verify.values import MapValue, RecordValue, domain, format_value, from_json, to_json

__all__ = [
    "BindResult",
    "check_bind",
    "check_targets",
    "replay_corpus",
    "resolve",
    "target_of",
]

EDGE = 0.3  # chance that a machine-run int is drawn near a spec number
SHRINK_SECONDS = 30.0  # then the smallest failing input found so far is reported
ENABLE_TRIES = 12  # argument draws per step, looking for a tuple the spec enables
NEAR_MISS = 0.3  # chance that a step then changes one of its arguments


@dataclass
class BindResult:
    name: str
    chapter: str
    target: str
    kind: str  # "fn" | "machine"
    backend: str = "python"  # the backends checked, joined by "+"
    examples: int = 0
    failures: int = 0
    seconds: float = 0.0
    message: str = ""
    failing_input: dict[str, Any] = field(default_factory=dict)  # JSON form, as saved
    failing_text: str = ""  # the shrunk failing input in spec syntax
    seed: int | None = None  # the Hypothesis seed: the same seed replays the same inputs
    max_steps: int | None = None  # machine binds: the longest run generated

    @property
    def ok(self) -> bool:
        return self.failures == 0 and not self.message

    def to_json(self) -> dict[str, Any]:
        return {
            "bind": self.name,
            "chapter": self.chapter,
            "target": self.target,
            "kind": self.kind,
            "backend": self.backend,
            "examples": self.examples,
            "failures": self.failures,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "failing_input": self.failing_text,
            "seed": self.seed,
            "max_steps": self.max_steps,
        }


def resolve(reference: str) -> Any:
    """Import ``package.module:attribute``; a VerifyError says what is missing."""
    module_name, _, attr = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise VerifyError(
            f"bind target `{reference}`: cannot import `{module_name}` ({exc})"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise VerifyError(f"bind target `{reference}`: `{module_name}` has no `{attr}`") from None


class _Mismatch(AssertionError):
    pass


class _OutOfTime(BaseException):  # not an error: a signal to stop shrinking
    """Shrinking ran past its time budget."""


def _fn_case(
    module: ast.Module, fn: ast.Fn, impl: Callable[..., Any]
) -> Callable[[dict[str, Any]], None]:
    interp = Interpreter(module)

    def case(args: dict[str, Any]) -> None:
        expected = interp.call(fn.name, *args.values())
        try:
            actual = impl(*args.values())
        except Exception as exc:  # the implementation must be total on spec inputs
            raise _Mismatch(f"implementation raised {type(exc).__name__}: {exc}") from exc
        if not exact_equal(actual, expected, fn.result):
            shown, spec = describe_pair(actual, expected, fn.result)
            raise _Mismatch(f"spec gives {spec}, implementation gives {shown}")

    return case


def _machine_case(
    module: ast.Module, machine: ast.Machine, factory: Callable[[], Any]
) -> Callable[[dict[str, Any]], None]:
    interp = Interpreter(module)
    types = {v.name: v.ty for v in machine.vars}

    def compare(impl: Any, state: dict[str, Any], where: str) -> None:
        observed = impl.state()
        for name, value in observed.items():
            if name not in state:
                raise _Mismatch(f"{where}: implementation reports unknown variable `{name}`")
            if not exact_equal(value, state[name], types[name]):
                shown, spec = describe_pair(value, state[name], types[name])
                raise _Mismatch(
                    f"{where}: `{name}` is {shown} in the implementation, {spec} in the spec"
                )

    def case(run: dict[str, Any]) -> None:
        impl = factory()
        state = interp.init(machine.name, *run["init"].values())
        if bool(impl.init(*run["init"].values())) != (state is not None):
            raise _Mismatch("init: enabledness differs")
        if state is None:
            return
        compare(impl, state, "after init")
        for i, (action, args) in enumerate(run["steps"]):
            nxt = interp.step(machine.name, action, state, *args.values())
            try:
                enabled = bool(impl.step(action, *args.values()))
            except Exception as exc:
                raise _Mismatch(
                    f"step {i + 1} `{action}`: implementation raised {type(exc).__name__}: {exc}"
                ) from exc
            if enabled != (nxt is not None):
                raise _Mismatch(
                    f"step {i + 1} `{action}`: the spec says "
                    f"{'enabled' if nxt is not None else 'not enabled'}, the "
                    f"implementation {'performed it' if enabled else 'refused'}"
                )
            if nxt is not None:
                state = nxt
            compare(impl, state, f"after step {i + 1} `{action}`")

    return case


def _collect(value: Any, ty: ast.Type, pool: dict[Any, list[Any]]) -> None:
    """Add `value` and every value inside it to `pool`, by type (ints by value alone)."""
    found = pool.setdefault("int" if isinstance(ty, ast.IntType) else ty, [])
    if value not in found:
        found.append(value)
    if isinstance(ty, ast.SetType):
        for elem in value:
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


def _machine_runs(
    module: ast.Module, machine: ast.Machine, max_steps: int
) -> st.SearchStrategy[dict[str, Any]]:
    """Random runs in which most steps are actions the spec enables.

    Uniform arguments rarely enable a guarded action (derive from a minted,
    unrevoked capability, with rights it has), so runs would be mostly
    refusals. So each argument is either fresh or a value that occurs in the
    spec state at that point (an id in use, a capability's rights), records
    field by field; and each step draws up to ENABLE_TRIES argument tuples,
    keeping the first the spec enables (else the last one, a refusal). Then,
    with chance NEAR_MISS, one argument is redrawn: a near miss. Half the runs
    have a focus action that half of their steps repeat, so a counter the
    action bumps reaches its limit within a run; fresh ints are drawn near the
    spec's numbers with chance EDGE.
    """
    interp = Interpreter(module)
    types = {v.name: v.ty for v in machine.vars}
    params = {a.name: a.params for a in machine.actions}
    actions = sorted(params)
    fresh: dict[ast.Type, st.SearchStrategy[Any]] = {}
    numbers = spec_numbers(module)

    def value(draw: st.DrawFn, rng: random.Random, ty: ast.Type, pool: dict[Any, list[Any]]) -> Any:
        if isinstance(ty, ast.RecordType):
            return RecordValue(ty.name, {n: value(draw, rng, fty, pool) for n, fty in ty.fields})
        if isinstance(ty, ast.IntType):
            known = [v for v in pool.get("int", ()) if ty.lo <= v <= ty.hi] if ty.bounded else []
        else:
            known = pool.get(ty, [])
        if known and rng.random() < 0.5:
            return rng.choice(known)
        if isinstance(ty, ast.IntType) and numbers and rng.random() < EDGE:
            edges = near(numbers, ty)
            if edges:
                return rng.choice(edges)
        if _finite(ty):
            return _random_value(rng, ty)
        if ty not in fresh:
            fresh[ty] = from_type(ty, numbers=numbers)
        return draw(fresh[ty])

    @st.composite
    def runs(draw: st.DrawFn) -> dict[str, Any]:
        init = draw(args_of(machine.init.params, numbers=numbers))
        first = interp.init(machine.name, *init.values())
        steps: list[tuple[str, dict[str, Any]]] = []
        if first is None or not actions:
            return {"init": init, "steps": steps}
        state = first
        # The run's length comes from a drawn seed: Hypothesis's own small-value
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
            pool: dict[Any, list[Any]] = {}
            for name, current in state.items():
                if name in types:
                    _collect(current, types[name], pool)
            for _ in range(ENABLE_TRIES):
                args = {p.name: value(draw, rng, p.ty, pool) for p in params[action]}
                nxt = interp.step(machine.name, action, state, *args.values())
                if nxt is not None:
                    break
            if params[action] and rng.random() < NEAR_MISS:
                # change one argument of a (likely) enabled step: refusals that
                # differ from an allowed call in one detail catch missing checks
                p = rng.choice(params[action])
                args = {**args, p.name: value(draw, rng, p.ty, pool)}
                nxt = interp.step(machine.name, action, state, *args.values())
            state = state if nxt is None else nxt
            steps.append((action, args))
        return {"init": init, "steps": steps}

    return runs()


def _random_value(rng: random.Random, ty: ast.Type) -> Any:
    """A uniform-ish random value of a finite type."""
    if isinstance(ty, ast.SetType):
        return frozenset(v for v in domain(ty.elem) if rng.random() < 0.5)
    if isinstance(ty, ast.OptionType):
        return None if rng.random() < 0.25 else _random_value(rng, ty.elem)
    if isinstance(ty, ast.MapType):
        return MapValue({k: _random_value(rng, ty.value) for k in domain(ty.key)})
    if isinstance(ty, ast.RecordType):
        return RecordValue(ty.name, {n: _random_value(rng, fty) for n, fty in ty.fields})
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


def _encode_run(machine: ast.Machine, run: dict[str, Any]) -> dict[str, Any]:
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


def _decode_run(machine: ast.Machine, data: dict[str, Any]) -> dict[str, Any]:
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


def _text_run(machine: ast.Machine, run: dict[str, Any]) -> str:
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


class _Plan(NamedTuple):
    """How to check one bind: inputs, the comparison, and the input's saved and shown forms."""

    kind: str  # "fn" | "machine"
    inputs: st.SearchStrategy[dict[str, Any]]
    case: Callable[[dict[str, Any]], None]  # raises _Mismatch when the two disagree
    encode: Callable[[dict[str, Any]], Any]  # to JSON, for the corpus
    decode: Callable[[Any], dict[str, Any]]  # from JSON
    text: Callable[[dict[str, Any]], str]  # in spec syntax


def _plan(
    module: ast.Module, bind: ast.Bind, reference: str, max_steps: int | None = None
) -> _Plan:
    target = resolve(reference)
    if bind.name in module.fns:
        fn = module.fns[bind.name]
        if not callable(target):
            raise VerifyError(f"bind target `{reference}` is not callable")

        def encode(args: dict[str, Any]) -> Any:
            return {p.name: to_json(args[p.name], p.ty) for p in fn.params}

        def decode(data: Any) -> dict[str, Any]:
            return {p.name: from_json(data[p.name], p.ty) for p in fn.params}

        def text(args: dict[str, Any]) -> str:
            return ", ".join(f"{p.name} = {format_value(args[p.name], p.ty)}" for p in fn.params)

        inputs = args_of(fn.params, numbers=spec_numbers(module))
        return _Plan("fn", inputs, _fn_case(module, fn, target), encode, decode, text)
    machine = module.machines[bind.name]
    steps = max_steps if max_steps is not None else default_max_steps(machine)
    return _Plan(
        "machine",
        _machine_runs(module, machine, steps),
        _machine_case(module, machine, target),
        lambda run: _encode_run(machine, run),
        lambda data: _decode_run(machine, data),
        lambda run: _text_run(machine, run),
    )


def _corpus_file(corpus: Path, module: ast.Module, bind: ast.Bind, backend: str) -> Path:
    return corpus / f"{Path(module.path).stem}.{bind.name}.{backend}.json"


def target_of(bind: ast.Bind, backend: str) -> str:
    """The bind's reference for `backend`; a VerifyError if the bind names none."""
    reference = bind.target(backend)
    if reference is None:
        raise VerifyError(
            f'bind `{bind.name}` has no `{backend}` target: add `{backend} "module:attr"`'
        )
    return reference


def check_targets(modules: list[ast.Module], backends: Sequence[str]) -> list[str]:
    """Every problem with the binds' targets for `backends` (none: all resolve)."""
    problems = []
    for module in modules:
        for bind in module.binds:
            for backend in backends:
                try:
                    _plan(module, bind, target_of(bind, backend))
                except VerifyError as exc:
                    problems.append(f"{module.path}: {exc}")
    return problems


def check_bind(
    module: ast.Module,
    bind: ast.Bind,
    *,
    examples: int,
    backends: Sequence[str] = ("python",),
    corpus: Path | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    shrink: bool = True,
    shrink_seconds: float = SHRINK_SECONDS,
) -> BindResult:
    """Run `examples` random inputs through the spec and each backend; shrink any failure.

    Every input goes through every backend in one pass, each compared with the
    spec. A bind target that is missing or cannot be imported is a VerifyError
    (bad input), not a conformance failure. With a `seed` the inputs, and so
    the verdict, are the same on every run; machine runs are at most
    `max_steps` long (default: `default_max_steps` of the machine). Without
    `shrink` the first failing input is reported as found (faster, longer);
    shrinking stops after `shrink_seconds` (long machine runs shrink slowly).
    """
    plans = {
        backend: _plan(module, bind, target_of(bind, backend), max_steps) for backend in backends
    }
    first = next(iter(plans.values()))
    result = BindResult(
        bind.name,
        module.chapter,
        "; ".join(target_of(bind, b) for b in backends),
        first.kind,
        backend="+".join(backends),
        seed=seed,
    )
    if bind.name in module.machines:
        machine = module.machines[bind.name]
        result.max_steps = max_steps if max_steps is not None else default_max_steps(machine)
    start = time.perf_counter()
    last_failure: dict[str, Any] = {}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        phases=list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink],
    )
    @given(first.inputs)
    def run(value: dict[str, Any]) -> None:
        if last_failure and time.perf_counter() - last_failure["since"] > shrink_seconds:
            raise _OutOfTime  # a BaseException: Hypothesis lets it through at once
        result.examples += 1
        for backend, plan in plans.items():
            try:
                plan.case(value)
            except _Mismatch as exc:
                since = last_failure.get("since", time.perf_counter())
                last_failure.update(value=value, backend=backend, message=str(exc), since=since)
                raise

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    try:
        run()
    except (_Mismatch, _OutOfTime):
        # Hypothesis replays the shrunk example last, so last_failure holds it;
        # out of time, it holds the smallest failure found so far.
        result.failures = 1
        value, backend = last_failure["value"], last_failure["backend"]
        result.failing_input = first.encode(value)
        result.failing_text = first.text(value)
        prefix = f"{backend}: " if len(plans) > 1 else ""
        result.message = prefix + last_failure["message"]
        if corpus is not None:
            _save(_corpus_file(corpus, module, bind, backend), result.failing_input)
    result.seconds = time.perf_counter() - start
    return result


def _save(path: Path, item: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    items = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    if item not in items:
        items.append(item)
    path.write_text(json.dumps(items, indent=1) + "\n", encoding="utf-8")


def replay_corpus(
    module: ast.Module, bind: ast.Bind, corpus: Path, backend: str = "python"
) -> list[str]:
    """Re-run every saved failing input of a bind; returns the messages of those that fail."""
    path = _corpus_file(corpus, module, bind, backend)
    if not path.exists():
        return []
    plan = _plan(module, bind, target_of(bind, backend))
    failures = []
    for data in json.loads(path.read_text(encoding="utf-8")):
        value = plan.decode(data)
        try:
            plan.case(value)
        except _Mismatch as exc:
            failures.append(f"{plan.text(value)}: {exc}")
    return failures
