"""The Rust backend: thin wrappers that give `lion._native` the Python kernel's types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lion import _native
from lion.kernel.decision import Decision
from lion.kernel.policy import PolicyErrorInfo, Response

__all__ = ["RustPolicies"]

_DECISIONS = {d.name: d for d in Decision}

_Raw = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]


def _response(raw: _Raw) -> Response:
    decision, determining, errors = raw
    return Response(
        _DECISIONS[decision],
        determining,
        tuple(PolicyErrorInfo(pid, message) for pid, message in errors),
    )


class RustPolicies:
    """A policy set parsed once by the Rust core."""

    __slots__ = ("_set",)

    def __init__(self, text: str, path: str = "<policies>") -> None:
        self._set = _native.PolicySet(text, path)

    def __len__(self) -> int:
        return len(self._set)

    def evaluate(self, request: Any, entities: Any = None) -> Response:
        return _response(self._set.evaluate(request, _entities(entities)))

    def evaluate_batch(self, requests: Sequence[Any], entities: Any = None) -> list[Response]:
        raw = self._set.evaluate_batch(list(requests), _entities(entities))
        return [_response(r) for r in raw]


def _entities(entities: Any) -> _native.Entities | None:
    if entities is None or isinstance(entities, _native.Entities):
        return entities
    return _native.Entities(entities)
