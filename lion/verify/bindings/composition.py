"""`spec/composition.lion` <-> `lion.kernel.compose`.

Spec objects are sets of ports, and so are kernel objects: the kernel holds
one as its ports in sorted order, each once. A spec set is handed to the
kernel in reverse order (so a kernel that did not sort its objects would show
it), and a kernel object is read back only if it is in that canonical form:
the order is part of what the kernel exposes, so the abstraction to a set must
not hide it. The Rust targets call `lion._native` and read its raw tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lion.errors import KernelError
from lion.kernel import compose as kc
from lion.verify.values import EnumValue, RecordValue

__all__ = ["compose_checked", "compose_checked_rust", "tensor_checked", "tensor_checked_rust"]


def _names(values: Iterable[EnumValue], *, reverse: bool = False) -> tuple[str, ...]:
    return tuple(sorted((v.variant for v in values), reverse=reverse))


def _enum(enum: str, names: Iterable[object]) -> frozenset[EnumValue]:
    return frozenset(EnumValue(enum, str(n)) for n in names)


_Fields = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _fields(m: RecordValue) -> _Fields:
    return (
        _names(m["src"], reverse=True),
        _names(m["dst"], reverse=True),
        _names(m["req"]),
        _names(m["pre"]),
        _names(m["post"]),
    )


def to_kernel(m: RecordValue) -> kc.Morphism:
    return kc.Morphism(*_fields(m))


def _object(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, tuple) or list(value) != sorted(set(value)):
        raise ValueError(
            f"kernel {what} `{value!r}` is not an object in canonical form (sorted, each port once)"
        )
    return value


def to_spec(source: Any, target: Any, required: Any, pre: Any, post: Any) -> RecordValue:
    return RecordValue(
        "Morph",
        {
            "src": _enum("Port", _object(source, "source")),
            "dst": _enum("Port", _object(target, "target")),
            "req": _enum("Right", required),
            "pre": _enum("Fact", pre),
            "post": _enum("Fact", post),
        },
    )


def _spec(m: kc.Morphism) -> RecordValue:
    return to_spec(m.source, m.target, m.required, m.pre, m.post)


def _checked(call: Callable[[], RecordValue]) -> RecordValue | None:
    try:
        return call()
    except KernelError:
        return None


def compose_checked(f: RecordValue, g: RecordValue) -> RecordValue | None:
    return _checked(lambda: _spec(kc.compose(to_kernel(f), to_kernel(g))))


def tensor_checked(f: RecordValue, g: RecordValue) -> RecordValue | None:
    return _checked(lambda: _spec(kc.product(to_kernel(f), to_kernel(g))))


def _native_spec(raw: tuple[Any, ...]) -> RecordValue:
    return to_spec(*raw[:5])


def compose_checked_rust(f: RecordValue, g: RecordValue) -> RecordValue | None:
    from lion import _native

    return _checked(lambda: _native_spec(_native.compose_morphisms(_fields(f), _fields(g))))


def tensor_checked_rust(f: RecordValue, g: RecordValue) -> RecordValue | None:
    from lion import _native

    return _checked(lambda: _native_spec(_native.product_morphisms(_fields(f), _fields(g))))
