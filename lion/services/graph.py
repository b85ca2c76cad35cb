"""Operation graphs: build a DAG of async operations, then run it.

A :class:`Graph` holds operations (async functions, or a Branch's `chat`,
`communicate`, `operate`) and the dependencies between them; a dependency
that would close a cycle is refused when it is added, with the cycle named.
The executor (:mod:`lion.services.graph_run`) starts an operation when every
operation it depends on is done, under a concurrency limit, retries a failed
attempt at most `retries` times and spends one step of a run-wide budget per
attempt. The executor is bound to the `Workflow` machine of
`spec/workflow.lion` (see `lion.verify.bindings.workflow`).

An operation is called as ``await fn(parents, **kwargs)``: `parents` maps
each operation it depends on to that operation's result, so an operation
with several dependencies aggregates their results.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NewType

from lion.errors import GraphCycleError, GraphError

if TYPE_CHECKING:
    from lion.services.graph_run import RunResult

__all__ = [
    "BRANCH_OPERATIONS",
    "Condition",
    "Expander",
    "Graph",
    "Operation",
    "OperationFn",
    "OperationId",
    "OperationSpec",
    "operation",
]

OperationId = NewType("OperationId", str)
OperationFn = Callable[..., Awaitable[Any]]
Condition = Callable[[Mapping[OperationId, Any]], bool]
# A Branch's operations that can be graph operations (each takes `instruction`).
BRANCH_OPERATIONS = frozenset({"chat", "communicate", "operate", "ReAct"})


@dataclass(frozen=True)
class OperationSpec:
    """An operation not yet in a graph: what `expand_from_result`'s function returns."""

    fn: OperationFn
    name: str
    retries: int = 0
    condition: Condition | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """An operation in a graph: its id, what it calls, what it waits for."""

    id: OperationId
    fn: OperationFn
    depends_on: tuple[OperationId, ...]
    retries: int
    condition: Condition | None
    kwargs: Mapping[str, Any]


Expander = Callable[[Any], Iterable[OperationSpec]]


@dataclass(frozen=True)
class _Expansion:
    fn: Expander
    gather_into: OperationId | None


