"""Encoding and decoding events: the one door through which bodies become events."""

from __future__ import annotations

import json
from typing import Annotated, Literal, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError

from contracts.envelope import SCHEMA_MAJOR, Envelope
from contracts.events import (
    FeedbackGiven,
    ModelPublished,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    TrainingFailed,
)

__all__ = ["EVENT_TYPES", "ContractError", "Event", "decode", "encode", "wire_required"]

Event: TypeAlias = Annotated[
    PredictionMade
    | FeedbackGiven
    | RetrainRequested
    | ModelPublished
    | ModelRejected
    | TrainingFailed,
    Field(discriminator="event_type"),
]

EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.model_fields["event_type"].default: cls
    for cls in (
        PredictionMade,
        FeedbackGiven,
        RetrainRequested,
        ModelPublished,
        ModelRejected,
        TrainingFailed,
    )
}

_EVENT: TypeAdapter[Event] = TypeAdapter(Event)

_CHECKED_FIRST = ("event_type", "schema_version")
# A default made by a factory is made up anew on each call (uuid4, now) unless the factory only
# makes an empty container.
_SAME_EVERY_TIME = (dict, list, tuple, set, frozenset)


def wire_required(cls: type[Envelope]) -> list[str]:
    """The fields every body of ``cls`` must carry, in declaration order.

    Producers get defaults for ``event_id``, ``occurred_at`` and the like, but a reader that
    filled them in would give two deliveries of one message two identities; so on the wire they
    are required, as are ``event_type`` and ``schema_version``, which decoding checks first.
    """
    required = []
    for name, field in cls.model_fields.items():
        factory = field.default_factory
        invented = factory is not None and factory not in _SAME_EVERY_TIME
        if field.is_required() or invented or name in _CHECKED_FIRST:
            required.append(field.alias or name)
    return required


_WIRE_REQUIRED = {name: tuple(wire_required(cls)) for name, cls in EVENT_TYPES.items()}

ContractReason = Literal[
    "malformed_json", "unknown_event_type", "unsupported_schema_version", "invalid_fields"
]


class ContractError(ValueError):
    """A body that is not a valid event of a version this code reads."""

    def __init__(self, reason: ContractReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: ContractReason = reason
        self.detail = detail


def encode(event: Envelope) -> str:
    """The JSON body of ``event`` as it travels on the bus."""
    return event.model_dump_json()


def decode(body: str | bytes) -> Event:
    """Parse a bus body into its event, or raise :class:`ContractError` saying why not."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError("malformed_json", f"body is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ContractError("malformed_json", "body is not a JSON object")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise ContractError(
            "unknown_event_type", f"event_type {event_type!r} is not one of {known}"
        )
    version = raw.get("schema_version")
    major = Envelope.major_of(version) if isinstance(version, str) else None
    if major is None:
        raise ContractError("invalid_fields", f"schema_version {version!r} is not MAJOR.MINOR")
    if major != SCHEMA_MAJOR:
        raise ContractError(
            "unsupported_schema_version",
            f"{event_type} {version} is major {major}; this code reads major {SCHEMA_MAJOR}",
        )
    missing = [name for name in _WIRE_REQUIRED[event_type] if name not in raw]
    if missing:
        raise ContractError("invalid_fields", f"{event_type}: missing {', '.join(missing)}")
    try:
        return _EVENT.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ContractError("invalid_fields", f"{event_type}: {problems}") from None
