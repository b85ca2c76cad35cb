"""OperableModel: a set of fields edited at run time, turned into msgspec Structs and schemas."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from typing import Any

import msgspec

from lion.domain.field_model import UNSET, FieldModel
from lion.domain.reply import Reply, parse_reply
from lion.errors import DomainError, ItemExistsError, ItemNotFoundError

__all__ = ["OperableModel", "json_schema", "response_format"]


class OperableModel:
    """Fields (FieldModels) and their current values, editable at run time.

    ``new_model()`` builds a msgspec Struct type from the fields, whose
    ``json_schema()`` is what a model server takes as ``response_format`` or
    NIM's ``guided_json``; ``validate_reply()`` reads a model's reply into it.
    """

    def __init__(
        self, fields: Iterable[FieldModel] | dict[str, FieldModel] | None = None, **values: Any
    ) -> None:
        object.__setattr__(self, "_fields", {})
        object.__setattr__(self, "_values", {})
        items: Iterable[tuple[str, FieldModel]]
        if fields is None:
            items = ()
        elif isinstance(fields, dict):
            items = fields.items()
        else:
            items = [(f.name, f) for f in fields if _is_field(f)]
        for name, fm in items:
            self.add_field(name, field_model=fm)
        for name, value in values.items():
            self.add_field(name, value=value)

    # -- fields --------------------------------------------------------------

    @property
    def all_fields(self) -> dict[str, FieldModel]:
        """Every field by name (a copy)."""
        return dict(self._fields)

    def add_field(
        self,
        field_name: str,
        /,
        value: Any = UNSET,
        annotation: Any = UNSET,
        field_model: FieldModel | None = None,
        **kwargs: Any,
    ) -> None:
        """Add a new field; ItemExistsError if it already exists."""
        if field_name in self._fields:
            raise ItemExistsError(f"field `{field_name}` already exists")
        self.update_field(field_name, value, annotation, field_model, **kwargs)

    def update_field(
        self,
        field_name: str,
        /,
        value: Any = UNSET,
        annotation: Any = UNSET,
        field_model: FieldModel | None = None,
        **kwargs: Any,
    ) -> None:
        """Add or change a field: its FieldModel, annotation, metadata and/or value."""
        if not isinstance(field_name, str) or not field_name.isidentifier():
            raise DomainError(f"invalid field name `{field_name}`: expected a Python identifier")
        if field_model is not None and not isinstance(field_model, FieldModel):
            raise DomainError(
                f"field_model must be a FieldModel, got `{type(field_model).__name__}`"
            )
        current = self._fields.get(field_name)
        if field_model is not None:
            fm = field_model.with_name(field_name)
        elif current is not None:
            fm = current
        else:
            fm = FieldModel(Any if annotation is UNSET else annotation, name=field_name)
        if annotation is not UNSET and (field_model is not None or current is not None):
            fm = fm._with(base=annotation)
        for key, val in kwargs.items():
            if key == "validator":
                fm = fm.with_validator(val)
            elif key == "default":
                fm = fm.with_default(val)
            else:
                fm = fm.with_metadata(key, val)
        if value is UNSET:
            if field_name in self._values:
                value = self._values[field_name]
            elif fm.has_default:
                value = fm.default
        if value is not UNSET:
            fm.validate(value, field_name)
        self._fields[field_name] = fm
        if value is not UNSET:
            self._values[field_name] = value

    def remove_field(self, field_name: str, /) -> None:
        """Remove a field and its value; ItemNotFoundError if absent."""
        if field_name not in self._fields:
            raise ItemNotFoundError(f"field `{field_name}` does not exist")
        del self._fields[field_name]
        self._values.pop(field_name, None)

    # -- values --------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return object.__getattribute__(self, "_values").get(name, UNSET)
        raise AttributeError(f"`{type(self).__name__}` has no field `{name}`")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise ItemNotFoundError(f"field `{name}` does not exist: add it with `add_field`")
        self._fields[name].validate(value, name)
        self._values[name] = value

    def to_dict(self) -> dict[str, Any]:
        """The fields that have values, by name."""
        return {k: self._values[k] for k in self._fields if k in self._values}

    # -- types, schemas and replies -------------------------------------------

    def new_model(
        self,
        name: str | None = None,
        use_fields: Collection[str] | None = None,
        exclude_fields: Collection[str] | None = None,
        doc: str | None = None,
        frozen: bool = False,
        forbid_unknown_fields: bool = True,
    ) -> type[msgspec.Struct]:
        """A msgspec Struct type with the selected fields (validators run in ``__post_init__``)."""
        chosen = list(self._fields) if use_fields is None else list(use_fields)
        unknown = [f for f in chosen if f not in self._fields]
        if unknown:
            raise ItemNotFoundError(f"field `{unknown[0]}` does not exist")
        excluded = set(exclude_fields or ())
        fields = [self._fields[f] for f in chosen if f not in excluded]
        # msgspec needs fields without defaults first unless kw_only; kw_only keeps the given order
        spec = [fm.field_spec(fm.name) for fm in fields]
        checks = [(fm.name, fm) for fm in fields if fm.has_validator()]
        namespace: dict[str, Any] = {}
        if checks:

            def __post_init__(self: Any) -> None:
                for fname, fm in checks:
                    fm.validate(getattr(self, fname), fname)

            namespace["__post_init__"] = __post_init__
        if doc:
            namespace["__doc__"] = doc
        model_name = name or type(self).__name__
        if not model_name.isidentifier():
            raise DomainError(f"invalid model name `{model_name}`: expected a Python identifier")
        try:
            return msgspec.defstruct(
                model_name,
                spec,
                namespace=namespace,
                kw_only=True,
                frozen=frozen,
                forbid_unknown_fields=forbid_unknown_fields,
            )
        except (TypeError, ValueError) as exc:
            raise DomainError(f"cannot build model `{model_name}`: {exc}") from None

    def json_schema(self, name: str | None = None, **kw: Any) -> dict[str, Any]:
        """The JSON Schema of ``new_model(name, **kw)``, with references inlined."""
        return json_schema(self.new_model(name, **kw))

    def response_format(self, name: str | None = None, strict: bool = True) -> dict[str, Any]:
        """An OpenAI-style ``response_format`` asking for this model's JSON."""
        return response_format(self.new_model(name), name=name, strict=strict)

    def validate_reply(self, text: Any, name: str | None = None) -> Reply[Any]:
        """Read a model's reply (tolerantly) into ``new_model(name)``."""
        return parse_reply(text, self.new_model(name))

    def __repr__(self) -> str:
        return f"OperableModel({', '.join(self._fields)})"

    def __copy__(self) -> OperableModel:
        new = OperableModel()
        new._fields.update(self._fields)
        new._values.update(self._values)
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> OperableModel:
        new = OperableModel()
        new._fields.update(self._fields)
        new._values.update(copy.deepcopy(self._values, memo))
        return new


