"""Tools and graph operations run on a Ray cluster; every decision stays on the driver.

The driver (the process that holds the Session) keeps the whole kernel: the
capability authority, the policies, the IPU and its log. Ray only runs code
the IPU has already permitted:

- a :class:`RayTool` wraps a tool. The gate validates the call, asks the IPU
  (capability, policy, invariants, budget reservation) and, on PERMIT only,
  calls the tool's `invoke` as the effect's `perform`; a RayTool's `invoke`
  ships the plain function and its validated arguments to a Ray task and
  awaits the ObjectRef. The Observation is recorded on the driver when the
  result (or the failure) comes back. A denied call dispatches nothing.
- :func:`ray_operation` makes a plain function a graph operation whose work
  runs in a Ray task. Branch operations (`chat`, `operate`, ...) stay on the
  driver: their model calls pass the driver's gate, and their tool calls go
  to Ray when the branch's tools are RayTools.
- :class:`RayExecutor` starts a local cluster (``ray.init()`` with no
  address) or connects to one (an address), and wraps tools and operations.

Ray tasks are submitted with ``max_retries=0``: one PERMIT is one execution,
and a lost worker is a failed call, never a silent second run. An exception
raised by the function comes back as itself (not as Ray's wrapper), so the
model and the audit log read the same failure as a local run; Ray's own
failures (a worker died, an object was lost) become a ServiceError.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from lion.errors import GraphError, ServiceError, ToolDefinitionError
from lion.services.graph import OperationFn, OperationId
from lion.services.tools import Tool, ToolLike, Trust
from lion.wire import dto

__all__ = ["RayExecutor", "RayTool", "ray_operation"]

# what every task is submitted with unless the caller says otherwise (see the docstring)
_DEFAULT_OPTIONS: Mapping[str, Any] = {"max_retries": 0}


def _ray() -> Any:
    """The `ray` module, or a ServiceError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ServiceError(
            f"ray is not installed ({exc}): install the extra with `pip install 'lion[ray]'`"
        ) from None


