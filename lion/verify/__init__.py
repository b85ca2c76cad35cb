"""lion.verify: prove a spec's theorems, check implementations against it, and hand
users the same generators (`load_spec`, `strategy_for`, see docs/spec-language.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lion.verify.handle import Spec, load_spec, strategy_for

__all__ = ["Spec", "load_spec", "strategy_for"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a submodule (the bindings, the values) does not
    # pull in Hypothesis and the spec loader.
    if name in __all__:
        from lion.verify import handle

        return getattr(handle, name)
    raise AttributeError(f"module `lion.verify` has no attribute `{name}`")
