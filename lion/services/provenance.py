"""Provenance: where each value in a tool call's arguments came from.

Every message and tool result of a conversation is a `Source` (the user, the
system prompt, the model, or a tool whose results are trusted or untrusted).
A `ProvenanceIndex` indexes the sources once, as they arrive, and labels each
leaf of a tool call's arguments with the sources in which that value appears
(`Label`). `to_context` turns the labels into the Cedar record a policy reads
as `context.provenance`; `result_trusted` says whether a trusted tool's result
stays trusted given the labels of the call that produced it.

Matching (see docs/provenance.md for the full rules):

- text is normalised (Unicode NFKC, case folded, whitespace collapsed) and cut
  into tokens (runs of word characters, and each punctuation mark on its own);
  a string matches when its tokens appear contiguously in a source, so `bob`
  is not found in `bobby` but `attacker@example.com` is found in a sentence;
- numbers, dates and times also match in their common written forms
  (`1000`, `1,000`, `1 000`, `1000.0`; `2026-12-01`, `12/01/2026` read as
  month/day/year, `1 December 2026`, `Dec 1, 2026`; `14:30`, `2:30 pm`);
- values under `MIN_FREE_TEXT` characters match only a whole structured field
  of a source, or a source whose whole content is that value, never free text;
- a string that embeds an identifier (URL, e-mail address, domain, IBAN,
  account or phone number, long id) found only in untrusted tool results is
  labelled untrusted whatever the rest of it is;
- booleans and null are not labelled; the model's own messages never count
  as a source (a value the model repeats is still the model's).

Errors: `ProvenanceError` (a `ServiceError`) for arguments that cannot be
labelled (bytes, objects, non-string keys, nesting deeper than `MAX_DEPTH`,
more than `MAX_NODES` values) and for malformed sources.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import msgspec

from lion.errors import ServiceError
from lion.services import _provenance_forms as _forms
from lion.services._provenance_forms import normalize
from lion.services.tools import Trust

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MIN_FREE_TEXT",
    "Kind",
    "Label",
    "ProvenanceError",
    "ProvenanceIndex",
    "Source",
    "Trust",
    "cedar_entry_type",
    "key_path",
    "label",
    "normalize",
    "result_trusted",
    "to_context",
]

Kind = Literal["user", "system", "model", "tool"]
"""Who a source is: the user's instruction, the system prompt, the model, or a tool."""

MIN_FREE_TEXT = 4
"""Values shorter than this (normalised) are not labelled from free text."""
MAX_DEPTH = 32
"""Deepest nesting of lists and records in a tool call's arguments."""
MAX_NODES = 10_000
"""Most values (leaves and containers) in one call's arguments: a Cedar record's size bound."""


_EXACT_TEXT = 256  # whole fields shorter than this are also kept for exact matches


class ProvenanceError(ServiceError):
    """Arguments that provenance cannot label, or a malformed source."""


# ---------------------------------------------------------------------------- sources and labels


@dataclass(frozen=True, slots=True, init=False)
class Source:
    """One message or tool result: who produced it, whether it is trusted, what it says.

    `content` is text, or any JSON-like value for a structured tool result.
    `trusted` defaults by kind: user and system sources are trusted (and cannot
    be marked otherwise), the model and tools are not. A tool source needs the
    tool's `name`.
    """

    kind: Kind
    content: Any
    name: str
    trusted: bool

    def __init__(
        self, kind: Kind, content: Any = "", *, name: str = "", trusted: bool | None = None
    ) -> None:
        if kind not in ("user", "system", "model", "tool"):
            raise ProvenanceError(
                f"source kind `{kind}` must be `user`, `system`, `model` or `tool`"
            )
        if kind == "tool" and not name:
            raise ProvenanceError("a tool source needs the tool's name")
        if kind in ("user", "system") and trusted is False:
            raise ProvenanceError(
                f"a {kind} source is trusted by definition; untrusted text is a tool result"
            )
        if kind == "model" and trusted:
            raise ProvenanceError("a model source cannot be trusted: the model vouches for nothing")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "content", content)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "trusted", kind in ("user", "system") or bool(trusted))

    @classmethod
    def user(cls, content: Any) -> Source:
        return cls("user", content)

    @classmethod
    def system(cls, content: Any) -> Source:
        return cls("system", content)

    @classmethod
    def model(cls, content: Any) -> Source:
        return cls("model", content)

    @classmethod
    def tool(cls, name: str, content: Any, *, trust: Trust | bool = "untrusted") -> Source:
        """A tool's result; `trust` is the tool's `Tool.trust` (or a bool)."""
        if trust not in ("trusted", "untrusted", True, False):
            raise ProvenanceError(f"trust `{trust!r}` must be `trusted` or `untrusted`")
        return cls("tool", content, name=name, trusted=trust in ("trusted", True))


