"""A small docstring parser: the prose description and per-parameter descriptions.

Understands Google style (an ``Args:`` section with ``name (type): text`` or
``name: text`` entries, continuation lines indented deeper) and reST style
(``:param name: text`` or ``:param type name: text``, continuation lines
indented). Anything else (returns, raises, examples, NumPy sections) ends the
description and is otherwise ignored.
"""

from __future__ import annotations

__all__ = ["Docstring", "parse_docstring"]

import inspect
import re
from dataclasses import dataclass, field
from typing import Final

_GOOGLE_PARAMS: Final = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "kwargs"}
)
_GOOGLE_OTHER: Final = frozenset(
    {
        "attributes", "example", "examples", "methods", "note", "notes", "other parameters",
        "raises", "references", "return", "returns", "see also", "todo", "warning",
        "warnings", "warns", "yield", "yields",
    }
)  # fmt: skip
_HEADER_RE: Final = re.compile(r"([A-Za-z][A-Za-z ]*?)\s*:\s*")
_GOOGLE_ENTRY_RE: Final = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(?:\s+(.*))?")
_REST_FIELD_RE: Final = re.compile(r":(\w+)([^:]*):(?:\s+(.*))?")
_REST_PARAMS: Final = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})
_UNDERLINE_RE: Final = re.compile(r"-{3,}\s*")


@dataclass(frozen=True, slots=True)
class Docstring:
    """What a docstring says: the prose before any section, and each parameter's text."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    """Wrapped lines joined by spaces; a blank line starts a new paragraph."""
    paragraphs: list[list[str]] = [[]]
    for part in parts:
        if part.strip():
            paragraphs[-1].append(part.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def _header(line: str) -> str | None:
    """The lower-cased Google section name if `line` is a section header."""
    match = _HEADER_RE.fullmatch(line.strip())
    if match is None:
        return None
    name = match.group(1).lower()
    return name if name in _GOOGLE_PARAMS or name in _GOOGLE_OTHER else None


def _google_section(lines: list[str], start: int, params: dict[str, str]) -> int:
    """Read the entries of an ``Args:`` section from `start`; the index after it."""
    base = _indent(lines[start - 1])
    entry_indent: int | None = None
    name: str | None = None
    text: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if line.strip():
            if _indent(line) <= base:
                break
            if entry_indent is None:
                entry_indent = _indent(line)
            match = _GOOGLE_ENTRY_RE.fullmatch(line.strip())
            if _indent(line) <= entry_indent and match is not None:
                if name is not None:
                    params[name] = _join(text)
                name, text = match.group(1), [match.group(2) or ""]
            elif name is not None:
                text.append(line)
        elif name is not None:
            text.append("")
        i += 1
    if name is not None:
        params[name] = _join(text)
    return i


def _rest_field(lines: list[str], i: int, params: dict[str, str]) -> int:
    """Read one ``:field ...: text`` and its continuation lines; the index after it."""
    line = lines[i]
    match = _REST_FIELD_RE.fullmatch(line.strip())
    base = _indent(line)
    text = [match.group(3) or ""] if match else []
    i += 1
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        if not lines[i].strip() and (i + 1 >= len(lines) or _indent(lines[i + 1]) <= base):
            break
        text.append(lines[i])
        i += 1
    if match and match.group(1).lower() in _REST_PARAMS:
        words = match.group(2).split()
        if words:
            params[words[-1]] = _join(text)
    return i


def parse_docstring(doc: str | None) -> Docstring:
    """Split `doc` into its prose description and its parameter descriptions."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    prose: list[str] = []
    params: dict[str, str] = {}
    in_prose = True
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        header = _header(line)
        if header is not None and (i + 1 >= len(lines) or _indent(lines[i + 1]) > _indent(line)):
            in_prose = False
            if header in _GOOGLE_PARAMS:
                i = _google_section(lines, i + 1, params)
                continue
        elif _REST_FIELD_RE.fullmatch(stripped):
            in_prose = False
            i = _rest_field(lines, i, params)
            continue
        elif stripped and i + 1 < len(lines) and _UNDERLINE_RE.fullmatch(lines[i + 1].strip()):
            in_prose = False  # a NumPy section header
        if in_prose:
            prose.append(line)
        i += 1
    return Docstring(description="\n".join(prose).strip(), params=params)
