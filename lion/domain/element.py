"""Element: the identified, timestamped base of every domain object.

An Element is a msgspec Struct, so creating, encoding and decoding one happens
in C. Every subclass is registered under its qualified name
(``module.QualName``), which msgspec writes as the tag field ``lion_class``;
decoding through ``Element.from_json`` (or any subclass's) looks the tag up in
that registry and returns an instance of the class that was encoded. Nothing
is ever imported by name from serialized data.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union
from uuid import UUID

import msgspec

from lion.domain._ids import new_id
from lion.errors import DeserializationError, DomainError

__all__ = ["Element", "element_classes"]

E = TypeVar("E", bound="Element")

_REGISTRY: dict[str, type[Element]] = {}
_REGISTRY_LOCK = threading.Lock()
_registry_version = 0

# v0 wrote its class name into metadata["lion_class"]; these are the v0 names
# whose data LION can read.
_V0_NAMES = {
    "lionagi.protocols.generic.element.Element": "lion.domain.element.Element",
    "lionagi.protocols.generic.progression.Progression": "lion.domain.progression.Progression",
    "lionagi.protocols.generic.pile.Pile": "lion.domain.pile.Pile",
}
_READ_ONLY = frozenset({"id", "created_at"})


class _ElementMeta(msgspec.StructMeta):
    """Tags each Element class with its qualified name and registers it."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _ElementMeta:
        kwargs.setdefault("tag", f"{namespace['__module__']}.{namespace['__qualname__']}")
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        global _registry_version
        with _REGISTRY_LOCK:
            _REGISTRY[kwargs["tag"]] = cls  # type: ignore[assignment]
            _registry_version += 1
        return cls


def _now() -> float:
    return time.time()


class Element(
    msgspec.Struct,
    metaclass=_ElementMeta,
    kw_only=True,
    tag_field="lion_class",
    eq=False,
    forbid_unknown_fields=True,
):
    """A uniquely identified object: ``id`` (UUID), ``created_at`` (POSIX seconds), ``metadata``.

    Two Elements are equal when their ids are equal, and hash as their id.
    ``id`` and ``created_at`` are read-only once the Element exists. Subclass it
    like a msgspec Struct (annotated fields); the subclass round-trips through
    ``to_json``/``from_json`` and ``to_msgpack``/``from_msgpack``.
    """

    id: UUID = msgspec.field(default_factory=new_id)
    created_at: float = msgspec.field(default_factory=_now)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Decoded data is already typed; this only normalises direct construction.
        if type(self.id) is not UUID:
            _set(self, "id", _coerce_id(self.id))
        if type(self.created_at) is not float:
            _set(self, "created_at", _coerce_timestamp(self.created_at))
        if type(self.metadata) is not dict:
            _set(self, "metadata", _coerce_metadata(self.metadata))

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _READ_ONLY:
            raise DomainError(f"`{name}` of an element is read-only")
        super().__setattr__(name, value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Element):
            return self.id == other.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __bool__(self) -> bool:
        return True

    @property
    def created_datetime(self) -> dt.datetime:
        """``created_at`` as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.created_at, tz=dt.UTC)

    @classmethod
    def class_name(cls, full: bool = False) -> str:
        """The class name; with ``full=True`` the tag written as ``lion_class``."""
        if full:
            return str(cls.__struct_config__.tag)
        return cls.__name__

    # -- serialization -----------------------------------------------------

    def to_dict(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """A dict with a ``lion_class`` key; ``mode="json"`` makes every value JSON-safe."""
        if mode == "python":
            out = msgspec.to_builtins(self, builtin_types=_PY_TYPES, enc_hook=enc_hook)
        elif mode == "json":
            out = msgspec.to_builtins(self, enc_hook=enc_hook)
        else:
            raise DomainError(f"unknown mode `{mode}`: expected `python` or `json`")
        return out  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls: type[E], data: Any) -> E:
        """Rebuild an Element (the subclass named by ``lion_class``) from ``to_dict`` output."""
        if not isinstance(data, dict):
            raise DeserializationError(
                f"cannot build a `{cls.__name__}` from a `{type(data).__name__}`: expected a dict"
            )
        data = _normalise_v0(data, cls)
        try:
            return msgspec.convert(data, _union_for(cls), strict=False, dec_hook=dec_hook)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            raise DeserializationError(_describe(exc, cls, data)) from None
        except DomainError as exc:
            raise DeserializationError(f"invalid `{cls.__name__}` data: {exc}") from None

    def to_json(self, decode: bool = True) -> Any:
        """JSON text (``str``), or ``bytes`` with ``decode=False``."""
        raw = _encode_json(self)
        return raw.decode() if decode else raw

    @classmethod
    def from_json(cls: type[E], data: str | bytes) -> E:
        """Decode JSON written by ``to_json`` into the encoded (sub)class."""
        return _decode(cls, data, "json")

    def to_msgpack(self) -> bytes:
        """MessagePack bytes."""
        return _encode_msgpack(self)

    @classmethod
    def from_msgpack(cls: type[E], data: bytes) -> E:
        """Decode MessagePack written by ``to_msgpack`` into the encoded (sub)class."""
        return _decode(cls, data, "msgpack")


_set = msgspec.structs.force_setattr
_PY_TYPES = (UUID, dt.datetime, dt.date, dt.time, dt.timedelta, bytes)


def _coerce_id(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise DomainError(f"invalid element id `{value!r}`: expected a UUID or a UUID string")


def _coerce_timestamp(value: Any) -> float:
    if value is None:
        return time.time()
    if isinstance(value, bool):
        raise DomainError(f"invalid created_at `{value!r}`: expected a timestamp or a datetime")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            raise DomainError(
                f"invalid created_at `{value}`: expected a timestamp or an ISO 8601 datetime"
            ) from None
        return _coerce_timestamp(parsed)
    raise DomainError(f"invalid created_at `{value!r}`: expected a timestamp or a datetime")


def _coerce_metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise DomainError(f"invalid metadata of type `{type(value).__name__}`: expected a dict")


def enc_hook(obj: Any) -> Any:
    """Encode what msgspec cannot: exceptions, classes, and objects with ``to_dict``."""
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, type):
        config = getattr(obj, "__struct_config__", None)
        tag = getattr(config, "tag", None)
        return tag if isinstance(tag, str) else f"{obj.__module__}.{obj.__qualname__}"
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise NotImplementedError(f"cannot serialize a `{type(obj).__name__}`")


def dec_hook(tp: type, obj: Any) -> Any:
    """Decode hook for types msgspec cannot build itself (none today)."""
    raise NotImplementedError(f"cannot decode a `{tp}`")


def element_classes() -> dict[str, type[Element]]:
    """Every registered Element class by its ``lion_class`` tag (a copy)."""
    with _REGISTRY_LOCK:
        return dict(_REGISTRY)


def _registry_state() -> tuple[int, list[type[Element]]]:
    """The registry version and its classes, read together."""
    with _REGISTRY_LOCK:
        return _registry_version, list(_REGISTRY.values())


def _normalise_v0(data: dict[str, Any], cls: type[Any]) -> dict[str, Any]:
    """Accept v0's layout: the class name inside metadata, or ``node_metadata``."""
    meta = data.get("metadata")
    if "node_metadata" in data and meta is None:
        data = dict(data)
        meta = data["metadata"] = data.pop("node_metadata")
    if isinstance(meta, dict) and "lion_class" in meta:
        data = dict(data)
        meta = dict(meta)
        name = meta.pop("lion_class")
        data["metadata"] = meta
        if "lion_class" not in data:
            data["lion_class"] = _V0_NAMES.get(name, name) if isinstance(name, str) else name
    if "lion_class" not in data:
        data = {**data, "lion_class": cls.__struct_config__.tag}
    return data


