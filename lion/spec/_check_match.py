"""Checker rule for `match` on enums and options (mixed into the checker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from lion.errors import SpecError
from lion.spec import ast
from lion.spec._check_types import compatible, join
from lion.spec.ast import EnumType, OptionType, Type

__all__ = ["MatchRules"]


class _Host(Protocol):
    def error(self, message: str, pos: ast.Pos) -> SpecError: ...

    def infer(self, e: ast.Expr, env: Mapping[str, Any], want: Type | None = None) -> ast.Expr: ...

    def local(self, ty: Type) -> Any: ...


class MatchRules:
    def match(self: _Host, e: ast.Match, env: Mapping[str, Any], want: Type | None) -> ast.Expr:
        subject = self.infer(e.subject, env)
        sty = subject.ty
        arms: list[ast.Arm] = []
        covered: set[str] = set()
        result: Type | None = want
        wildcard = False
        for arm in e.arms:
            if wildcard:
                raise self.error("unreachable arm after `_`", arm.pos)
            inner = dict(env)
            if arm.kind == "variants":
                if not isinstance(sty, EnumType):
                    raise self.error(
                        f"variant pattern needs an enum subject, found `{sty}`", arm.pos
                    )
                for n in arm.names:
                    if n not in sty.variants:
                        raise self.error(f"enum `{sty.name}` has no variant `{n}`", arm.pos)
                    if n in covered:
                        raise self.error(f"variant `{n}` is matched twice", arm.pos)
                    covered.add(n)
            elif arm.kind in ("some", "none"):
                if not isinstance(sty, OptionType):
                    raise self.error(
                        f"`{arm.kind}` pattern needs an option subject, found `{sty}`", arm.pos
                    )
                if arm.kind in covered:
                    raise self.error(f"`{arm.kind}` is matched twice", arm.pos)
                covered.add(arm.kind)
                if arm.kind == "some":
                    inner[arm.names[0]] = self.local(sty.elem)
            else:
                wildcard = True
            body = self.infer(arm.body, inner, result)
            assert body.ty is not None
            if result is None:
                result = body.ty
            elif not compatible(body.ty, result):
                raise self.error(f"match arms disagree: `{result}` and `{body.ty}`", arm.pos)
            else:
                result = join(result, body.ty)
            arms.append(ast.Arm(arm.kind, arm.names, body, arm.pos))
        if not wildcard:
            if isinstance(sty, EnumType):
                missing = [v for v in sty.variants if v not in covered]
            elif isinstance(sty, OptionType):
                missing = [k for k in ("some", "none") if k not in covered]
            else:
                raise self.error(f"`match` needs an enum or option subject, found `{sty}`", e.pos)
            if missing:
                raise self.error(
                    "match is not exhaustive; missing " + ", ".join(f"`{m}`" for m in missing),
                    e.pos,
                )
        assert result is not None
        return ast.Match(subject, tuple(arms), e.pos, result)
