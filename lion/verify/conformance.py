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
  (spec values read off the implementation). ``state()`` must report every
  variable of the machine except those the spec declares ``ghost var``
  (model bookkeeping: compared when reported); any other omission fails the
  bind, naming the variable. Random action sequences (`_conformance_runs`:
  some start with a long walk to reach deep states) are run on both,
  comparing enabledness and the whole state after every step; `coverage`
  counts the actions that fired.

Values are compared exactly (`lion.verify.exact`): ``True`` is not the int
1, an enum is an `EnumValue` of the right enum, a set is a set. Runs are
replayable: the same ``seed`` gives the same inputs and the same verdict.

A failing input is shrunk by Hypothesis, reported in spec syntax and saved
as JSON under the corpus directory, which the test suite replays.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from lion.errors import VerifyError
from lion.spec import ast
from lion.verify._conformance_runs import (
    WALK_FACTOR,
    decode_run,
    encode_run,
    machine_runs,
    text_run,
)
from lion.verify.boundaries import default_max_steps, spec_numbers
from lion.verify.coverage import Coverage
from lion.verify.exact import describe_pair, exact_equal
from lion.verify.interpret import Interpreter
from lion.verify.strategies import args_of
from lion.verify.values import format_value, from_json, to_json

__all__ = [
    "BindResult",
    "check_bind",
    "check_targets",
    "replay_corpus",
    "resolve",
    "target_of",
]

SHRINK_SECONDS = 30.0  # then the smallest failing input found so far is reported


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
    max_steps: int | None = None  # machine binds: the longest steered segment generated
    walk_steps: int | None = None  # machine binds: the longest walk before it
    coverage: Coverage | None = None  # machine binds: which actions the runs exercised
    warnings: list[str] = field(default_factory=list)  # e.g. an action that never fired

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
            "walk_steps": self.walk_steps,
            "coverage": None if self.coverage is None else self.coverage.to_json(),
            "warnings": self.warnings,
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


