"""Exact comparison of an implementation's value with the spec's.

Python's ``==`` is too forgiving for conformance: ``True == 1``, an
``enum.Enum`` member may equal its name, a list of the right items is not a
set. Here a value matches only if it has exactly the spec's representation
(`lion.verify.values`) all the way down, and a mismatch is described so that
two values that print alike are still told apart (type and repr).
"""

from __future__ import annotations

from typing import Any

from lion.spec import ast
from lion.verify.values import EnumValue, MapValue, RecordValue, domain, format_value

__all__ = ["describe_pair", "exact_equal", "shape_error"]


def shape_error(value: Any, ty: ast.Type) -> str | None:
    """Why `value` is not of the exact representation of spec type `ty` (None if it is)."""
    if isinstance(ty, ast.OptionType):
        return None if value is None else shape_error(value, ty.elem)
    if isinstance(ty, ast.BoolType):
        return None if type(value) is bool else _want("a bool", value)
    if isinstance(ty, ast.IntType):
        # bool is an int subclass; an IntEnum is not a spec int either
        return None if type(value) is int else _want("an int", value)
    if isinstance(ty, ast.StringType):
        return None if type(value) is str else _want("a str", value)
    if isinstance(ty, ast.EnumType):
        if type(value) is not EnumValue or value.enum != ty.name:
            return _want(f"an EnumValue of `{ty.name}`", value)
        return None if value.variant in ty.variants else f"`{value.variant}` is not a {ty.name}"
    if isinstance(ty, ast.RecordType):
        if type(value) is not RecordValue or value.record != ty.name:
            return _want(f"a RecordValue of `{ty.name}`", value)
        names = [n for n, _ in ty.fields]
        if sorted(value) != sorted(names):
            return f"`{ty.name}` has fields {', '.join(names)}, got {', '.join(value)}"
        for n, fty in ty.fields:
            inner = shape_error(value[n], fty)
            if inner is not None:
                return f"field `{n}`: {inner}"
        return None
    if isinstance(ty, ast.SetType):
        if type(value) not in (frozenset, set):
            return _want("a frozenset", value)
        for item in value:
            inner = shape_error(item, ty.elem)
            if inner is not None:
                return f"an element: {inner}"
        return None
    if isinstance(ty, ast.MapType):
        if type(value) is not MapValue:
            return _want("a MapValue", value)
        keys = domain(ty.key)
        if len(value) != len(keys) or any(k not in value for k in keys):
            return "a map must have exactly one value for every key of its key type"
        for k in keys:
            inner = shape_error(value[k], ty.value)
            if inner is not None:
                return f"at key {format_value(k, ty.key)}: {inner}"
        return None
    return None


def _want(what: str, value: Any) -> str:
    return f"expected {what}, got {type(value).__name__} {value!r}"


def exact_equal(actual: Any, expected: Any, ty: ast.Type) -> bool:
    """Equal and of the exact representation (`expected` is the spec's, so well-formed)."""
    return shape_error(actual, ty) is None and actual == expected


def _show(value: Any, ty: ast.Type) -> str:
    try:
        return format_value(value, ty)
    except Exception:  # a value of the wrong shape: show it raw
        return repr(value)


def describe_pair(actual: Any, expected: Any, ty: ast.Type) -> tuple[str, str]:
    """The two values as spec text; when both print alike, with their type and repr
    (so "Open in the implementation, Open in the spec" cannot happen)."""
    a, e = _show(actual, ty), _show(expected, ty)
    if a == e:
        a = f"{a} ({type(actual).__name__} {actual!r})"
        e = f"{e} ({type(expected).__name__} {expected!r})"
    problem = shape_error(actual, ty)
    if problem is not None:
        a = f"{a} [{problem}]"
    return a, e
