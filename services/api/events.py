"""``PredictionMade`` events in their wire form, built for a whole batch at once.

Building and validating a pydantic ``PredictionMade`` per comment, then serialising it, cost
about as much CPU as the model's scoring of that comment. Every value of the event is already
known to be valid when it is built (the request was validated, the scores come from the model
and are range-checked here once per batch, ids and digests are made here), so the JSON bodies
are written directly from columns: the parts shared by the batch once, each comment's own parts
by one string template. ``tests/unit/test_prediction_events.py`` decodes such bodies with the
contract's decoder and compares them with the pydantic model's own serialisation.

:class:`EncodedEvents` carries the bodies as a ``Sequence[Envelope]``: the outbox stores them as
they are, and a sink that wants event objects (the tests' event log) gets each one decoded by
the contract, which also validates it.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final, overload
from uuid import uuid4

import numpy as np
import pydantic_core
from numpy.typing import NDArray

from contracts import (
    LABELS,
    Channel,
    Decision,
    Envelope,
    Event,
    Label,
    PredictionMade,
    ReviewPriority,
    Source,
    decode,
)

__all__ = [
    "MAX_EVENT_TEXT",
    "EncodedEvents",
    "FlagTable",
    "PredictionColumns",
    "escaped",
    "json_string",
    "prediction_bodies",
    "scores_json",
    "uuid4_strings",
]


def _max_length(field: str) -> int:
    """The ``maxLength`` of a string field of ``PredictionMade`` (optional or not)."""
    schema = PredictionMade.model_json_schema()["properties"][field]
    limits = [s["maxLength"] for s in (schema, *schema.get("anyOf", ())) if "maxLength" in s]
    if not limits:
        raise TypeError(f"PredictionMade.{field} has no length limit")
    return int(min(limits))


MAX_EVENT_TEXT: Final = _max_length("text")
"""The longest text (and context) a ``PredictionMade`` carries."""

_EVENT_TYPE: Final[str] = PredictionMade.model_fields["event_type"].default
_SCHEMA_VERSION: Final[str] = PredictionMade.model_fields["schema_version"].default


def json_string(value: str) -> str:
    """``value`` as a JSON string, non-ASCII kept as is (as pydantic writes it).

    pydantic's serde encoder escapes a 400-character comment about 3x as fast as the stdlib's.
    """
    return pydantic_core.to_json(value).decode()


# --- ids ---------------------------------------------------------------------------------------

_FEW_IDS: Final = 16
# Where the 32 hex digits of a UUID go in its 36-character form (the rest are dashes).
_DIGITS: Final = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_HEX: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuid4_strings(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs in their canonical text form, from one ``os.urandom``.

    The same bits ``uuid.uuid4()`` makes (122 random, version 4, RFC 4122 variant), without
    a ``UUID`` object and a ``urandom`` call per id.
    """
    if count <= _FEW_IDS:  # numpy's per-call cost outweighs its speed
        return [str(uuid4()) for _ in range(count)]
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    text[:, _DIGITS[0::2]] = _HEX[raw >> 4]
    text[:, _DIGITS[1::2]] = _HEX[raw & 0x0F]
    joined = text.tobytes().decode("ascii")
    return [joined[i : i + 36] for i in range(0, 36 * count, 36)]


# --- scores and flags --------------------------------------------------------------------------

_SCORES: Final = "{" + ",".join(f'"{label.value}":%s' for label in LABELS) + "}"


def escaped(values: list[str]) -> list[str]:
    """Each of ``values`` escaped for the inside of a JSON string, in one call.

    For short strings one call is 4x faster than one per string. In the compact JSON of a list
    of strings every quote inside a string is escaped, so each ``","`` is a boundary.
    """
    if not values:
        return []
    return pydantic_core.to_json(values).decode()[2:-2].split('","')


def scores_json(probabilities: NDArray[np.float64]) -> list[str]:
    """Each row of probabilities (in ``LABELS`` order) as the JSON object ``{label: score}``.

    The numbers are written by pydantic's serialiser, all at once (``repr`` of six floats a row
    cost three times as much): the same digits a pydantic model of the scores writes.
    """
    if len(probabilities) == 0:
        return []
    template = _SCORES
    rows = pydantic_core.to_json(probabilities.tolist()).decode()[2:-2].split("],[")
    return [template % tuple(row.split(",")) for row in rows]


class FlagTable:
    """The flagged labels of many rows: one bit per label, looked up in tables made once."""

    def __init__(self, labels: Sequence[Label] = LABELS) -> None:
        self.labels = tuple(labels)
        self._bits = 1 << np.arange(len(self.labels), dtype=np.int64)
        codes = range(1 << len(self.labels))
        self.flagged: list[tuple[Label, ...]] = [
            tuple(label for j, label in enumerate(self.labels) if code >> j & 1) for code in codes
        ]
        self.json: list[str] = [
            "[" + ",".join(f'"{label.value}"' for label in flagged) + "]"
            for flagged in self.flagged
        ]
        self.spaced: list[str] = [
            " ".join(label.value for label in flagged) for flagged in self.flagged
        ]

    def codes(
        self, probabilities: NDArray[np.float64], thresholds: NDArray[np.float64]
    ) -> list[int]:
        """Each row's flag code: bit ``j`` set when label ``j`` scores at or above its threshold."""
        flagged = probabilities >= thresholds
        result: list[int] = (flagged @ self._bits).tolist()
        return result


