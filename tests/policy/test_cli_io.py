"""Where a field of a JSON file is: the place `lion policy` reports for a refused field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lion.policy._cli_io import locate_error, locate_json_path

KEYS = st.text(st.sampled_from('abz _-?é"\\:'), min_size=0, max_size=3)
documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.floats(0, 1)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=10,
)


def _paths(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = [(prefix, doc)]
    if isinstance(doc, list):
        for index, item in enumerate(doc):
            out += _paths(item, f"{prefix}[{index}]")
    elif isinstance(doc, dict):
        for key, value in doc.items():
            if key and not any(c in key for c in ".[]"):
                out += _paths(value, f"{prefix}.{key}")
    return out


def _offset(text: str, line: int, column: int) -> int:
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return starts[line - 1] + column - 1


@given(doc=documents, indent=st.sampled_from([None, 0, 1, 2]), data=st.data())
def test_the_located_place_holds_the_value_at_that_path(
    doc: Any, indent: int | None, data: st.DataObject
) -> None:
    text = json.dumps(doc, indent=indent)
    path, value = data.draw(st.sampled_from(_paths(doc)))
    at = locate_json_path(text, path)
    assert at is not None, (text, path)
    found, _ = json.JSONDecoder().raw_decode(text, _offset(text, *at))
    assert found == value or (found != found and value != value)  # NaN is not produced


def test_missing_fields_and_bad_paths_are_not_found() -> None:
    text = '{"a": [1, {"b": 2}], "c": {}}'
    assert locate_json_path(text, ".a[1].b") == (1, 17)
    assert locate_json_path(text, ".a[2]") is None
    assert locate_json_path(text, ".c.d") is None
    assert locate_json_path(text, "a") is None
    assert locate_json_path("[1, 2", "[5]") is None


def test_an_error_is_placed_at_the_innermost_field_that_exists() -> None:
    text = '[\n {"uid": {"type": "User", "id": "a"},\n  "attrs": {"x": {}}}\n]'
    bad = locate_error("entities[0].attrs.x.y: missing", text, "e.json", {"entities": ""})
    assert bad.location == {"path": "e.json", "line": 3, "column": 18}
    other = locate_error("something else: no field", text, "e.json", {"entities": ""})
    assert other.location == {"path": "e.json"}
