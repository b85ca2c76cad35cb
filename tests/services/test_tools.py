"""Tools from plain functions: schemas, docstrings, validation, invocation, the registry."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import json
import threading
import uuid
from typing import Annotated, Any, Literal, TypedDict

import anyio
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lion.errors import (
    LionError,
    ToolArgumentError,
    ToolDefinitionError,
    ToolError,
    UnknownToolError,
)
from lion.services import Tool, ToolRegistry, tool
from lion.services._docstrings import parse_docstring
from lion.services.tools import MAX_ARGUMENT_BYTES
from lion.wire import dto


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(msgspec.Struct):
    x: int
    y: int = 0


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


@dataclasses.dataclass
class Box:
    label: str


class Movie(TypedDict):
    title: str
    year: int


def _no_refs(node: object) -> bool:
    if isinstance(node, dict):
        return "$ref" not in node and "$defs" not in node and all(map(_no_refs, node.values()))
    if isinstance(node, list):
        return all(map(_no_refs, node))
    return True


# ------------------------------------------------------------------------- schemas


def test_scalar_schema_with_defaults_and_required() -> None:
    @tool
    def f(s: str, i: int, x: float = 1.5, b: bool = False) -> None:
        pass

    assert f.schema == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "x": {"type": "number", "default": 1.5},
            "b": {"type": "boolean", "default": False},
        },
        "required": ["s", "i"],
        "additionalProperties": False,
    }


def test_no_parameters() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert ping.schema["properties"] == {}
    assert ping.validate("") == {}
    assert ping.validate("{}") == {}


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (Literal["a", "b"], {"enum": ["a", "b"]}),
        (Color, {"title": "Color", "enum": ["blue", "red"]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
            },
        ),
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (
            Point,
            {
                "title": "Point",
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
                "required": ["x"],
            },
        ),
        (
            Box,
            {
                "title": "Box",
                "type": "object",
                "properties": {"label": {"type": "string"}},
                "required": ["label"],
            },
        ),
        (
            Movie,
            {
                "title": "Movie",
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
            },
        ),
        (
            list[Point | None],
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {
                            "title": "Point",
                            "type": "object",
                            "properties": {
                                "x": {"type": "integer"},
                                "y": {"type": "integer", "default": 0},
                            },
                            "required": ["x"],
                        },
                        {"type": "null"},
                    ]
                },
            },
        ),
    ],
)
def test_each_supported_type_gets_an_inlined_schema(hint: Any, expected: dict[str, Any]) -> None:
    def f(arg: Any) -> None:
        pass

    f.__annotations__["arg"] = hint
    t = Tool(f)
    assert t.schema["properties"]["arg"] == expected
    assert _no_refs(t.schema)


def test_recursive_types_keep_top_level_defs_that_resolve() -> None:
    @tool
    def walk(tree: Node, p: Point) -> None:
        pass

    schema = walk.schema
    assert set(schema["$defs"]) == {"Node"}
    assert schema["properties"]["tree"] == {"$ref": "#/$defs/Node"}
    assert schema["properties"]["p"]["title"] == "Point"  # not recursive: inlined
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert walk.validate({"tree": {"value": 1, "children": [{"value": 2}]}, "p": {"x": 1}}) == {
        "tree": Node(1, [Node(2)]),
        "p": Point(1),
    }


def test_mutable_default_is_copied_and_shown() -> None:
    @tool
    def f(tags: list[str] = ["a"]) -> list[str]:  # noqa: B006 - the point of the test
        return tags

    assert f.schema["properties"]["tags"]["default"] == ["a"]
    first = f.validate("{}")
    first["tags"].append("b")
    assert f.validate("{}") == {"tags": ["a"]}


def test_annotated_meta_description_wins_over_docstring() -> None:
    def f(n: Annotated[int, msgspec.Meta(ge=0, description="from meta")]) -> None:
        """F.

        Args:
            n: from docstring
        """

    schema = Tool(f).schema
    assert schema["properties"]["n"] == {
        "type": "integer",
        "minimum": 0,
        "description": "from meta",
    }
    with pytest.raises(ToolArgumentError, match=r"`\$\.n`: expected `int` >= 0"):
        Tool(f).validate('{"n": -1}')


def test_schema_is_a_copy() -> None:
    @tool
    def f(a: int) -> None:
        pass

    f.schema["properties"].clear()
    assert "a" in f.schema["properties"]


def test_to_wire() -> None:
    @tool(name="search", resource="tool/web-search")
    def f(q: str) -> None:
        """Search the web."""

    wire = f.to_wire()
    assert isinstance(wire, dto.Tool)
    assert wire.type == "function"
    assert wire.function.name == "search"
    assert wire.function.description == "Search the web."
    assert wire.function.parameters == f.schema
    encoded = json.loads(msgspec.json.encode(wire))
    assert encoded["function"]["parameters"]["required"] == ["q"]

    @tool
    def bare(q: str) -> None:
        pass

    assert "description" not in json.loads(msgspec.json.encode(bare.to_wire()))["function"]


# ------------------------------------------------------------------- definitions


def test_defaults_and_options() -> None:
    @tool
    def lookup(q: str) -> None:
        pass

    assert (lookup.name, lookup.resource, lookup.right, lookup.trust) == (
        "lookup",
        "tool/lookup",
        "call",
        "untrusted",
    )

    @tool(name="web-search", resource="net/search", right="read", trust="trusted", description="D")
    def other(q: str) -> None:
        """Ignored."""

    assert (other.name, other.resource, other.right, other.trust, other.description) == (
        "web-search",
        "net/search",
        "read",
        "trusted",
        "D",
    )


@pytest.mark.parametrize("name", ["", "has space", "a.b", "x" * 65, "é", "<lambda>"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="is not valid: expected 1-64"):
        Tool(lambda: None, name=name if name != "<lambda>" else None)


def test_good_names() -> None:
    for name in ["a", "A_b-9", "x" * 64]:
        assert Tool(lambda: None, name=name).name == name


@pytest.mark.parametrize("resource", ["", "tool/*", "*", "tool//x", "tool/../x", "/tool"])
def test_bad_resources_are_refused(resource: str) -> None:
    with pytest.raises(ToolDefinitionError, match="is not a resource path"):
        Tool(lambda: None, name="t", resource=resource)


def test_bad_right_and_trust_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="right"):
        Tool(lambda: None, name="t", right=" ")
    with pytest.raises(ToolDefinitionError, match="trust"):
        Tool(lambda: None, name="t", trust="maybe")  # type: ignore[arg-type]


def test_missing_hint_names_the_parameter() -> None:
    def f(a: int, b) -> None:  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(ToolDefinitionError, match="parameter `b` has no type hint"):
        Tool(f)


def test_star_args_are_refused() -> None:
    def f(*items: int) -> None:
        pass

    def g(**options: int) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match=r"`\*items` is not allowed"):
        Tool(f)
    with pytest.raises(ToolDefinitionError, match=r"`\*\*options` is not allowed"):
        Tool(g)


class Opaque:
    pass


def test_unsupported_type_names_the_parameter() -> None:
    def f(ok: int, bad: Opaque) -> None:
        pass

    def g(either: Point | Box) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match="parameter `bad` has a type msgspec cannot"):
        Tool(f)
    with pytest.raises(ToolDefinitionError, match="parameter `either`"):
        Tool(g)


def test_unresolvable_hint() -> None:
    def f(a: Missing) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(ToolDefinitionError, match="cannot read the signature"):
        Tool(f)


def test_not_callable() -> None:
    with pytest.raises(ToolDefinitionError, match="needs a callable"):
        Tool(42)  # type: ignore[arg-type]


def test_errors_are_rooted_at_lion_error() -> None:
    assert issubclass(ToolArgumentError, ToolError)
    assert issubclass(ToolDefinitionError, ToolError)
    assert issubclass(UnknownToolError, ToolError)
    assert issubclass(UnknownToolError, KeyError)
    assert issubclass(ToolError, LionError)


def test_decorated_function_stays_callable() -> None:
    @tool
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5


def test_bound_method_and_callable_object() -> None:
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def bump(self, by: int = 1) -> int:
            self.n += by
            return self.n

        async def __call__(self, by: int) -> int:
            return self.bump(by)

    c = Counter()
    t = Tool(c.bump)
    assert t.name == "bump"
    assert list(t.schema["properties"]) == ["by"]
    obj = Tool(c, name="counter")
    assert obj.is_async
    assert anyio.run(obj.invoke, obj.validate('{"by": 2}')) == 2


# ------------------------------------------------------------------- docstrings


def test_google_docstring() -> None:
    @tool
    def search(query: str, limit: int = 5, exact: bool = False) -> list[str]:
        """Search the web for pages.

        Results come back ranked.

        Args:
            query (str): What to look for,
                over two lines.
            limit: How many results.

                A second paragraph.
            exact (bool, optional): Match the phrase exactly.

        Returns:
            The page URLs.
        """
        return []

    props = search.schema["properties"]
    assert search.description == "Search the web for pages.\n\nResults come back ranked."
    assert props["query"]["description"] == "What to look for, over two lines."
    assert props["limit"]["description"] == "How many results.\n\nA second paragraph."
    assert props["exact"]["description"] == "Match the phrase exactly."


def test_rest_docstring() -> None:
    @tool
    async def add(a: int, b: int, c: int = 0) -> int:
        """Add numbers.

        :param a: The first number,
            continued here.
        :param int b: The second.
        :param c: The third.
        :type c: int
        :returns: The sum.
        :raises ValueError: never
        """
        return a + b + c

    props = add.schema["properties"]
    assert add.description == "Add numbers."
    assert props["a"]["description"] == "The first number, continued here."
    assert props["b"]["description"] == "The second."
    assert props["c"]["description"] == "The third."


def test_docstring_parser_edges() -> None:
    assert parse_docstring(None).description == ""
    assert parse_docstring("   ").params == {}
    doc = parse_docstring("Only a summary\nover two lines.")
    assert doc.description == "Only a summary\nover two lines."
    numpy = parse_docstring("Sum.\n\nParameters\n----------\nx : int\n    the x\n")
    assert numpy.description == "Sum."
    mixed = parse_docstring(
        """Do it.

        Args:
            a: first
            *args: ignored too
            b (list[int]): second: with a colon
        Raises:
            KeyError: not a parameter
        """
    )
    assert mixed.params == {"a": "first", "args": "ignored too", "b": "second: with a colon"}
    rest = parse_docstring(":param list[str] names: the names\n:param  x :  spaced")
    assert rest.params == {"names": "the names", "x": "spaced"}
    # a line that merely ends in a colon is prose, not a section
    assert parse_docstring("Note the following:\nsomething").description.startswith("Note the")


def test_description_argument_overrides_docstring_prose_only() -> None:
    @tool(description="Custom.")
    def f(a: int) -> None:
        """Doc.

        Args:
            a: the a
        """

    assert f.description == "Custom."
    assert f.schema["properties"]["a"]["description"] == "the a"


# ------------------------------------------------------------------- validation


@tool
def book(title: str, nights: int, guests: list[str] = [], tier: Color = Color.RED) -> str:  # noqa: B006
    return title


def _error(arguments: Any) -> ToolArgumentError:
    with pytest.raises(ToolArgumentError) as info:
        book.validate(arguments)
    assert info.value.tool == "book"
    assert str(info.value).startswith("tool `book`: ")
    return info.value


def test_valid_arguments_from_text_bytes_and_mapping() -> None:
    expected = {"title": "t", "nights": 2, "guests": [], "tier": Color.RED}
    assert book.validate('{"title": "t", "nights": 2}') == expected
    assert book.validate(b'{"title": "t", "nights": 2}') == expected
    assert book.validate({"title": "t", "nights": 2}) == expected
    assert book.validate({"title": "t", "nights": 2, "tier": "blue"})["tier"] is Color.BLUE


@pytest.mark.parametrize(
    ("arguments", "path", "text"),
    [
        ('{"title": 1, "nights": 2}', "$.title", "argument `$.title`: expected `str`, got `int`"),
        ('{"title": "t", "nights": "2"}', "$.nights", "expected `int`, got `str`"),
        ({"title": "t", "nights": "2"}, "$.nights", "expected `int`, got `str`"),
        ('{"title": "t", "nights": 1.5}', "$.nights", "expected `int`, got `float`"),
        ('{"nights": 2}', "$.title", "argument `$.title`: required but missing"),
        ({"nights": 2}, "$.title", "required but missing"),
        ('{"title": "t", "nights": 2, "pets": 1}', "$.pets", "argument `$.pets`: unknown argument"),
        ('{"title": "t", "nights": 2, "guests": [1]}', "$.guests[0]", "expected `str`"),
        ('{"title": "t", "nights": 2, "tier": "green"}', "$.tier", "invalid enum value 'green'"),
        ('{"title": "t", "nights": ' + "9" * 5000 + "}", "$.nights", "out of range"),
        ('{"title": "t", "nights": 2', "$", "invalid arguments: not valid JSON"),
        ("nonsense", "$", "invalid arguments: not valid JSON: malformed: invalid character"),
        ("[1, 2]", "$", "invalid arguments: expected `object`, got `array`"),
        ("null", "$", "expected `object`, got `null`"),
        ({1: 2}, "$", "object key: expected `str`"),
        ('{"title": "\ud800", "nights": 1}', "$", "not valid UTF-8"),
        (42, "$", "expected a JSON text or a mapping, got `int`"),
    ],
)
def test_invalid_arguments_name_tool_path_and_expectation(
    arguments: Any, path: str, text: str
) -> None:
    err = _error(arguments)
    assert err.path == path
    assert text in str(err)


def test_oversized_arguments() -> None:
    big = '{"title": "' + "x" * MAX_ARGUMENT_BYTES + '", "nights": 1}'
    for arguments in (big, big.encode()):
        err = _error(arguments)
        assert err.path == "$"
        assert f"over the limit of {MAX_ARGUMENT_BYTES} bytes" in str(err)
    # multi-byte text is measured in UTF-8 bytes
    near = '{"title": "' + "é" * (MAX_ARGUMENT_BYTES // 2) + '", "nights": 1}'
    assert "over the limit" in str(_error(near))


def test_deep_nesting_is_an_argument_error() -> None:
    @tool
    def anything(v: Any) -> None:
        pass

    deep = '{"v": ' + "[" * 100_000 + "]" * 100_000 + "}"
    try:
        anything.validate(deep)
    except ToolArgumentError as err:
        assert err.path.startswith("$")


# ------------------------------------------------------------------- invocation


@pytest.mark.anyio
async def test_sync_runs_in_a_worker_thread() -> None:
    seen: list[int] = []

    @tool
    def where(a: int) -> int:
        seen.append(threading.get_ident())
        return a * 2

    assert await where.invoke(where.validate('{"a": 4}')) == 8
    assert seen[0] != threading.get_ident()


@pytest.mark.anyio
async def test_non_blocking_sync_runs_inline() -> None:
    seen: list[int] = []

    @tool(blocking=False)
    def inline(a: int) -> int:
        seen.append(threading.get_ident())
        return a

    assert await inline.invoke({"a": 1}) == 1
    assert seen == [threading.get_ident()]


@pytest.mark.anyio
async def test_async_is_awaited() -> None:
    @tool
    async def fetch(url: str) -> str:
        await anyio.sleep(0)
        return url.upper()

    assert fetch.is_async
    assert await fetch.invoke(fetch.validate('{"url": "a"}')) == "A"


@pytest.mark.anyio
async def test_exceptions_propagate() -> None:
    @tool
    def boom(a: int) -> None:
        raise ValueError(f"bad {a}")

    @tool
    async def aboom() -> None:
        raise KeyError("k")

    with pytest.raises(ValueError, match="bad 1"):
        await boom.invoke({"a": 1})
    with pytest.raises(KeyError):
        await aboom.invoke({})


@pytest.mark.anyio
async def test_positional_only_parameters() -> None:
    @tool
    def power(base: int, /, exp: int = 2) -> int:
        return int(base**exp)

    assert await power.invoke(power.validate('{"base": 3}')) == 9
    assert await power.invoke(power.validate({"base": 2, "exp": 3})) == 8


# --------------------------------------------------------------------- registry


def test_registry() -> None:
    def alpha(a: int) -> None:
        pass

    @tool(name="beta")
    def b(x: str) -> None:
        pass

    reg = ToolRegistry([alpha, b])
    assert list(reg) == ["alpha", "beta"]
    assert len(reg) == 2
    assert reg["beta"] is b
    assert "alpha" in reg
    assert "gamma" not in reg
    assert reg.get("gamma") is None
    assert [w.function.name for w in reg.to_wire()] == ["alpha", "beta"]
    with pytest.raises(UnknownToolError) as info:
        reg["gamma"]
    assert str(info.value) == "unknown tool `gamma`; known tools: `alpha`, `beta`"
    with pytest.raises(ToolDefinitionError, match="`beta` is already registered"):
        reg.register(Tool(b.fn, name="beta"))
    with pytest.raises(UnknownToolError, match="known tools: none"):
        ToolRegistry()["x"]


def test_registry_resolves_a_wire_call() -> None:
    reg = ToolRegistry()
    t = reg.register(book)
    call = dto.ToolCall(
        id="c1", function=dto.FunctionCall(name="book", arguments='{"title": "a", "nights": 1}')
    )
    found, kwargs = reg.resolve(call)
    assert found is t
    assert kwargs["nights"] == 1
    bad = dto.ToolCall(id="c2", function=dto.FunctionCall(name="nope", arguments="{}"))
    with pytest.raises(UnknownToolError):
        reg.resolve(bad)


# --------------------------------------------------------------------- properties


class Extra(enum.IntEnum):
    ONE = 1
    TWO = 2


@tool
def rich(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    mode: Literal["fast", "slow"],
    color: Color,
    level: Extra,
    items: list[int],
    table: dict[str, str],
    pair: tuple[int, str],
    maybe: int | None = None,
    point: Point | None = None,
) -> None:
    pass


_json_floats = st.floats(allow_nan=False, allow_infinity=False)
_int64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)
_rich_kwargs = st.fixed_dictionaries(
    {
        "text": st.text(),
        "count": _int64,
        "ratio": _json_floats,
        "flag": st.booleans(),
        "mode": st.sampled_from(["fast", "slow"]),
        "color": st.sampled_from(Color),
        "level": st.sampled_from(Extra),
        "items": st.lists(_int64, max_size=5),
        "table": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=4),
        "pair": st.tuples(_int64, st.text(max_size=5)),
        "maybe": st.none() | _int64,
        "point": st.none() | st.builds(Point, x=_int64, y=_int64),
    }
)


@given(_rich_kwargs)
def test_encoded_arguments_validate_back_to_the_same_kwargs(kwargs: dict[str, Any]) -> None:
    encoded = msgspec.json.encode(rich.argument_type(**kwargs))
    assert rich.validate(encoded) == kwargs
    assert rich.validate(encoded.decode()) == kwargs
    assert rich.validate(json.loads(encoded)) == kwargs


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _json_floats | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_object = st.dictionaries(
    st.sampled_from(["text", "count", "items", "pair", "point", "mode", "junk"]), _json, max_size=6
)


@given(st.text() | st.binary() | _json.map(json.dumps) | _object.map(json.dumps) | _object | _json)
def test_any_input_validates_or_raises_a_tool_argument_error(arguments: Any) -> None:
    try:
        result = rich.validate(arguments)
    except ToolArgumentError as err:
        assert err.tool == "rich"
        assert err.path.startswith("$")
    else:
        assert set(result) == set(rich.schema["properties"])


def test_other_msgspec_types_decode_from_json_text() -> None:
    @tool
    def f(x: float, when: datetime.datetime, u: uuid.UUID, m: decimal.Decimal, s: set[int]) -> None:
        pass

    props = f.schema["properties"]
    assert props["when"]["type"] == "string"
    assert props["u"] == {"type": "string", "format": "uuid"}
    got = f.validate(
        '{"x": 1, "when": "2020-01-01T00:00:00Z", "u": "12345678-1234-5678-1234-567812345678",'
        ' "m": "1.5", "s": [1, 2, 2]}'
    )
    assert got["x"] == 1.0
    assert isinstance(got["x"], float)  # an int is accepted for a float
    assert got["when"] == datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    assert got["u"] == uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert got["m"] == decimal.Decimal("1.5")
    assert got["s"] == {1, 2}


def test_converted_values_keep_their_types() -> None:
    @tool
    def f(box: Box, movie: Movie, color: Color) -> None:
        pass

    got = f.validate({"box": {"label": "l"}, "movie": {"title": "t", "year": 1}, "color": "red"})
    assert got == {"box": Box("l"), "movie": {"title": "t", "year": 1}, "color": Color.RED}


@pytest.mark.anyio
async def test_partial_takes_the_wrapped_function_name_and_docstring() -> None:
    def scale(x: int, factor: int) -> int:
        """Scale a number.

        Args:
            x: the number
        """
        return x * factor

    t = Tool(functools.partial(scale, factor=3))
    assert (t.name, t.description) == ("scale", "Scale a number.")
    assert list(t.schema["properties"]) == ["x"]  # the fixed keyword is hidden
    assert t.schema["properties"]["x"]["description"] == "the number"
    with pytest.raises(ToolArgumentError, match="unknown argument"):
        t.validate('{"x": 2, "factor": 100}')
    assert await t.invoke(t.validate('{"x": 2}')) == 6


_words = st.lists(
    st.from_regex(r"[A-Za-z0-9.,;()'-]{1,8}", fullmatch=True), min_size=1, max_size=12
)
_params = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), _words, min_size=1, max_size=5
)


def _wrapped(words: list[str], indent: str) -> str:
    """The words over lines of at most three words, continuation lines indented."""
    lines = [" ".join(words[i : i + 3]) for i in range(0, len(words), 3)]
    return ("\n" + indent).join(lines)


@given(_words, _params, st.booleans())
def test_docstring_round_trip(
    summary: list[str], params: dict[str, list[str]], google: bool
) -> None:
    if google:
        entries = "".join(
            f"    {name} (int): {_wrapped(words, ' ' * 8)}\n" for name, words in params.items()
        )
        doc = f"{' '.join(summary)}\n\nArgs:\n{entries}\nReturns:\n    nothing\n"
    else:
        entries = "".join(
            f":param {name}: {_wrapped(words, ' ' * 4)}\n" for name, words in params.items()
        )
        doc = f"{' '.join(summary)}\n\n{entries}:returns: nothing\n"
    parsed = parse_docstring(doc)
    assert parsed.description == " ".join(summary)
    assert parsed.params == {name: " ".join(words) for name, words in params.items()}


@given(st.text())
def test_docstring_parser_takes_any_text(text: str) -> None:
    parsed = parse_docstring(text)
    assert isinstance(parsed.description, str)
    assert all(isinstance(v, str) for v in parsed.params.values())


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    a: int


def test_unknown_field_inside_a_strict_struct() -> None:
    @tool
    def f(s: Strict) -> None:
        pass

    with pytest.raises(ToolArgumentError, match=r"argument `\$\.s\.b`: unknown field") as info:
        f.validate('{"s": {"a": 1, "b": 2}}')
    assert info.value.path == "$.s.b"