def _is_field(f: Any) -> bool:
    if not isinstance(f, FieldModel):
        raise DomainError(f"fields must be FieldModels, got `{type(f).__name__}`")
    return True


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a type (usually a Struct), with ``$ref``s inlined.

    Inlined because several servers (llama.cpp's grammar converter, older
    NIMs) do not follow references.
    """
    try:
        schema = msgspec.json.schema(tp)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"cannot make a JSON Schema for `{tp}`: {exc}") from None
    defs = schema.pop("$defs", {})
    return _inline(schema, defs, ())  # type: ignore[no-any-return]


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            key = ref[len("#/$defs/") :]
            if key in seen:
                raise DomainError(f"`{key}` refers to itself: recursive types cannot be inlined")
            merged = {**defs[key], **{k: v for k, v in node.items() if k != "$ref"}}
            return _inline(merged, defs, (*seen, key))
        return {k: _inline(v, defs, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs, seen) for v in node]
    return node


def response_format(tp: Any, name: str | None = None, strict: bool = True) -> dict[str, Any]:
    """``{"type": "json_schema", "json_schema": {...}}`` for OpenAI-compatible servers.

    With ``strict``, every object lists all its properties as required and
    forbids others, as OpenAI's strict mode demands.
    """
    schema = json_schema(tp)
    if strict:
        schema = _strict(schema)
    label = name or getattr(tp, "__name__", "response")
    return {
        "type": "json_schema",
        "json_schema": {"name": label, "schema": schema, "strict": strict},
    }


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
            for prop in out["properties"].values():
                if isinstance(prop, dict):
                    prop.pop("default", None)
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node
