"""Linking templates: fill a template's ``?principal`` / ``?resource`` slots with entity uids.

A template is a policy whose principal or resource scope has a slot; it is
kept in the policy set but never evaluated. Linking makes a new, ordinary
policy (``Policy.template`` names the template) that evaluates like a static
one. Both the Python API form (``link``) and Cedar's JSON template-links form
(``link_all``) come here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lion.errors import PolicyError
from lion.kernel.policy._ast import Policy, Scope
from lion.kernel.policy._entities import load_json, uid_from_json
from lion.kernel.policy._text import printable
from lion.kernel.policy._values import EntityUID

__all__ = ["LinkRequest", "link_policy", "parse_links", "slots_of"]

SLOTS = ("?principal", "?resource")

LinkRequest = tuple[str, str, Mapping[str, Any], str]  # template id, new id, slots, where


def slots_of(template: Policy) -> tuple[str, ...]:
    """The slots a template declares, ``?principal`` first."""
    return tuple(s.slot for s in (template.principal, template.resource) if s.slot is not None)


def _fill(scope: Scope, uid: EntityUID | None) -> Scope:
    if scope.slot is None:
        return scope
    assert uid is not None
    return dataclasses.replace(scope, entities=(uid,), slot=None)


def link_policy(template: Policy, new_id: str, slots: Any, where: str = "slots") -> Policy:
    """The policy ``new_id`` made from ``template`` with its slots filled; PolicyError if the
    slots are not exactly the template's or a value is not an entity uid."""
    if not isinstance(slots, Mapping):
        raise PolicyError(
            f"{where}: expected a mapping from slots such as `?principal` to entity uids, "
            f"got `{type(slots).__name__}`"
        )
    wanted = slots_of(template)
    for key in slots:
        if key not in wanted:
            what = (
                f"has no slot `{printable(str(key))}`"
                if key in SLOTS
                else f"has no slot `{printable(str(key))}` (slots are `?principal` and `?resource`)"
            )
            raise PolicyError(f"{where}: template `{template.id}` {what}")
    for key in wanted:
        if key not in slots:
            raise PolicyError(f"{where}: template `{template.id}` needs a value for `{key}`")
    values = {key: uid_from_json(slots[key], f"{where}.{key}") for key in wanted}
    # A LION policy's id is its `@id`, so the link's `@id` names the link, not the template:
    # printed, a linked policy reads back as the same static policy.
    annotations = (("id", new_id), *((k, v) for k, v in template.annotations if k != "id"))
    return dataclasses.replace(
        template,
        id=new_id,
        annotations=annotations,
        principal=_fill(template.principal, values.get("?principal")),
        resource=_fill(template.resource, values.get("?resource")),
        template=template.id,
    )


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    if key not in entry:
        raise PolicyError(f"{where}: missing `{key}`")
    value = entry[key]
    if not isinstance(value, str) or not value:
        raise PolicyError(f"{where}.{key}: expected a non-empty string")
    return value


def parse_links(links: Any) -> list[LinkRequest]:
    """Cedar's JSON template-links form (text or decoded): a list of
    ``{"templateId": ..., "newId": ..., "values": {"?principal": uid, ...}}``."""
    data = load_json(links, "template links")
    if not isinstance(data, list | tuple):
        raise PolicyError(f"template links: expected an array, got `{type(data).__name__}`")
    out: list[LinkRequest] = []
    for index, entry in enumerate(data):
        where = f"links[{index}]"
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{where}: expected an object, got `{type(entry).__name__}`")
        extra = sorted(set(map(str, entry)) - {"templateId", "newId", "values"})
        if extra:
            raise PolicyError(f"{where}: unexpected key `{printable(extra[0])}`")
        if "values" not in entry:
            raise PolicyError(f"{where}: missing `values`")
        out.append(
            (
                _string(entry, "templateId", where),
                _string(entry, "newId", where),
                entry["values"],
                f"{where}.values",
            )
        )
    return out
