"""The envelope every event carries, and the versioning rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SCHEMA_MAJOR",
    "Envelope",
    "EventModel",
    "NonEmpty",
    "SchemaVersion",
    "Source",
    "schema_version",
    "utc_now",
]

# The major version this code speaks. A message with another major is refused until the consumer
# is updated; minors only add optional fields, which older readers ignore.
SCHEMA_MAJOR = 1

_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")
_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

NonEmpty = Annotated[str, Field(min_length=1, max_length=256)]
# ``MAJOR.MINOR`` in ASCII digits; each event class gives its own current version as the default.
SchemaVersion = Annotated[str, Field(pattern=rf"^{_VERSION.pattern}$")]


def schema_version(minor: int) -> str:
    """The ``schema_version`` default of an event at ``minor`` of the current major."""
    return f"{SCHEMA_MAJOR}.{minor}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventModel(BaseModel):
    """Base of every contract model: immutable, and tolerant of fields added by newer minors."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)


class Source(EventModel):
    """Which process produced the event."""

    service: NonEmpty
    instance: NonEmpty


class Envelope(EventModel):
    """Fields common to every event. ``event_id`` is the idempotency key of every consumer."""

    event_id: UUID = Field(default_factory=uuid4)
    schema_version: SchemaVersion
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    source: Source
    correlation_id: NonEmpty = Field(default_factory=lambda: uuid4().hex)
    traceparent: str | None = Field(default=None, pattern=_TRACEPARENT)

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @staticmethod
    def major_of(version: str) -> int | None:
        """The major part of ``version``, or None when it is not ``MAJOR.MINOR``."""
        match = _VERSION.fullmatch(version)
        return int(match.group(1)) if match else None