@dataclass(frozen=True, slots=True)
class Label:
    """Where one argument value appears: user, system, trusted or untrusted tool results.

    `tools` names the tools whose results hold it; `embedded` lists the
    identifiers inside a string that were found only in untrusted results
    (and made it untrusted). No source at all means the model produced it.
    """

    user: bool = False
    system: bool = False
    trusted: bool = False
    untrusted: bool = False
    tools: tuple[str, ...] = ()
    embedded: tuple[str, ...] = ()

    @property
    def unsourced(self) -> bool:
        """Found nowhere: the model produced the value."""
        return not (self.user or self.system or self.trusted or self.untrusted)

    @property
    def untrusted_only(self) -> bool:
        """Found in untrusted tool results and in nothing that vouches for it."""
        return self.untrusted and not (self.user or self.system or self.trusted)


# ---------------------------------------------------------------------------- walking values


_LEAVES = (str, int, float, Decimal, dt.date, dt.time, uuid.UUID)
_PLAIN = frozenset({str, int, float, bool, type(None), dict, list, tuple})


def _plain(value: Any, where: str = "") -> Any:
    """JSON-like builtins for a Struct, dataclass or enum; other values as they are."""
    if type(value) in _PLAIN:  # the common case, without the checks below
        return value
    if isinstance(value, msgspec.Struct | enum.Enum) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        try:
            return msgspec.to_builtins(
                value, builtin_types=(dt.datetime, dt.date, dt.time, Decimal, uuid.UUID)
            )
        except (TypeError, ValueError) as exc:  # msgspec's EncodeError is a ValueError
            raise ProvenanceError(f"{where or 'value'}: cannot read it as data: {exc}") from None
    return value


def key_path(parent: str, key: str) -> str:
    """The path of argument `key` under `parent`, as labels name it: `a.b`, or `a["a b"]`."""
    if key.isidentifier():
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


def _parents(path: str) -> Iterator[str]:
    """The container paths above `path`: `a.b[0]` -> `a`, `a.b`."""
    quoted = escaped = False
    for i, ch in enumerate(path):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in ".[" and i > 0 and path[i - 1] != "[":
            yield path[:i]


# ---------------------------------------------------------------------------- the index