def _calling(where: str, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`; an exception is a conformance failure (the implementation must be total)."""
    try:
        return fn(*args)
    except Exception as exc:
        raise _Mismatch(f"{where}: implementation raised {type(exc).__name__}: {exc}") from exc


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
    module: ast.Module,
    machine: ast.Machine,
    factory: Callable[[], Any],
    coverage: Coverage | None = None,
) -> Callable[[dict[str, Any]], None]:
    interp = Interpreter(module)
    types = {v.name: v.ty for v in machine.vars}
    required = [v.name for v in machine.vars if v.name not in machine.ghosts]

    def compare(impl: Any, state: dict[str, Any], where: str) -> None:
        observed = _calling(where, impl.state)
        if not isinstance(observed, Mapping):
            raise _Mismatch(f"{where}: state() gave {observed!r}, not a dict of spec values")
        missing = [name for name in required if name not in observed]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            raise _Mismatch(
                f"{where}: bind `{machine.name}` does not report state variable(s) {names}: "
                "read them off the implementation, or declare them `ghost var` in the spec"
            )
        for name, value in observed.items():
            if name not in state:
                raise _Mismatch(f"{where}: implementation reports unknown variable `{name}`")
            if not exact_equal(value, state[name], types[name]):
                shown, spec = describe_pair(value, state[name], types[name])
                raise _Mismatch(
                    f"{where}: `{name}` is {shown} in the implementation, {spec} in the spec"
                )

    def case(run: dict[str, Any]) -> None:
        impl = _calling("creating the implementation", factory)
        state = interp.init(machine.name, *run["init"].values())
        if bool(_calling("init", impl.init, *run["init"].values())) != (state is not None):
            raise _Mismatch("init: enabledness differs")
        if state is None:
            return
        compare(impl, state, "after init")
        if coverage is not None:
            coverage.start(len(run["steps"]))
        for i, (action, args) in enumerate(run["steps"]):
            nxt = interp.step(machine.name, action, state, *args.values())
            if coverage is not None:
                coverage.record(action, nxt is not None)
            enabled = bool(_calling(f"step {i + 1} `{action}`", impl.step, action, *args.values()))
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


class _Plan(NamedTuple):
    """How to check one bind: inputs, the comparison, and the input's saved and shown forms."""

    kind: str  # "fn" | "machine"
    inputs: st.SearchStrategy[dict[str, Any]]
    case: Callable[[dict[str, Any]], None]  # raises _Mismatch when the two disagree
    encode: Callable[[dict[str, Any]], Any]  # to JSON, for the corpus
    decode: Callable[[Any], dict[str, Any]]  # from JSON
    text: Callable[[dict[str, Any]], str]  # in spec syntax


def _plan(
    module: ast.Module,
    bind: ast.Bind,
    reference: str,
    max_steps: int | None = None,
    walk_steps: int | None = None,
    coverage: Coverage | None = None,
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
    steps, walk = _lengths(machine, max_steps, walk_steps)
    return _Plan(
        "machine",
        machine_runs(module, machine, steps, walk),
        _machine_case(module, machine, target, coverage),
        lambda run: encode_run(machine, run),
        lambda data: decode_run(machine, data),
        lambda run: text_run(machine, run),
    )


def _lengths(
    machine: ast.Machine, max_steps: int | None, walk_steps: int | None
) -> tuple[int, int]:
    """The longest steered segment and the longest walk before it, defaults filled in.

    An explicit `max_steps` bounds the whole run (no walk unless `walk_steps` asks for
    one); by default the walk is WALK_FACTOR times the derived segment length.
    """
    if max_steps is not None:
        return max_steps, walk_steps if walk_steps is not None else 0
    steps = default_max_steps(machine)
    return steps, walk_steps if walk_steps is not None else WALK_FACTOR * steps


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
    walk_steps: int | None = None,
    shrink: bool = True,
    shrink_seconds: float = SHRINK_SECONDS,
) -> BindResult:
    """Run `examples` random inputs through the spec and each backend; shrink any failure.

    Every input goes through every backend in one pass, each compared with the
    spec. A bind target that is missing or cannot be imported is a VerifyError
    (bad input), not a conformance failure. With a `seed` the inputs, and so
    the verdict, are the same on every run. A machine run is an optional walk
    of up to `walk_steps` steps and a steered segment of up to `max_steps`
    (default: `default_max_steps` of the machine, and then a walk of up to
    WALK_FACTOR times that; an explicit `max_steps` alone bounds the whole
    run: no walk); the result's `coverage` counts the
    actions that fired, and `warnings` names each that never did. Without
    `shrink` the first failing input is reported as found (faster, longer);
    shrinking stops after `shrink_seconds` (long machine runs shrink slowly).
    """
    machine = module.machines.get(bind.name)
    coverage = Coverage(tuple(a.name for a in machine.actions)) if machine else None
    plans = {
        backend: _plan(
            module,
            bind,
            target_of(bind, backend),
            max_steps,
            walk_steps,
            coverage if i == 0 else None,  # every backend runs the same inputs: count once
        )
        for i, backend in enumerate(backends)
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
    if machine is not None:
        result.max_steps, result.walk_steps = _lengths(machine, max_steps, walk_steps)
        result.coverage = coverage
    start = time.perf_counter()
    last_failure: dict[str, Any] = {}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # one failure, the one shrunk and replayed last (two distinct ones found while
        # shrinking came back as an ExceptionGroup, which is not a verdict)
        report_multiple_bugs=False,
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
        with _no_local_constants():
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
    if coverage is not None and result.ok:  # a failed search stopped early: no coverage claim
        result.warnings = coverage.warnings(bind.name)
    return result


@contextlib.contextmanager
def _no_local_constants() -> Iterator[None]:
    """Keep the literals of loaded modules out of Hypothesis's draws while a bind is checked.

    Hypothesis (6.1xx) draws about one value in twenty from the constants it finds in
    the source of every module imported so far, so the same seed generated different
    runs depending on which modules a process happened to have imported (a planted
    bug caught by a seed in one test order and not in another). While conformance
    runs, that pool is empty: a seed means the same runs in every process. The hook
    is private to Hypothesis; if it is gone, nothing is changed.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    real = getattr(providers, "_get_local_constants", None)
    cache: Any = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if real is None or not hasattr(cache, "clear"):  # pragma: no cover
        yield
        return
    empty = Constants()
    cache.clear()  # pools computed with the local constants
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = real
        cache.clear()


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