# --- the bodies --------------------------------------------------------------------------------


class PredictionColumns:
    """What the events of one scored batch say, one list entry per comment."""

    def __init__(
        self,
        *,
        event_ids: list[str],
        prediction_ids: list[str],
        scores: list[str],
        flagged: list[str],
        decisions: list[Decision],
        priorities: list[ReviewPriority | None],
        texts: Sequence[str],
        contexts: Sequence[str | None],
        user_ids: Sequence[str | None],
        stores: Sequence[bool],
    ) -> None:
        self.event_ids = event_ids
        self.prediction_ids = prediction_ids
        self.scores = scores
        self.flagged = flagged
        self.decisions = decisions
        self.priorities = priorities
        self.texts = texts
        self.contexts = contexts
        self.user_ids = user_ids
        self.stores = stores


def _json(value: object, fillings: int) -> str:
    """``value`` as JSON, safe inside a %-template that is filled in ``fillings`` more times."""
    return pydantic_core.to_json(value).decode().replace("%", "%" * (1 << fillings))


# The decision and review priority of an event: allow and reject have none, review has one.
_DECIDED: Final[dict[tuple[Decision, ReviewPriority | None], str]] = {
    (Decision.ALLOW, None): '"decision":"allow","review_priority":null',
    (Decision.REJECT, None): '"decision":"reject","review_priority":null',
    **{
        (Decision.REVIEW, p): f'"decision":"review","review_priority":"{p.value}"'
        for p in ReviewPriority
    },
}


@functools.lru_cache(maxsize=64)
def _template(source: Source, model_version: str, channel: Channel) -> str:
    """The body of a ``PredictionMade`` with what is fixed for a replica's model and channel
    filled in; ``%(name)s`` holds the place of what each request sets, ``%%s`` of each comment's.
    """
    return (
        '{"event_id":"%%s","schema_version":'
        + _json(_SCHEMA_VERSION, 2)
        + ',"occurred_at":%(occurred_at)s,"source":'
        + _json(source.model_dump(mode="json"), 2)
        + ',"correlation_id":%(correlation_id)s,"traceparent":null,"event_type":'
        + _json(_EVENT_TYPE, 2)
        + ',"prediction_id":"%%s","model_version":'
        + _json(model_version, 2)
        + ',"scores":%%s,"flagged":%%s,%%s,"text":%%s,"text_length":%%d,"text_sha256":"%%s"'
        + ',"latency_ms":%(latency_ms)s,"channel":'
        + _json(channel.value, 2)
        + ',"context":%%s,"user_id":%%s}'
    )


def prediction_bodies(
    columns: PredictionColumns,
    *,
    source: Source,
    model_version: str,
    channel: Channel,
    latency_ms: float,
    correlation_id: str,
    occurred_at: datetime,
) -> list[str]:
    """The JSON body of each comment's ``PredictionMade``, as ``contracts.encode`` would write it.

    Refuses (ValueError) what the contract would refuse and the callers do not check already:
    a text or context over the contract's limit.
    """
    longest = max(
        max(map(len, columns.texts), default=0),
        max((len(c) for c in columns.contexts if c is not None), default=0),
    )
    if longest > MAX_EVENT_TEXT:
        raise ValueError(
            f"a text of {longest} characters is over the {MAX_EVENT_TEXT} an event carries"
        )
    stamp = occurred_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    head = _template(source, model_version, channel) % {
        "occurred_at": _json(stamp, 1),
        "correlation_id": _json(correlation_id, 1),
        "latency_ms": _json(latency_ms, 1),
    }
    sha256 = hashlib.sha256
    users: dict[str | None, str] = {None: "null"}  # a batch has one user id: escaped once
    bodies: list[str] = []
    for (
        event_id,
        prediction_id,
        scores,
        flagged,
        decision,
        priority,
        text,
        context,
        user,
        store,
    ) in zip(
        columns.event_ids,
        columns.prediction_ids,
        columns.scores,
        columns.flagged,
        columns.decisions,
        columns.priorities,
        columns.texts,
        columns.contexts,
        columns.user_ids,
        columns.stores,
        strict=True,
    ):
        user_id = users.get(user)
        if user_id is None:
            user_id = users[user] = json_string(str(user))
        bodies.append(
            head
            % (
                event_id,
                prediction_id,
                scores,
                flagged,
                _DECIDED[decision, priority],
                json_string(text) if store else "null",
                len(text),
                sha256(text.encode()).hexdigest(),
                json_string(context) if store and context is not None else "null",
                user_id,
            )
        )
    return bodies


class EncodedEvents(Sequence[Envelope]):
    """Events of one type already in wire form; items are decoded (and validated) on access."""

    def __init__(self, event_type: str, event_ids: list[str], bodies: list[str]) -> None:
        if len(event_ids) != len(bodies):
            raise ValueError("one event id per body")
        self.event_type = event_type
        self.event_ids = event_ids
        self.bodies = bodies

    @classmethod
    def predictions(cls, event_ids: list[str], bodies: list[str]) -> EncodedEvents:
        return cls(_EVENT_TYPE, event_ids, bodies)

    def __len__(self) -> int:
        return len(self.bodies)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [decode(body) for body in self.bodies[index]]
        return decode(self.bodies[index])

    def __iter__(self) -> Iterator[Event]:
        return (decode(body) for body in self.bodies)