class ProvenanceIndex:
    """Sources indexed once, so labelling a call costs what its arguments cost, not the history.

    Free text goes into a token index (token -> where it occurs); written
    forms of numbers, dates, times and digit runs, and whole structured
    fields, go into an atom index (atom -> sources). A value is matched by
    looking up its rarest token and checking the few places it occurs.
    """

    def __init__(self, sources: Iterable[Source] = ()) -> None:
        self._sources: list[Source] = []
        self._docs: list[tuple[str, ...]] = []  # token sequences of indexed text
        self._doc_source: list[int] = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._atoms: dict[str, set[int]] = {}
        for source in sources:
            self.add(source)

    def __len__(self) -> int:
        return len(self._sources)

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(self._sources)

    def add(self, source: Source) -> None:
        """Index one more message or tool result (model messages are kept but not indexed)."""
        if not isinstance(source, Source):
            raise ProvenanceError(f"a source must be a `Source`, got `{type(source).__name__}`")
        sid = len(self._sources)
        self._sources.append(source)
        if source.kind == "model":
            return
        # iterative walk: a deep tool result must not hit the recursion limit
        stack: list[Any] = [source.content]
        while stack:
            value = stack.pop()
            try:
                value = _plain(value)
            except ProvenanceError:
                value = repr(value)  # a result that is not data is read as its text
            if isinstance(value, Mapping):
                for key, item in value.items():
                    self._add_text(sid, str(key), leaf=False)
                    stack.append(item)
            elif isinstance(value, list | tuple | set | frozenset):
                stack.extend(value)
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int | float | Decimal):
                number = _forms.canonical_number(value)  # not str(): no 4300-digit limit
                self._atom(sid, "x:n:" + number)
                self._add_text(sid, number, leaf=False)
            elif isinstance(value, dt.date | dt.time):
                self._add_text(sid, value.isoformat(), leaf=True)
            elif isinstance(value, bytes | bytearray | memoryview):
                continue  # the model never reads raw bytes as text
            else:
                self._add_text(sid, str(value), leaf=True)

    def _atom(self, sid: int, atom: str) -> None:
        self._atoms.setdefault(atom, set()).add(sid)

    def _add_text(self, sid: int, text: str, *, leaf: bool) -> None:
        norm = _forms.normalize(text)
        if leaf:  # the whole field (or whole message): exact matches of short values count
            if len(norm) < _EXACT_TEXT:  # longer values are found by their tokens anyway
                self._atom(sid, "x:s:" + norm)
            for atom in _forms.whole_atoms(norm):
                self._atom(sid, "x:" + atom)
        for _, _, atom in _forms.spans(norm):
            self._atom(sid, atom)
        tokens = _forms.tokens(norm)
        if not tokens:
            return
        doc = len(self._docs)
        self._docs.append(tokens)
        self._doc_source.append(sid)
        for pos, token in enumerate(tokens):
            self._postings.setdefault(token, []).append((doc, pos))

    # -------------------------------------------------------------------- lookups

    def _find_tokens(self, tokens: tuple[str, ...]) -> set[int]:
        """Sources with `tokens` as a contiguous run in one of their texts."""
        if not tokens:
            return set()
        rarest, offset, fewest = "", 0, -1
        for i, token in enumerate(tokens):
            postings = self._postings.get(token)
            if postings is None:
                return set()
            if fewest < 0 or len(postings) < fewest:
                rarest, offset, fewest = token, i, len(postings)
        found: set[int] = set()
        n = len(tokens)
        for doc, pos in self._postings[rarest]:
            sid = self._doc_source[doc]
            start = pos - offset
            if sid in found or start < 0:
                continue
            text = self._docs[doc]
            if start + n <= len(text) and text[start : start + n] == tokens:
                found.add(sid)
        return found

    def _find_atom(self, atom: str) -> set[int]:
        return self._atoms.get(atom, set())

    def _text_sources(self, text: str) -> tuple[set[int], tuple[str, ...]]:
        norm = _forms.normalize(text)
        found = set(self._find_atom("x:s:" + norm))
        atoms = _forms.whole_atoms(norm)
        for atom in atoms:
            found |= self._find_atom("x:" + atom)
            if not atom.startswith("n:") or len(atom.lstrip("n:-")) >= MIN_FREE_TEXT:
                found |= self._find_atom(atom)
        # a number, date or time is matched as its atom only: "1,000" is not in "1,000,000"
        precise = atoms and all(atom[0] in "ndt" for atom in atoms)
        if not precise and len(norm) >= MIN_FREE_TEXT:
            found |= self._find_tokens(_forms.tokens(norm))
        if found:
            return found, ()
        # found nowhere as a whole: an identifier inside that only untrusted content holds taints it
        tainted: list[str] = []
        for ident in sorted(_forms.identifiers(norm)):
            where = self._find_tokens(_forms.tokens(ident))
            for atom in _forms.whole_atoms(ident):
                if atom[0] in "ip":
                    where |= self._find_atom(atom)
            if where and all(self._untrusted(sid) for sid in where):
                found |= where
                tainted.append(ident)
        return found, tuple(tainted)

    def _untrusted(self, sid: int) -> bool:
        return not self._sources[sid].trusted

    def _value_sources(self, value: Any) -> tuple[set[int], tuple[str, ...]]:
        if isinstance(value, str):
            return self._text_sources(value)
        if isinstance(value, int | float | Decimal):
            number = _forms.canonical_number(value)
            found = set(self._find_atom("x:n:" + number))
            if len(number.lstrip("-")) >= MIN_FREE_TEXT:
                found |= self._find_atom("n:" + number)
            return found, ()
        if isinstance(value, dt.datetime):
            found = self._find_atom("d:" + value.date().isoformat())
            clock = value.time().replace(microsecond=0)
            if clock != dt.time(0):  # midnight is how a bare date reads as a datetime
                found = found & self._find_atom(_forms.clock_atom(clock))
            return found | self._text_sources(value.isoformat())[0], ()
        if isinstance(value, dt.date):
            return set(self._find_atom("d:" + value.isoformat())), ()
        if isinstance(value, dt.time):
            return set(self._find_atom(_forms.clock_atom(value))), ()
        if isinstance(value, uuid.UUID):
            return self._text_sources(str(value))
        # INVARIANT: lookup passes only _LEAVES, and every one is handled above
        raise AssertionError(type(value).__name__)

    def lookup(self, value: Any) -> Label:
        """The label of one value (a leaf: text, number, date, time or UUID)."""
        if isinstance(value, bool) or value is None:
            return Label()
        plain = _plain(value)
        if isinstance(plain, bool) or not isinstance(plain, _LEAVES):
            raise ProvenanceError(f"cannot label a value of type `{type(value).__name__}`")
        found, embedded = self._value_sources(plain)
        kinds: set[str] = set()
        tools: set[str] = set()
        for sid in found:
            source = self._sources[sid]
            if source.kind == "tool":
                kinds.add("trusted" if source.trusted else "untrusted")
                tools.add(source.name)
            else:
                kinds.add(source.kind)
        return Label(
            user="user" in kinds,
            system="system" in kinds,
            trusted="trusted" in kinds,
            untrusted="untrusted" in kinds,
            tools=tuple(sorted(tools)),
            embedded=embedded,
        )

    def label(self, arguments: Mapping[str, Any]) -> dict[str, Label]:
        """A `Label` for each leaf of `arguments`, keyed by path (`to`, `cc[0]`, `body.subject`).

        Booleans and nulls are left out; bytes and arbitrary objects, non-string
        keys, nesting deeper than `MAX_DEPTH` and more than `MAX_NODES` values
        raise `ProvenanceError` naming the path.
        """
        arguments = _plain(arguments, "arguments")
        if not isinstance(arguments, Mapping):
            raise ProvenanceError(
                f"arguments must be a mapping of names to values, got `{type(arguments).__name__}`"
            )
        labels: dict[str, Label] = {}
        stack: list[tuple[str, Any, int]] = [("", arguments, 0)]
        nodes = 0
        while stack:
            path, value, depth = stack.pop()
            nodes += 1
            if nodes > MAX_NODES:
                raise ProvenanceError(f"arguments hold more than {MAX_NODES} values")
            where = f"argument `{path or '$'}`"
            if depth > MAX_DEPTH:
                raise ProvenanceError(f"{where}: nested deeper than {MAX_DEPTH} levels")
            value = _plain(value, where)
            if isinstance(value, Mapping):
                children: list[tuple[str, Any, int]] = []
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise ProvenanceError(
                            f"{where}: key `{key!r}` is a `{type(key).__name__}`, not a string"
                        )
                    children.append((key_path(path, key), item, depth + 1))
                stack.extend(reversed(children))
            elif isinstance(value, list | tuple | set | frozenset):
                if isinstance(value, set | frozenset):  # a stable order for the paths
                    value = sorted(value, key=repr)
                items = [(f"{path}[{i}]", item, depth + 1) for i, item in enumerate(value)]
                stack.extend(reversed(items))
            elif isinstance(value, bool) or value is None or (isinstance(value, str) and not value):
                continue  # nothing to trace: no entry, so a policy reading one is UNKNOWN
            elif isinstance(value, _LEAVES):
                labels[path] = self.lookup(value)
            else:
                raise ProvenanceError(
                    f"{where}: cannot label a value of type `{type(value).__name__}`; "
                    "expected text, numbers, dates, times, lists and records"
                )
        return labels