_unions: dict[type[Any], tuple[int, Any]] = {}
_decoders: dict[tuple[type[Any], str], tuple[int, Callable[[Any], Any]]] = {}


def _union_for(cls: type[Any]) -> Any:
    """The union of ``cls`` and every registered subclass of it (cached per registry version)."""
    cached = _unions.get(cls)
    if cached is not None and cached[0] == _registry_version:
        return cached[1]
    version = _registry_version
    with _REGISTRY_LOCK:
        members = tuple(c for c in _REGISTRY.values() if issubclass(c, cls))
    if cls not in members:  # a class shadowed by a later one with the same qualified name
        members = (
            cls,
            *(m for m in members if m.__struct_config__.tag != cls.__struct_config__.tag),
        )
    union: Any = members[0] if len(members) == 1 else Union[members]  # noqa: UP007
    _unions[cls] = (version, union)
    return union


def _decoder(cls: type[Any], fmt: str) -> Callable[[Any], Any]:
    key = (cls, fmt)
    cached = _decoders.get(key)
    if cached is not None and cached[0] == _registry_version:
        return cached[1]
    union = _union_for(cls)
    if fmt == "json":
        fn: Callable[[Any], Any] = msgspec.json.Decoder(union, dec_hook=dec_hook).decode
    else:
        fn = msgspec.msgpack.Decoder(union, dec_hook=dec_hook).decode
    _decoders[key] = (_registry_version, fn)
    return fn


_json_encoder = msgspec.json.Encoder(enc_hook=enc_hook)
_msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)


def _encode_json(obj: Any) -> bytes:
    try:
        return _json_encoder.encode(obj)
    except (TypeError, NotImplementedError, msgspec.EncodeError) as exc:
        raise DomainError(f"cannot serialize `{type(obj).__name__}` to JSON: {exc}") from None


def _encode_msgpack(obj: Any) -> bytes:
    try:
        return _msgpack_encoder.encode(obj)
    except (TypeError, NotImplementedError, msgspec.EncodeError) as exc:
        raise DomainError(
            f"cannot serialize `{type(obj).__name__}` to MessagePack: {exc}"
        ) from None


def _decode(cls: type[E], data: Any, fmt: str) -> E:
    if not isinstance(data, str | bytes | bytearray | memoryview):
        raise DeserializationError(
            f"cannot decode a `{cls.__name__}` from a `{type(data).__name__}`: "
            "expected str or bytes"
        )
    try:
        return _decoder(cls, fmt)(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise DeserializationError(_describe(exc, cls, None)) from None
    except msgspec.DecodeError as exc:
        raise DeserializationError(f"malformed {fmt} for a `{cls.__name__}`: {exc}") from None
    except DomainError as exc:
        raise DeserializationError(f"invalid `{cls.__name__}` data: {exc}") from None


def _describe(exc: msgspec.ValidationError, cls: type[Any], data: Any) -> str:
    text = str(exc)
    if "lion_class" in text:
        return (
            f"unknown or mismatched `lion_class` for a `{cls.__name__}` ({text}): expected "
            f"`{cls.__struct_config__.tag}` or one of its registered subclasses"
        )
    return f"invalid `{cls.__name__}` data: {text}"
