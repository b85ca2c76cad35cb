"""Name resolution and type checking."""

from __future__ import annotations

import pytest

from lion.errors import SpecError
from lion.spec import ast
from lion.spec.load import load_text

PRELUDE = """
enum Right { Read, Write }
enum Color { Red, Read2 }
record Cap { id: int[0..3], rights: set<Right> }
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("fn f(x: int) -> bool = x", "expected `bool`, found `int`"),
        ("fn f() -> bool = g()", "unknown function `g`"),
        ("fn f() -> bool = f()", "unknown function `f`"),  # no recursion
        ("fn f(c: Cap) -> bool = c.owner == 1", "has no field `owner`"),
        ("fn f(x: Nope) -> bool = true", "unknown type `Nope`"),
        ("fn f() -> set<int> = {}", "finite type"),
        ("fn f() -> bool = {} == {}", "cannot tell the type of `{}`"),
        ("fn f(r: Right) -> bool = match r { Read => true }", "missing `Write`"),
        (
            "fn f(r: Right) -> bool = match r { Read => true, Read => false, Write => true }",
            "matched twice",
        ),
        ("fn f() -> Cap = Cap(id: 1)", "missing `rights`"),
        ("fn f(x: int) -> bool = forall y: int . y > x", "finite type"),
        ("fn f(x: int, x: int) -> bool = true", "two parameters named `x`"),
        ("enum Right { A }", "already defined"),
        ("fn f(r: Right) -> int = match r { Read => 1, Write => true }", "match arms disagree"),
        ("fn f() -> bool = none == none", "cannot tell the type of `none`"),
        ('bind nothing python "a:b"', "no function or machine named `nothing`"),
        ('fn g() -> bool = true\nbind g python "no_colon"', "module:attribute"),
        ("machine M { var x: int init { } }", "must assign every variable"),
        ("machine M { var x: int init { y = 1 } }", "not a variable"),
        ("invariant i on Nowhere: true", "unknown machine `Nowhere`"),
    ],
)
def test_type_errors(body: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_text(PRELUDE + body, "t.lion")
    assert message in str(info.value)
    assert info.value.location is not None and info.value.location.line >= 2


def test_checked_module_has_every_expression_typed() -> None:
    module = load_text(PRELUDE + "fn f(c: Cap) -> bool = Read in c.rights and c.id < 3")
    fn = module.fns["f"]
    seen = []

    def walk(e: object) -> None:
        if isinstance(e, ast.Arm):
            walk(e.body)
            return
        if not hasattr(e, "ty"):
            return
        seen.append(e)
        assert e.ty is not None, e
        for value in (
            vars(e).values() if hasattr(e, "__dict__") else [getattr(e, s) for s in e.__slots__]
        ):
            if isinstance(value, tuple):
                for v in value:
                    walk(v[1] if isinstance(v, tuple) else v)
            else:
                walk(value)

    walk(fn.body)
    assert len(seen) >= 6
    assert not any(isinstance(e, ast.Name) for e in seen)  # every name resolved


def test_qualified_variant_resolves_ambiguity() -> None:
    source = "enum A { X, Y }\nenum B { X }\nfn f() -> A = A.X\nfn g() -> bool = B.X == B.X"
    module = load_text(source)
    body = module.fns["f"].body
    assert isinstance(body, ast.EnumValueLit) and body.enum == "A"
    with pytest.raises(SpecError, match="ambiguous"):
        load_text(source + "\nfn h() -> bool = X == X")


def test_imports_make_definitions_visible(tmp_path: object) -> None:
    from pathlib import Path

    from lion.spec.load import load_paths

    d = Path(str(tmp_path))
    (d / "base.lion").write_text("enum D { P, N }\nfn flip(x: D) -> D = match x { P => N, N => P }")
    (d / "use.lion").write_text("import base\ntheorem t: forall x: D . flip(flip(x)) == x")
    modules = load_paths([d / "use.lion"])
    assert modules[0].theorems[0].name == "t"
    (d / "a.lion").write_text("import b")
    (d / "b.lion").write_text("import a")
    with pytest.raises(SpecError, match="import cycle"):
        load_paths([d / "a.lion"])
    (d / "c.lion").write_text("import missing")
    with pytest.raises(SpecError, match="cannot import `missing`"):
        load_paths([d / "c.lion"])
