"""The parser: valid specs become typed models, anything else a located SpecError."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lion.errors import SpecError
from lion.spec import ast
from lion.spec.load import load_paths, load_text
from lion.spec.parse import parse_text

FIXTURE = Path(__file__).parent / "fixtures" / "sample.lion"
SAMPLE = FIXTURE.read_text()


def test_fixture_parses_into_every_kind_of_definition() -> None:
    module = parse_text(SAMPLE, "sample.lion")
    kinds = {type(d) for d in module.definitions}
    assert {
        ast.EnumDef,
        ast.RecordDef,
        ast.TypeAlias,
        ast.Const,
        ast.Fn,
        ast.Machine,
        ast.Invariant,
        ast.Theorem,
    } <= kinds
    assert module.chapter == "Sample"
    thm = next(d for d in module.definitions if isinstance(d, ast.Theorem))
    assert thm.name == "attenuation_never_widens"
    assert [b.name for b in thm.binders] == ["c", "keep", "e"]
    assert thm.doc == "attenuating never adds rights or time"


def test_chapter_defaults_to_file_stem() -> None:
    assert parse_text("enum A { X }", "spec/policy.lion").chapter == "policy"


def test_precedence_and_binds_tighter_than_or_and_implies_is_right_assoc() -> None:
    module = load_text(
        "theorem t: forall a: bool, b: bool, c: bool . a or b and c implies a implies c"
    )
    body = module.theorems[0].body
    assert isinstance(body, ast.Binary) and body.op == "implies"
    assert isinstance(body.right, ast.Binary) and body.right.op == "implies"
    left = body.left
    assert isinstance(left, ast.Binary) and left.op == "or"
    assert isinstance(left.right, ast.Binary) and left.right.op == "and"


@pytest.mark.parametrize(
    ("source", "line", "column", "expected"),
    [
        ("enum A { X, }\nfn f( -> bool = true", 2, 7, "expected"),
        ("theorem t: forall x: int . x +", 1, 31, "unexpected end of file"),
        ("enum A { X }\nenum B { Y }\nrecord R { a: A, b: int[5..1] }", 3, 21, "empty range"),
        ("fn f() -> bool = tru$e", 1, 21, "unexpected character `$`"),
        ("machine M { var x: int init { x = 0 x = 1 } }", 1, 37, "assigned twice"),
    ],
)
def test_syntax_errors_are_located(source: str, line: int, column: int, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_text(source, "bad.lion")
    err = info.value
    assert err.location is not None
    assert (err.location.path, err.location.line, err.location.column) == ("bad.lion", line, column)
    assert expected in str(err)
    # the message shows the offending line with a caret under the column
    text = str(err).splitlines()
    assert text[0].startswith(f"bad.lion:{line}:{column}: ")
    assert text[-1].index("^") == column - 1


def test_unreadable_and_missing_files_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_paths([tmp_path / "missing.lion"])
    bad = tmp_path / "bin.lion"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not valid UTF-8"):
        load_paths([bad])
    with pytest.raises(SpecError, match=r"no `\.lion` files"):
        load_paths([tmp_path / "empty_dir"] if (tmp_path / "empty_dir").mkdir() is None else [])


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    source = "fn f() -> bool = " + "not " * 5000 + "true"
    with pytest.raises(SpecError, match="nested too deeply"):
        load_text(source)


def _load_or_spec_error(source: str) -> None:
    try:
        load_text(source, "fuzz.lion")
    except SpecError as exc:
        assert exc.location is not None
        assert exc.message


@given(st.text(max_size=200))
def test_garbage_gives_spec_error_or_parses(source: str) -> None:
    _load_or_spec_error(source)


_TOKENS = [
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ".",
    "=",
    "==",
    "->",
    "=>",
    "|",
    "+",
    "-",
    "and",
    "or",
    "not",
    "implies",
    "in",
    "with",
    "forall",
    "match",
    "if",
    "then",
    "else",
    "let",
    ";",
    "none",
    "some",
    "true",
    "0",
    "7",
    "x",
    "Cap",
    "Read",
    '"s"',
    "enum",
    "record",
    "fn",
    "machine",
    "var",
    "init",
    "action",
    "requires",
    "theorem",
    "invariant",
    "on",
    "bind",
    "set<",
    "map<",
    "option<",
    ">",
    "int[0..3]",
]


@st.composite
def mutated_sample(draw: st.DrawFn) -> str:
    text = SAMPLE
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "token", "swap"]))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(string.printable)) + text[i:]
        elif kind == "token":
            text = text[:i] + " " + draw(st.sampled_from(_TOKENS)) + " " + text[i:]
        else:
            j = draw(st.integers(0, len(text)))
            a, b = sorted((i, j))
            text = text[:a] + text[b:] + text[a:b]
    return text


@given(mutated_sample())
def test_mutated_valid_spec_gives_spec_error_or_parses(source: str) -> None:
    _load_or_spec_error(source)
