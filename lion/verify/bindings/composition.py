"""`spec/composition.lion` <-> `lion.kernel.compose`.

Spec objects are sets of ports; kernel objects are tuples of names, so a set
is written as its sorted tuple (equal sets give equal tuples) and a kernel
object is read back as the set of its names.
"""

from __future__ import annotations

from collections.abc import Iterable

from lion.errors import KernelError
from lion.kernel import compose as kc
from lion.kernel.backend import get_backend
from lion.verify.values import EnumValue, RecordValue

__all__ = ["compose_checked", "compose_checked_rust", "tensor", "tensor_rust"]


def _names(values: Iterable[EnumValue]) -> tuple[str, ...]:
    return tuple(sorted(v.variant for v in values))


def _enum(enum: str, names: Iterable[object]) -> frozenset[EnumValue]:
    return frozenset(EnumValue(enum, str(n)) for n in names)


def to_kernel(m: RecordValue) -> kc.Morphism:
    return kc.Morphism(
        _names(m["src"]), _names(m["dst"]), _names(m["req"]), _names(m["pre"]), _names(m["post"])
    )


def to_spec(m: kc.Morphism) -> RecordValue:
    return RecordValue(
        "Morph",
        {
            "src": _enum("Port", m.source),
            "dst": _enum("Port", m.target),
            "req": _enum("Right", m.required),
            "pre": _enum("Fact", m.pre),
            "post": _enum("Fact", m.post),
        },
    )


def compose_checked(f: RecordValue, g: RecordValue) -> RecordValue | None:
    try:
        return to_spec(kc.compose(to_kernel(f), to_kernel(g)))
    except KernelError:
        return None


def tensor(f: RecordValue, g: RecordValue) -> RecordValue:
    return to_spec(kc.product(to_kernel(f), to_kernel(g)))


def compose_checked_rust(f: RecordValue, g: RecordValue) -> RecordValue | None:
    try:
        return to_spec(get_backend("rust").compose(to_kernel(f), to_kernel(g)))
    except KernelError:
        return None


def tensor_rust(f: RecordValue, g: RecordValue) -> RecordValue:
    return to_spec(get_backend("rust").product(to_kernel(f), to_kernel(g)))
