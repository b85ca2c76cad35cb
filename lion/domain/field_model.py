"""FieldModel: one field of a structured-output type, composed step by step.

A FieldModel is immutable; ``as_nullable()``, ``with_description()`` and
friends return new ones. ``annotated()`` gives the msgspec annotation (the
type with its constraints and schema text), which OperableModel turns into a
Struct field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from lion.errors import DomainError

__all__ = ["UNSET", "FieldModel", "FieldValidationError"]


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

# Constraints msgspec enforces (and writes into the JSON Schema).
_CONSTRAINTS = frozenset(
    {"gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length"}
)
_SCHEMA_TEXT = frozenset({"title", "description", "examples"})
Validator = Callable[[Any], Any]


class FieldModel:
    """A field: its type, name, default, constraints, schema text and validators.

    ``FieldModel(int, name="age", ge=0, description="in years")``. A validator
    is a callable taking the value that returns False or raises ValueError to
    reject it. ``nullable`` makes the type ``T | None`` (default None);
    ``listable`` makes it ``list[T]``.
    """

    __slots__ = ("_base", "_meta", "_validators")

    def __init__(
        self,
        base_type: Any = UNSET,
        name: str = "field",
        *,
        annotation: Any = UNSET,
        default: Any = UNSET,
        default_factory: Callable[[], Any] | None = None,
        nullable: bool = False,
        listable: bool = False,
        validator: Validator | list[Validator] | None = None,
        **meta: Any,
    ) -> None:
        if base_type is UNSET:
            base_type = annotation
        if base_type is UNSET or base_type is None:
            base_type = Any
        if default is not UNSET and default_factory is not None:
            raise DomainError(f"field `{name}` has both a default and a default_factory")
        if not isinstance(name, str) or not name.isidentifier():
            raise DomainError(f"invalid field name `{name}`: expected a Python identifier")
        validators: list[Validator] = []
        if validator is not None:
            validators = list(validator) if isinstance(validator, list | tuple) else [validator]
            if not all(callable(v) for v in validators):
                raise DomainError(f"validators of field `{name}` must be callables")
        for key in meta:
            if not isinstance(key, str):
                raise DomainError("field metadata keys must be strings")
        self._base = base_type
        self._validators = tuple(validators)
        meta["name"] = name
        meta["nullable"] = bool(nullable)
        meta["listable"] = bool(listable)
        if default is not UNSET:
            meta["default"] = default
        if default_factory is not None:
            meta["default_factory"] = default_factory
        self._meta: dict[str, Any] = meta

    # -- inspection ----------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._meta["name"])

    @property
    def base_type(self) -> Any:
        return self._base

    @property
    def is_nullable(self) -> bool:
        return bool(self._meta["nullable"])

    @property
    def is_listable(self) -> bool:
        return bool(self._meta["listable"])

    @property
    def validators(self) -> tuple[Validator, ...]:
        return self._validators

    def has_validator(self) -> bool:
        return bool(self._validators)

    @property
    def default(self) -> Any:
        """The default (UNSET if none; None for a nullable field without one)."""
        if "default" in self._meta:
            return self._meta["default"]
        if "default_factory" in self._meta:
            return self._meta["default_factory"]()
        return None if self.is_nullable else UNSET

    @property
    def has_default(self) -> bool:
        return "default" in self._meta or "default_factory" in self._meta or self.is_nullable

    def extract_metadata(self, key: str) -> Any:
        """A metadata value by key, or None."""
        return self._meta.get(key)

    @property
    def metadata(self) -> dict[str, Any]:
        """All metadata (a copy)."""
        return dict(self._meta)

    @property
    def annotation(self) -> Any:
        """The plain type: ``list[T]`` if listable, ``| None`` if nullable."""
        t = self._base
        if self.is_listable and getattr(t, "__origin__", None) is not list:
            t = list[t]  # type: ignore[valid-type]
        if self.is_nullable:
            t = t | None
        return t

    def annotated(self) -> Any:
        """The annotation with msgspec constraints and schema text attached."""
        cons = {k: v for k, v in self._meta.items() if k in _CONSTRAINTS}
        text = {k: v for k, v in self._meta.items() if k in _SCHEMA_TEXT}
        extra = self._meta.get("json_schema_extra")
        t = self._base
        try:
            if cons:
                t = Annotated[t, msgspec.Meta(**cons)]
            if self.is_listable and getattr(self._base, "__origin__", None) is not list:
                t = list[t]  # type: ignore[valid-type]
            if self.is_nullable:
                t = t | None
            if text or extra:
                t = Annotated[t, msgspec.Meta(**text, extra_json_schema=extra or None)]
        except (TypeError, ValueError) as exc:
            raise DomainError(f"invalid constraints on field `{self.name}`: {exc}") from None
        return t

    def field_spec(self, name: str | None = None) -> tuple[Any, ...]:
        """The ``(name, type[, default])`` triple ``msgspec.defstruct`` takes."""
        key = name or self.name
        t = self.annotated()
        if "default_factory" in self._meta:
            return (key, t, msgspec.field(default_factory=self._meta["default_factory"]))
        if "default" in self._meta:
            default = self._meta["default"]
            if isinstance(default, list | dict | set):  # mutable defaults need a factory
                return (key, t, msgspec.field(default_factory=functools.partial(_copy, default)))
            return (key, t, default)
        if self.is_nullable:
            return (key, t, None)
        return (key, t)

    def is_valid(self, value: Any) -> bool:
        """True when every validator accepts ``value``."""
        try:
            self.validate(value)
        except DomainError:
            return False
        return True

    def validate(self, value: Any, field_name: str | None = None) -> None:
        """Run the validators; DomainError (a ValueError too) naming the field if one rejects."""
        for v in self._validators:
            label = getattr(v, "__name__", "validator")
            try:
                ok = v(value)
            except (ValueError, TypeError, AssertionError) as exc:
                raise FieldValidationError(
                    f"field `{field_name or self.name}`: validator `{label}` rejected "
                    f"`{value!r}`: {exc}"
                ) from None
            if ok is False:
                raise FieldValidationError(
                    f"field `{field_name or self.name}`: validator `{label}` rejected `{value!r}`"
                )

    # -- composition ---------------------------------------------------------

    def _with(self, base: Any = UNSET, validators: Any = UNSET, **changes: Any) -> FieldModel:
        new = object.__new__(FieldModel)
        new._base = self._base if base is UNSET else base
        new._validators = self._validators if validators is UNSET else tuple(validators)
        meta = dict(self._meta)
        meta.update(changes)
        new._meta = meta
        return new

    def as_nullable(self) -> FieldModel:
        return self._with(nullable=True)

    def as_listable(self) -> FieldModel:
        return self._with(listable=True)

    def with_validator(self, f: Validator) -> FieldModel:
        if not callable(f):
            raise DomainError(f"a validator must be callable, got `{type(f).__name__}`")
        return self._with(validators=(*self._validators, f))

    def with_description(self, description: str) -> FieldModel:
        return self._with(description=description)

    def with_title(self, title: str) -> FieldModel:
        return self._with(title=title)

    def with_default(self, default: Any) -> FieldModel:
        new = self._with(default=default)
        new._meta.pop("default_factory", None)
        return new

    def with_name(self, name: str) -> FieldModel:
        if not isinstance(name, str) or not name.isidentifier():
            raise DomainError(f"invalid field name `{name}`: expected a Python identifier")
        return self._with(name=name)

    def with_metadata(self, key: str, value: Any) -> FieldModel:
        if key == "name":
            return self.with_name(value)
        return self._with(**{key: value})

    def with_json_schema_extra(self, **kwargs: Any) -> FieldModel:
        extra = dict(self._meta.get("json_schema_extra") or {})
        extra.update(kwargs)
        return self._with(json_schema_extra=extra)

    def __repr__(self) -> str:
        flags = [f for f in ("nullable", "listable") if self._meta[f]]
        if self._validators:
            flags.append("validated")
        base = getattr(self._base, "__name__", str(self._base))
        return f"FieldModel({self.name}: {base}{' [' + ', '.join(flags) + ']' if flags else ''})"


class FieldValidationError(DomainError, ValueError):
    """A field validator rejected a value (a ValueError too, so msgspec reports its path)."""


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)