def _run(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """In the Ray worker: call `fn`, running it to the end if it is async."""
    result = fn(*args, **kwargs)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isawaitable(result):

        async def wait() -> Any:
            return await result

        return asyncio.run(wait())
    return result


@functools.cache
def _remote_run() -> Any:
    # one RemoteFunction per process: Ray exports it again to each new cluster it meets
    return _ray().remote(_run)


def _unpicklable(value: object) -> str | None:
    """Why `value` cannot be shipped to a worker (Ray pickles with cloudpickle), or None."""
    try:
        _ray().cloudpickle.dumps(value)
    except Exception as exc:  # cloudpickle raises many types (TypeError, PicklingError, ...)
        return f"{type(exc).__name__}: {_first_line(exc)}"
    return None


def _submit(
    what: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: Mapping[str, Any],
) -> Any:
    ray = _ray()
    if not ray.is_initialized():  # Ray would otherwise start a cluster of its own, unasked
        raise ServiceError(
            "ray: no cluster is connected: start one with `RayExecutor().start()` "
            "(or `with RayExecutor(): ...`) before running Ray tools or operations"
        )
    try:
        return _remote_run().options(**options).remote(fn, args, kwargs)
    except Exception as exc:  # Ray pickles the arguments here (TypeError and others)
        raise ServiceError(
            f"ray: {what} was not dispatched: its arguments cannot be sent to a worker "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from exc


async def _resolve(ref: Any, what: str) -> Any:
    """Await the task's result; its own exception is raised as itself."""
    ray = _ray()
    try:
        if _on_asyncio():
            return await ref
        # other event loops: wait in a thread (an ObjectRef is awaitable on asyncio only)
        return await anyio.to_thread.run_sync(ray.get, ref, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        ray.cancel(ref)  # the caller gave up: do not leave the task running for nothing
        raise
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception) and not isinstance(cause, ray.exceptions.RayError):
            raise cause from None
        raise ServiceError(f"ray: {what} failed on the cluster: {_first_line(exc)}") from exc
    except ray.exceptions.RayError as exc:
        raise ServiceError(
            f"ray: {what} could not run on the cluster: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _task_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {**_DEFAULT_OPTIONS, **options}


class RayTool:
    """A tool whose function runs in a Ray task, once the driver's gate has permitted the call.

    Everything the gate and the model see (name, description, schema,
    resource, right, trust, side effects, validation) is the wrapped tool's,
    so a branch mints the same tokens for it and the policy reads the same
    request. Only a plain Python tool (:class:`Tool`, or a function) can be
    shipped; its function must be picklable by cloudpickle (a module-level
    or nested function, a lambda, a `functools.partial`; not one that holds
    a lock, a socket or an open file). `options` are Ray task options
    (`num_cpus`, `resources`, `runtime_env`, ...).
    """

    def __init__(self, tool: Tool[..., Any] | Callable[..., Any], **options: Any) -> None:
        if isinstance(tool, ToolLike) and not isinstance(tool, Tool):
            raise ToolDefinitionError(
                f"tool `{tool.name}` is not a Python function (a `{type(tool).__name__}`): "
                "only a plain Python tool can run on Ray"
            )
        base = tool if isinstance(tool, Tool) else Tool(tool)
        self.tool: Tool[..., Any] = base
        self.name: str = base.name
        self.description: str = base.description
        self.resource: str = base.resource
        self.right: str = base.right
        self.trust: Trust = base.trust
        self.side_effects: bool = base.side_effects
        # the raw function is shipped, not the Tool (its decoders do not pickle)
        self._function: Callable[..., Any] = base.fn
        why = _unpicklable(self._function)
        if why is not None:
            raise ToolDefinitionError(
                f"tool `{self.name}` cannot run on Ray: its function does not pickle ({why}); "
                "a Ray tool must be a plain function that holds no lock, socket or open file"
            )
        self._positional = _positional_only(self._function)
        self.options: dict[str, Any] = _task_options(options)

    @property
    def schema(self) -> dict[str, Any]:
        return self.tool.schema

    def to_wire(self) -> dto.Tool:
        return self.tool.to_wire()

    def validate(self, arguments: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        return self.tool.validate(arguments)

    async def invoke(self, arguments: Mapping[str, Any]) -> Any:
        """Run the function on Ray with validated `arguments` (the gate's `perform` calls this)."""
        args = tuple(arguments[n] for n in self._positional if n in arguments)
        kwargs = {k: v for k, v in arguments.items() if k not in self._positional}
        what = f"tool `{self.name}`"
        return await _resolve(_submit(what, self._function, args, kwargs, self.options), what)

    def __repr__(self) -> str:
        return f"RayTool(name={self.name!r}, right={self.right!r}, resource={self.resource!r})"


def _positional_only(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # Tool() already read it; a builtin has none to split
        return ()
    return tuple(p.name for p in parameters if p.kind is p.POSITIONAL_ONLY)


def ray_operation(fn: Callable[..., Any], **options: Any) -> OperationFn:
    """A graph operation that runs `fn(parents, **kwargs)` in a Ray task.

    `fn` is a plain (sync or async) function of the parents' results and the
    operation's keyword arguments; it, its arguments and its result must
    pickle. Use it for pure work (computation, parsing, I/O that needs no
    capability): it runs outside the gate, so it must not call models or
    tools. The returned async function keeps `fn`'s name and signature, so
    ``graph.add_operation(ray_operation(fn), x=1)`` is checked as `fn` would be.
    """
    if not callable(fn) or isinstance(fn, Tool | RayTool):
        raise GraphError(
            f"`{fn!r}` cannot be a Ray operation: expected a plain function "
            "(a tool runs on Ray as a RayTool, through the gate)"
        )
    name = str(getattr(fn, "__name__", type(fn).__name__))
    why = _unpicklable(fn)
    if why is not None:
        raise GraphError(
            f"operation `{name}` cannot run on Ray: the function does not pickle ({why}); "
            "a Ray operation must be a plain function that holds no lock, socket or open file"
        )
    task_options = _task_options(options)

    @functools.wraps(fn)
    async def on_ray(parents: Mapping[OperationId, Any], **kwargs: Any) -> Any:
        what = f"operation `{name}`"
        return await _resolve(_submit(what, fn, (dict(parents),), kwargs, task_options), what)

    return on_ray


class RayExecutor:
    """A connection to a Ray cluster, and the wrapper of tools and operations for it.

    ``RayExecutor()`` starts a new local cluster when started (``ray.init``
    with the address ``"local"``, so neither ``RAY_ADDRESS`` nor a cluster
    left by ``ray start`` is picked up unasked); ``RayExecutor("auto")``
    connects to the cluster running on this machine, and
    ``RayExecutor("ray://host:10001")`` or ``"host:6379"`` to another one.
    `num_cpus` sizes a local cluster; `init_options` go to ``ray.init``
    (the dashboard is off unless asked for). If Ray is
    already initialised in this process, the executor uses that cluster and
    leaves it running when it stops; a cluster it started, it shuts down.
    """

    def __init__(
        self, address: str | None = None, *, num_cpus: int | None = None, **init_options: Any
    ) -> None:
        if address is not None and num_cpus is not None:
            raise ServiceError(
                f"ray: `num_cpus` sizes a local cluster; the cluster at `{address}` has its own"
            )
        self.address = address
        self.num_cpus = num_cpus
        self.init_options = {"include_dashboard": False, **init_options}
        self._owned = False

    @property
    def started(self) -> bool:
        return bool(_ray().is_initialized())

    def start(self) -> RayExecutor:
        """Connect (or start the local cluster); returns self."""
        ray = _ray()
        if ray.is_initialized():
            return self
        options = dict(self.init_options)
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        try:
            # "local": a new cluster even if RAY_ADDRESS or `ray start` points elsewhere
            ray.init(address=self.address or "local", **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"at `{self.address}`" if self.address else "on this machine"
            raise ServiceError(f"ray: could not start or reach a cluster {where}: {exc}") from exc
        self._owned = True
        return self

    def shutdown(self) -> None:
        """Shut down the cluster if this executor started it (its processes with it)."""
        if self._owned:
            _ray().shutdown()
            self._owned = False

    def __enter__(self) -> RayExecutor:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def cpus(self) -> float:
        """The CPUs the cluster offers."""
        return float(_ray().cluster_resources().get("CPU", 0.0))

    def tool(self, tool: Tool[..., Any] | Callable[..., Any], **options: Any) -> RayTool:
        """`tool` as a RayTool (`options`: Ray task options)."""
        return RayTool(tool, **options)

    def tools(self, tools: Iterable[Tool[..., Any] | Callable[..., Any]]) -> list[RayTool]:
        """Each of `tools` as a RayTool, for ``session.new_branch(name, tools=...)``."""
        return [RayTool(t) for t in tools]

    def operation(self, fn: Callable[..., Any], **options: Any) -> OperationFn:
        """`fn` as a graph operation run on Ray (see :func:`ray_operation`)."""
        return ray_operation(fn, **options)
