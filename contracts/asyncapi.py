"""The AsyncAPI 3.0.0 document of the events: the topic, each queue, who sends and receives what.

``contracts.generate`` writes it to ``contracts/asyncapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from pydantic.json_schema import models_json_schema

from contracts.codec import EVENT_TYPES
from contracts.envelope import SCHEMA_MAJOR, Envelope
from contracts.json_schemas import (
    SCHEMA_MODE,
    EventClasses,
    JsonObject,
    ref_name,
    with_wire_required,
)
from contracts.topology import (
    EVENT_TYPE_ATTRIBUTE,
    PUBLISHERS,
    QUEUE_ROUTES,
    REPLICA_ROLE,
    TOPIC_SUFFIX,
)

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document", "contract_version"]

ASYNCAPI_VERSION: Final = "3.0.0"

# The binding versions that AsyncAPI 3.0.0 knows for SNS channels and SQS channels.
_SNS_BINDING_VERSION: Final = "0.1.0"
_SQS_BINDING_VERSION: Final = "0.2.0"


def contract_version(events: EventClasses = EVENT_TYPES) -> str:
    """``MAJOR.MINOR.0`` of the contracts: the major they share and the newest minor of any event.

    The document describes the contracts, not a release of the code, so it changes exactly when
    they do and never needs the installed package's metadata.
    """
    minors = [_minor_of(cls) for cls in events.values()]
    return f"{SCHEMA_MAJOR}.{max(minors)}.0"


def _minor_of(cls: type[Envelope]) -> int:
    version = cls.model_fields["schema_version"].default
    major, _, minor = str(version).partition(".")
    if int(major) != SCHEMA_MAJOR:
        raise ValueError(f"{cls.__name__} is at {version}, not major {SCHEMA_MAJOR}")
    return int(minor)


def _title(event_type: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", event_type).capitalize()


def _summary(cls: type[Envelope]) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0] if lines else _title(cls.__name__)


def _queue_address(role: str) -> str:
    if role == REPLICA_ROLE:
        return f"{{prefix}}-{role}-{{instance}}"
    return f"{{prefix}}-{role}"


def _roles(table: Mapping[str, tuple[str, ...]], event_type: str) -> list[str]:
    return [role for role, types in table.items() if event_type in types]


def _message(event_type: str, cls: type[Envelope], payload: JsonObject) -> JsonObject:
    version = cls.model_fields["schema_version"].default
    publishers = ", ".join(_roles(PUBLISHERS, event_type)) or "nobody"
    queues = ", ".join(f"`{_queue_address(r)}`" for r in _roles(QUEUE_ROUTES, event_type))
    description = (
        f"{_summary(cls)}\n\n"
        f"Published by: {publishers}. Delivered to: {queues or 'no queue'}.\n\n"
        f"Every copy carries the SNS message attribute `{EVENT_TYPE_ATTRIBUTE}` (String) "
        f"= `{event_type}`; each queue's subscription filter policy matches on it. Queues are "
        "subscribed with raw message delivery, so an SQS body is this payload as published and "
        "the attribute arrives as an SQS message attribute.\n\n"
        f"Current `schema_version`: `{version}`. Consumers refuse another major and ignore "
        "fields added by a newer minor."
    )
    return {
        "name": event_type,
        "title": _title(event_type),
        "summary": _summary(cls),
        "description": description,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "description": "Message attributes (SNS, copied to SQS by raw message delivery).",
            "properties": {
                EVENT_TYPE_ATTRIBUTE: {
                    "type": "string",
                    "const": event_type,
                    "description": "Subscriptions filter on this attribute.",
                }
            },
            "required": [EVENT_TYPE_ATTRIBUTE],
        },
        "correlationId": {
            "description": "Follows one request through every service.",
            "location": "$message.payload#/correlation_id",
        },
        "payload": payload,
    }


def _refs(base: str, names: Sequence[str]) -> JsonObject:
    return {name: {"$ref": f"{base}/{name}"} for name in names}


def _channels(events: EventClasses) -> JsonObject:
    topic_address = f"{{prefix}}-{TOPIC_SUFFIX}"
    channels: JsonObject = {
        TOPIC_SUFFIX: {
            "address": topic_address,
            "title": "Event topic",
            "description": "The deployment's one SNS topic; every event is published here.",
            "parameters": _refs("#/components/parameters", ["prefix"]),
            "messages": _refs("#/components/messages", list(events)),
            "bindings": {"sns": {"name": topic_address, "bindingVersion": _SNS_BINDING_VERSION}},
        }
    }
    for role, types in QUEUE_ROUTES.items():
        address = _queue_address(role)
        parameters = ["prefix", "instance"] if role == REPLICA_ROLE else ["prefix"]
        description = (
            f"The `{role}` queue, subscribed to `{topic_address}` with raw message delivery and a "
            f"filter policy on `{EVENT_TYPE_ATTRIBUTE}`; a message that keeps failing moves to "
            "the queue's dead-letter queue."
        )
        if role == REPLICA_ROLE:
            description += " One per API replica, created at start and removed at stop."
        channels[role] = {
            "address": address,
            "title": f"{role} queue",
            "description": description,
            "parameters": _refs("#/components/parameters", parameters),
            "messages": _refs("#/components/messages", list(types)),
            "bindings": {
                "sqs": {
                    "queue": {"name": address, "fifoQueue": False},
                    "bindingVersion": _SQS_BINDING_VERSION,
                }
            },
        }
    return channels


def _operations() -> JsonObject:
    operations: JsonObject = {}
    for role, types in PUBLISHERS.items():
        operations[f"{role}-publishes"] = {
            "action": "send",
            "title": f"{role} publishes",
            "summary": f"The {role} service publishes these events on the topic.",
            "channel": {"$ref": f"#/channels/{TOPIC_SUFFIX}"},
            "messages": [{"$ref": f"#/channels/{TOPIC_SUFFIX}/messages/{t}"} for t in types],
        }
    for role, types in QUEUE_ROUTES.items():
        operations[f"{role}-receives"] = {
            "action": "receive",
            "title": f"{role} receives",
            "summary": f"The {role} service receives these events from its queue.",
            "channel": {"$ref": f"#/channels/{role}"},
            "messages": [{"$ref": f"#/channels/{role}/messages/{t}"} for t in types],
        }
    return operations


def asyncapi_document(events: EventClasses = EVENT_TYPES) -> JsonObject:
    """The AsyncAPI 3.0.0 document: the topic, each queue, who sends and receives which event."""
    # Pydantic writes every reference straight into components.schemas (``ref_template``), so the
    # nested types that each event keeps under ``$defs`` are shared here and every ref resolves.
    payloads, defs = models_json_schema(
        [(cls, SCHEMA_MODE) for cls in events.values()],
        ref_template="#/components/schemas/{model}",
    )
    schemas: JsonObject = defs.get("$defs", {})
    messages = {}
    for event_type, cls in events.items():
        payload = payloads[(cls, SCHEMA_MODE)]
        name = ref_name(payload["$ref"])
        schemas[name] = with_wire_required(schemas[name], cls)
        messages[event_type] = _message(event_type, cls, payload)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Toxic-comment platform events",
            "version": contract_version(events),
            "description": (
                "The events the services of the platform exchange over one SNS topic and one SQS "
                "queue per consumer role. Bodies are JSON; every event carries the envelope "
                "(`event_id`, the idempotency key; `event_type`; `schema_version`; `occurred_at`; "
                "`source`; `correlation_id`; `traceparent`). Contracts evolve additively: a new "
                "optional field bumps the minor `schema_version`; anything else is a new major "
                "that consumers refuse until they are updated. Delivery is at least once.\n\n"
                "Generated by `python -m contracts.generate`; do not edit by hand."
            ),
        },
        "defaultContentType": "application/json",
        "channels": _channels(events),
        "operations": _operations(),
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": {
                "prefix": {
                    "description": (
                        "Deployment prefix of every topic and queue name (TOXIC_PREFIX): 3 to 32 "
                        "lowercase letters, digits or '-', starting with a letter."
                    ),
                    "examples": ["toxic"],
                },
                "instance": {
                    "description": "The API replica's instance name.",
                },
            },
        },
    }