def operation(
    name_or_fn: str | OperationFn,
    *,
    branch: Any = None,
    retries: int = 0,
    condition: Condition | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> OperationSpec:
    """Describe an operation without adding it anywhere (for `expand_from_result`).

    `name_or_fn` is an async function called as ``fn(parents, **kwargs)``, or
    the name of a Branch operation (`chat`, `communicate`, `operate`,
    `ReAct`) run on `branch` with `kwargs`.
    """
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise GraphError(f"retries must be an int >= 0, not `{retries!r}`")
    if isinstance(name_or_fn, str):
        fn, default = _branch_operation(name_or_fn, branch, kwargs)
    else:
        if branch is not None:
            raise GraphError("`branch=` is for Branch operations named by a string")
        if not _is_async(name_or_fn):
            raise GraphError(f"operation `{_name_of(name_or_fn)}` must be an async function")
        _check_call(name_or_fn, ({},), kwargs, _name_of(name_or_fn))
        fn, default = name_or_fn, _name_of(name_or_fn)
    return OperationSpec(fn, name or default, retries, condition, dict(kwargs))


class Graph:
    """A DAG of operations, built by `add_operation`, `add_dependency` and
    `expand_from_result`; run it with `await graph.run()` or an Executor."""

    def __init__(self) -> None:
        self._ops: dict[OperationId, Operation] = {}
        self._expansions: dict[OperationId, list[_Expansion]] = {}

    def add_operation(
        self,
        name_or_fn: str | OperationFn,
        *,
        depends_on: Iterable[OperationId | str] = (),
        branch: Any = None,
        retries: int = 0,
        condition: Condition | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> OperationId:
        """Add an operation that runs once every operation in `depends_on` is done.

        `retries` is how many more attempts a failed one gets (each spends a
        step of the run's budget). `condition`, a predicate on the parents'
        results, is asked once when they are done: false skips the operation
        and everything that depends on it. `name` is its id (default: the
        function's name, or `<branch>.<operation>`, made unique).
        """
        spec = operation(
            name_or_fn, branch=branch, retries=retries, condition=condition, name=name, **kwargs
        )
        deps = tuple(dict.fromkeys(self._known(d) for d in depends_on))
        return self._add(spec, deps, exact=name is not None)

    def add_dependency(self, op: OperationId | str, on: OperationId | str) -> None:
        """Make `op` wait for `on` as well; refused if `on` already waits for `op`."""
        a, b = self._known(op), self._known(on)
        path = self._path(b, a)
        if path is not None:
            cycle = (a, *path)
            shown = " -> ".join(f"`{x}`" for x in cycle)
            raise GraphCycleError(
                f"`{a}` cannot depend on `{b}`: that closes the cycle {shown} "
                "(each waits for the next)",
                cycle=cycle,
            )
        node = self._ops[a]
        if b not in node.depends_on:
            self._ops[a] = Operation(
                a, node.fn, (*node.depends_on, b), node.retries, node.condition, node.kwargs
            )

    def expand_from_result(
        self,
        op: OperationId | str,
        fn: Expander,
        *,
        gather_into: OperationId | str | None = None,
    ) -> None:
        """When `op` is done, add the operations `fn(result)` returns (OperationSpecs).

        Each new operation depends on `op` alone, so it can never close a
        cycle: `op` is finished and waits for nothing. `gather_into`, an
        operation that already depends (directly or not) on `op`, also waits
        for every new operation and receives their results.
        """
        source = self._known(op)
        target = None if gather_into is None else self._known(gather_into)
        if target is not None and self._path(target, source) is None:
            raise GraphError(
                f"`{target}` does not depend on `{source}`, so it cannot gather the "
                f"operations expanded from `{source}`'s result"
            )
        self._expansions.setdefault(source, []).append(_Expansion(fn, target))

    # -- reading -------------------------------------------------------------------

    @property
    def operations(self) -> Mapping[OperationId, Operation]:
        """The operations, in the order they were added (the order ready ones start in)."""
        return MappingProxyType(self._ops)

    def expansions(self, op: OperationId) -> tuple[_Expansion, ...]:
        return tuple(self._expansions.get(op, ()))

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, op: object) -> bool:
        return op in self._ops

    async def run(self, **options: Any) -> RunResult:
        """Run the graph once: ``Executor(self, **options).run()``; returns a RunResult."""
        from lion.services.graph_run import Executor

        return await Executor(self, **options).run()

    # -- building blocks (the executor uses `_add` for expansions) ------------------

    def _add(
        self, spec: OperationSpec, deps: tuple[OperationId, ...], *, exact: bool
    ) -> OperationId:
        op_id = OperationId(spec.name)
        if op_id in self._ops:
            if exact:
                raise GraphError(f"an operation named `{spec.name}` is already in the graph")
            n = 2
            while OperationId(f"{spec.name}_{n}") in self._ops:
                n += 1
            op_id = OperationId(f"{spec.name}_{n}")
        self._ops[op_id] = Operation(
            op_id, spec.fn, deps, spec.retries, spec.condition, MappingProxyType(dict(spec.kwargs))
        )
        return op_id

    def _known(self, op: OperationId | str) -> OperationId:
        if op not in self._ops:
            raise GraphError(f"no operation `{op}` in the graph")
        return OperationId(op)

    def _path(self, start: OperationId, goal: OperationId) -> tuple[OperationId, ...] | None:
        """A chain of dependencies start -> ... -> goal (each waits for the next), if any."""
        seen: set[OperationId] = set()
        stack: list[tuple[OperationId, tuple[OperationId, ...]]] = [(start, (start,))]
        while stack:
            node, path = stack.pop()
            if node == goal:
                return path
            if node in seen:
                continue
            seen.add(node)
            for dep in reversed(self._ops[node].depends_on):
                stack.append((dep, (*path, dep)))
        return None


def _branch_operation(
    method: str, branch: Any, kwargs: Mapping[str, Any]
) -> tuple[OperationFn, str]:
    if method not in BRANCH_OPERATIONS:
        known = ", ".join(f"`{m}`" for m in sorted(BRANCH_OPERATIONS))
        raise GraphError(f"`{method}` is not a Branch operation (expected one of {known})")
    if branch is None:
        raise GraphError(f"the Branch operation `{method}` needs `branch=`")
    bound = getattr(branch, method, None)
    if bound is None:
        raise GraphError(f"`{branch!r}` has no operation `{method}`")
    label = f"{getattr(branch, 'name', 'branch')}.{method}"
    _check_call(bound, (), kwargs, label)

    async def call(parents: Mapping[OperationId, Any], **kw: Any) -> Any:
        if parents and isinstance(kw.get("instruction"), str):
            kw["instruction"] = _with_context(kw["instruction"], parents)
        return await bound(**kw)

    call.__name__ = method
    return call, label


def _with_context(instruction: str, parents: Mapping[OperationId, Any]) -> str:
    """The instruction, followed by the results it depends on (aggregation for a model)."""
    lines = [f"- {op}: {result}" for op, result in parents.items()]
    return instruction + "\n\nResults of the operations this one depends on:\n" + "\n".join(lines)


def _check_call(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], label: str
) -> None:
    """Refuse, at build time, keyword arguments the operation cannot take."""
    function = getattr(fn, "__func__", fn)  # a bound method: its function's signature, once
    try:
        signature = _signature(function, function is not fn)
    except (TypeError, ValueError):  # a builtin without a signature: found out at run time
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise GraphError(
            f"operation `{label}` cannot be called with these arguments: {exc}"
        ) from None


@functools.lru_cache(maxsize=256)
def _signature(function: Callable[..., Any], bound: bool) -> inspect.Signature:
    """`function`'s signature (without its first parameter when called bound); one
    `inspect.signature` per function, not per operation: a graph of 1,000 branches'
    `operate` asks for the same one 1,000 times."""
    signature = inspect.signature(function)
    if bound:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return signature


def _is_async(fn: object) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004  # an object with an async __call__
    )


def _name_of(fn: object) -> str:
    return str(getattr(fn, "__name__", type(fn).__name__))
