"""The v0 domain structures on msgspec: Element, Progression, Pile, Event, FieldModel, etc."""

from __future__ import annotations

from lion.domain._ids import new_id, to_id, to_ids
from lion.domain.element import Element, element_classes
from lion.domain.event import Event, EventStatus, Execution
from lion.domain.field_model import UNSET, FieldModel, FieldValidationError
from lion.domain.operable_model import OperableModel, json_schema, response_format
from lion.domain.pile import Pile
from lion.domain.progression import Progression, prog
from lion.domain.reply import Reply, extract_json, parse_reply

__all__ = [
    "UNSET",
    "Element",
    "Event",
    "EventStatus",
    "Execution",
    "FieldModel",
    "FieldValidationError",
    "OperableModel",
    "Pile",
    "Progression",
    "Reply",
    "element_classes",
    "extract_json",
    "json_schema",
    "new_id",
    "parse_reply",
    "prog",
    "response_format",
    "to_id",
    "to_ids",
]
