"""The checked-in JSON Schemas and AsyncAPI document, generated from the contract models.

``uv run python -m contracts.generate`` rewrites them; ``--check`` lists the files that differ from
what the models generate and exits 1 (0 when they agree). A unit test runs the same check.
"""

from __future__ import annotations

import argparse
import functools
import json
import operator
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from contracts.codec import EVENT_TYPES, wire_required
from contracts.envelope import SCHEMA_MAJOR, Envelope
from contracts.topology import (
    EVENT_TYPE_ATTRIBUTE,
    PUBLISHERS,
    QUEUE_ROUTES,
    REPLICA_ROLE,
    TOPIC_SUFFIX,
)

__all__ = [
    "ASYNCAPI_FILE",
    "CONTRACTS_DIR",
    "PUBLISHERS",
    "SCHEMAS_DIR",
    "SCHEMA_MODE",
    "asyncapi_document",
    "contract_version",
    "event_schema",
    "generated_files",
    "main",
    "render",
    "stale_files",
    "union_schema",
    "write_files",
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
ASYNCAPI_VERSION: Final = "3.0.0"
CONTRACTS_DIR: Final = Path(__file__).resolve().parent
SCHEMAS_DIR: Final = "schemas"
ASYNCAPI_FILE: Final = "asyncapi.json"
UNION_NAME: Final = "Event"

# The binding versions that AsyncAPI 3.0.0 knows for SNS channels and SQS channels.
_SNS_BINDING_VERSION: Final = "0.1.0"
_SQS_BINDING_VERSION: Final = "0.2.0"


def _with_wire_required(schema: JsonObject, cls: type[Envelope]) -> JsonObject:
    return {**schema, "required": wire_required(cls)}


def event_schema(cls: type[Envelope]) -> JsonObject:
    """The standalone JSON Schema of one event (its nested types under ``$defs``)."""
    schema = _with_wire_required(cls.model_json_schema(mode=SCHEMA_MODE), cls)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _discriminated_union(classes: Sequence[type[Envelope]]) -> Any:
    members = functools.reduce(operator.or_, classes)
    return Annotated[members, Field(discriminator="event_type")]


def union_schema(events: EventClasses = EVENT_TYPES) -> JsonObject:
    """The JSON Schema of any event: a union discriminated on ``event_type``, as ``decode``."""
    adapter: TypeAdapter[Any] = TypeAdapter(_discriminated_union(list(events.values())))
    schema = adapter.json_schema(mode=SCHEMA_MODE)
    for event_type, ref in schema["discriminator"]["mapping"].items():
        name = _def_name(ref)
        schema["$defs"][name] = _with_wire_required(schema["$defs"][name], events[event_type])
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": UNION_NAME,
        "description": "Any event of the platform; `event_type` says which.",
        **schema,
    }


def _def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


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
        name = _def_name(payload["$ref"])
        schemas[name] = _with_wire_required(schemas[name], cls)
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


def render(document: JsonObject) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(events: EventClasses = EVENT_TYPES) -> dict[str, str]:
    """Every generated file's text, by its path relative to the contracts directory."""
    files = {
        f"{SCHEMAS_DIR}/{name}.json": render(event_schema(cls)) for name, cls in events.items()
    }
    files[f"{SCHEMAS_DIR}/{UNION_NAME}.json"] = render(union_schema(events))
    files[ASYNCAPI_FILE] = render(asyncapi_document(events))
    return files


def _orphans(root: Path, expected: Mapping[str, str]) -> list[str]:
    found = (root / SCHEMAS_DIR).glob("*.json")
    return [rel for rel in (f"{SCHEMAS_DIR}/{p.name}" for p in found) if rel not in expected]


def stale_files(root: Path = CONTRACTS_DIR, expected: Mapping[str, str] | None = None) -> list[str]:
    """Paths under ``root`` that differ from, are missing from or are not in what is generated."""
    expected = generated_files() if expected is None else expected
    stale = [
        rel
        for rel, text in expected.items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + _orphans(root, expected))


def write_files(root: Path = CONTRACTS_DIR, expected: Mapping[str, str] | None = None) -> list[str]:
    """Bring ``root`` up to date: write what differs, remove schemas no model generates."""
    expected = generated_files() if expected is None else expected
    changed = stale_files(root, expected)
    for rel in changed:
        path = root / rel
        if rel in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[rel], encoding="utf-8")
        else:
            path.unlink()
    return changed


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.generate", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 listing the files that differ"
    )
    parser.add_argument(
        "--root", type=Path, default=CONTRACTS_DIR, help="where the files live (default: contracts)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = stale_files(root)
        for rel in stale:
            print(f"differs from the models: {_shown(root / rel)}")
        if stale:
            print("regenerate with: uv run python -m contracts.generate")
            return 1
        print("generated contract files are up to date")
        return 0
    changed = write_files(root)
    for rel in changed:
        print(f"{'wrote' if (root / rel).exists() else 'removed'} {_shown(root / rel)}")
    if not changed:
        print("generated contract files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
