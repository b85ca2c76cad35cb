"""What every `lion policy` verb shares: exit codes, bad-input errors with a location,
reading files (``-`` is stdin) and JSON with file:line:col, and closed output pipes."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO

from lion._pipe import PipeGuard
from lion.errors import LionError, SourceLocation

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "BadInput",
    "PipeGuard",
    "error_json",
    "locate_json_path",
    "read_json",
    "read_text",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class BadInput(Exception):
    """Bad input: exit 2, reported as ``path:line:col: message`` (and as JSON with --json).

    ``location`` is ``{"path", "line", "column"}``, ``{"path"}`` or ``{"argument"}``.
    """

    def __init__(self, message: str, location: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    @classmethod
    def from_error(cls, exc: LionError, path: str | None = None) -> BadInput:
        loc = getattr(exc, "location", None)
        if isinstance(loc, SourceLocation):
            where = {"path": loc.path, "line": loc.line, "column": loc.column}
            return cls(str(getattr(exc, "message", exc)), where)
        return cls(str(exc), {"path": path} if path is not None else None)

    def text(self) -> str:
        loc = self.location or {}
        if "line" in loc:
            return f"{loc['path']}:{loc['line']}:{loc['column']}: {self.message}"
        if loc.get("path") is not None:
            return f"{loc['path']}: {self.message}"
        if loc.get("argument") is not None:
            return f"argument {loc['argument']}: {self.message}"
        return self.message


def error_json(code: int, kind: str, message: str, location: dict[str, Any] | None) -> str:
    error = {"kind": kind, "message": message, "location": location}
    return json.dumps({"ok": False, "exit_code": code, "error": error}, indent=2)


# -- files ----------------------------------------------------------------------------


def read_text(path: str, stdin: TextIO | None = None) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input); BadInput if it cannot be read."""
    if path == "-":
        return (stdin or sys.stdin).read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise BadInput("no such file", {"path": path}) from None
    except IsADirectoryError:
        raise BadInput("is a directory, not a file", {"path": path}) from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text: {exc.reason}", {"path": path}) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", {"path": path}) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key `{key}`")
        out[key] = value
    return out


def read_json(text: str, path: str) -> Any:
    """Decode JSON text read from ``path``; BadInput at the line and column of a syntax error."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        where = {"path": path, "line": exc.lineno, "column": exc.colno}
        raise BadInput(f"invalid JSON: {exc.msg.lower()}", where) from None
    except ValueError as exc:  # a duplicate key
        raise BadInput(f"invalid JSON: {exc}", {"path": path}) from None
    except RecursionError:
        raise BadInput("invalid JSON: nested too deeply", {"path": path}) from None


# -- where in a JSON file a field is ----------------------------------------------------

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_WS = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def _steps(field: str) -> list[str | int] | None:
    steps: list[str | int] = []
    pos = 0
    while pos < len(field):
        match = _STEP.match(field, pos)
        if match is None:
            return None
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    return steps


def _skip_value(text: str, pos: int) -> int:
    """The offset just after the JSON value starting at ``pos`` (iterative: no recursion)."""
    depth = 0
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        ch = text[pos]
        if ch in "[{":
            depth += 1
            pos += 1
            continue
        if ch in "]}":
            depth -= 1
            pos += 1
        elif ch == '"':
            _, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        elif ch in ",:":
            pos += 1
            continue
        else:
            _, pos = _decoder.raw_decode(text, pos)
        if depth == 0:
            return int(pos)


def locate_json_path(text: str, field: str) -> tuple[int, int] | None:
    """The (line, column) of the value at ``field`` (``.a[2].b``) in JSON ``text``, if found.

    Best effort for error messages: a key holding ``.`` or ``[`` is not found.
    """
    steps = _steps(field)
    if steps is None:
        return None
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        for step in steps:
            opener = text[pos]
            pos += 1
            index = 0
            while True:
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos] in "]}":
                    return None
                if opener == "{":
                    key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                    pos = _WS.match(text, pos).end() + 1  # type: ignore[union-attr]
                    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                    found = key == step
                else:
                    found = index == step
                if found:
                    break
                pos = _skip_value(text, pos)
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos] != ",":
                    return None
                pos += 1
                index += 1
    except (IndexError, ValueError):
        return None
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


_FIELD = re.compile(r"^(?P<root>[a-z]+)(?P<field>(?:\.[^.\[\]:\s]+|\[\d+\])*): (?P<rest>.*)$", re.S)


def locate_error(message: str, text: str, path: str, roots: dict[str, str]) -> BadInput:
    """A loader's ``entities[2].attrs.owner: ...`` as BadInput at that place in the file.

    ``roots`` maps the message's leading name (``entities``) to the field of
    the file it starts at (``""`` for the whole file).
    """
    match = _FIELD.match(message)
    if match is not None and match.group("root") in roots:
        prefix = roots[match.group("root")]
        field = match.group("field")
        if field.startswith(prefix):
            # the innermost field that exists: the message may name a missing key
            steps = field[len(prefix) :]
            while True:
                at = locate_json_path(text, steps)
                if at is not None:
                    return BadInput(message, {"path": path, "line": at[0], "column": at[1]})
                cut = max(steps.rfind("."), steps.rfind("["))
                if cut < 0:
                    break
                steps = steps[:cut]
            at = locate_json_path(text, "")
            if at is not None:
                return BadInput(message, {"path": path, "line": at[0], "column": at[1]})
    return BadInput(message, {"path": path})
