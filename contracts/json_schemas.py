"""JSON Schemas of the events: one per event type and one for the union ``decode`` accepts."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from pydantic import Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from contracts.codec import EVENT_TYPES, wire_required
from contracts.envelope import Envelope

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "SCHEMA_MODE",
    "UNION_NAME",
    "EventClasses",
    "JsonObject",
    "event_schema",
    "ref_name",
    "union_schema",
    "with_wire_required",
]

JsonObject = dict[str, Any]
EventClasses = Mapping[str, type[Envelope]]

# Which schema describes what travels on the wire. A body must be one that ``decode()`` accepts,
# written by any producer at any minor of the current major (``encode()``'s output is one such
# body). Validation mode describes that acceptance: a field with a default is optional, so a 1.0
# body that lacks a field added in 1.1 still matches the 1.1 schema, as DESIGN §3 promises.
# Serialization mode describes one writer's output instead (it follows custom serializers and can
# mark every defaulted field required, which would break that promise). For these models both
# modes give the same schemas today; a unit test holds them equal, so a serializer that made the
# written body differ from the accepted one cannot slip in unnoticed.
#
# Two kinds of field are required on the wire although the models give them defaults (the defaults
# are for producers building events): ``event_type`` and ``schema_version``, which ``decode()``
# checks before anything else, and every field whose default a reader would make up differently
# for each copy of a message (``event_id``, ``occurred_at``, ...): filling those in on receipt would
# give two deliveries of one message two identities. See ``wire_required``.
SCHEMA_MODE: Final[JsonSchemaMode] = "validation"

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
UNION_NAME: Final = "Event"


def with_wire_required(schema: JsonObject, cls: type[Envelope]) -> JsonObject:
    """``schema`` requiring exactly the fields a body must carry (see ``wire_required``)."""
    return {**schema, "required": wire_required(cls)}


def event_schema(cls: type[Envelope]) -> JsonObject:
    """The standalone JSON Schema of one event (its nested types under ``$defs``)."""
    schema = with_wire_required(cls.model_json_schema(mode=SCHEMA_MODE), cls)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _discriminated_union(classes: Sequence[type[Envelope]]) -> Any:
    members = functools.reduce(operator.or_, classes)
    return Annotated[members, Field(discriminator="event_type")]


def union_schema(events: EventClasses = EVENT_TYPES) -> JsonObject:
    """The JSON Schema of any event: a union discriminated on ``event_type``, as ``decode``."""
    adapter: TypeAdapter[Any] = TypeAdapter(_discriminated_union(list(events.values())))
    schema = adapter.json_schema(mode=SCHEMA_MODE)
    for event_type, ref in schema["discriminator"]["mapping"].items():
        name = ref_name(ref)
        schema["$defs"][name] = with_wire_required(schema["$defs"][name], events[event_type])
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": UNION_NAME,
        "description": "Any event of the platform; `event_type` says which.",
        **schema,
    }


def ref_name(ref: str) -> str:
    """The definition name a JSON pointer ``$ref`` ends in."""
    return ref.rsplit("/", 1)[1]