# ---------------------------------------------------------------------------- functions


def label(arguments: Mapping[str, Any], sources: Sequence[Source]) -> dict[str, Label]:
    """Label `arguments` against `sources` in one go (index them once with `ProvenanceIndex`
    when several calls share a history)."""
    return ProvenanceIndex(sources).label(arguments)


def _record(labels: Sequence[Label]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "user": any(x.user for x in labels),
        "system": any(x.system for x in labels),
        "trusted": any(x.trusted for x in labels),
        "untrusted": any(x.untrusted for x in labels),
        "unsourced": any(x.unsourced for x in labels),
        "untrusted_only": any(x.untrusted_only for x in labels),
        # the value embeds an identifier (URL, address, account) found only in untrusted content
        "embedded": any(x.embedded for x in labels),
        "tools": sorted({t for x in labels for t in x.tools}),
    }
    if not record["unsourced"]:
        # absent when a value comes from nowhere, so a policy that reads it is UNKNOWN there
        record["sourced"] = True
    return record


def cedar_entry_type() -> dict[str, Any]:
    """The Cedar schema type (JSON format) of one `context.provenance` entry.

    `sourced` is optional: Cedar's validator refuses a policy that reads it
    without `has`, so schema-checked policies ask with an approval entity
    instead (docs/provenance.md).
    """
    flags = ("user", "system", "trusted", "untrusted", "unsourced", "untrusted_only", "embedded")
    return {
        "type": "Record",
        "attributes": {
            **{flag: {"type": "Boolean"} for flag in flags},
            "tools": {"type": "Set", "element": {"type": "String"}},
            "sourced": {"type": "Boolean", "required": False},
        },
    }


def to_context(labels: Mapping[str, Label]) -> dict[str, Any]:
    """The `context.provenance` record: one entry per leaf path and per container above it.

    A leaf's entry says where its value appears; a container's entry (`cc`,
    `body`) summarises its leaves: each flag is true when it is true of any
    leaf, and `sourced` is present only when every leaf has a source.
    """
    below: dict[str, list[Label]] = {}
    for path, lab in labels.items():
        for parent in _parents(path):
            below.setdefault(parent, []).append(lab)
    context = {path: _record(labs) for path, labs in below.items()}
    context.update((path, _record([lab])) for path, lab in labels.items())
    return context


def result_trusted(
    tool_trusted: bool,
    argument_labels: Mapping[str, Label] | Iterable[Label],
    *,
    unsourced_taints: bool = False,
) -> bool:
    """Whether a tool's result counts as trusted content, given the labels of its call.

    An untrusted tool's result is never trusted. A trusted tool's result is
    untrusted when any argument came only from untrusted content (a value the
    user, the system prompt or a trusted result also holds is vouched for).
    With `unsourced_taints`, a value the model produced taints it too.
    """
    if not tool_trusted:
        return False
    labels = argument_labels.values() if isinstance(argument_labels, Mapping) else argument_labels
    return not any(lab.untrusted_only or (unsourced_taints and lab.unsourced) for lab in labels)
