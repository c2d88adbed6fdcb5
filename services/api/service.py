"""What the API does, apart from HTTP: score, take feedback and decisions, ask for a retrain.

Both API surfaces (native and Perspective) call these functions; each turns its result into
events and puts them in the outbox before the response leaves, so an answered request always has
its event on the replica's disk. Scoring a few comments runs on the event loop (it takes well under
a millisecond); larger batches run in a child process (``services.api.scorers``), or in a thread
while there is none, so other requests keep moving.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID, uuid4

import numpy as np

from contracts import (
    LABELS,
    Channel,
    Envelope,
    FeedbackGiven,
    FeedbackSource,
    Label,
    ModeratorAction,
    RetrainReason,
    RetrainRequested,
    Source,
)
from services.api.events import (
    EncodedEvents,
    FlagTable,
    PredictionColumns,
    prediction_bodies,
    scores_json,
    uuid4_strings,
)
from services.api.moderation import Decisions, Moderation, ModerationPolicy
from services.api.serving import ModelSlot, ServingModel
from shared.errors import NotFoundError, PlatformError
from shared.model.toxicity import Contribution

__all__ = [
    "Comment",
    "CommentService",
    "EventSink",
    "InvalidRequestError",
    "KnownPrediction",
    "PredictionLookup",
    "Scored",
    "ScoredBatch",
]

# Batches larger than this are scored off the event loop.
_INLINE_BATCH = 8
# Predictions this replica remembers for feedback without asking DynamoDB.
_RECENT_PREDICTIONS = 100_000
# A remembered prediction: model version, text (None: not to be stored), flagged labels joined
# by spaces.
_Remembered = tuple[str, str | None, str]


class InvalidRequestError(PlatformError, ValueError):
    """A request that is well-formed but asks for something this API will not do."""


class EventSink(Protocol):
    """The outbox: takes events all-or-nothing, or raises ``OutboxFull``.

    Scored comments come as ``EncodedEvents`` (already JSON); a sink that stores bodies should
    store those as they are.
    """

    def put(self, events: Sequence[Envelope]) -> object: ...


@dataclass(frozen=True)
class KnownPrediction:
    """What feedback needs to know about a prediction it judges."""

    prediction_id: UUID
    model_version: str
    text: str | None
    flagged: tuple[Label, ...] = ()


class PredictionLookup(Protocol):
    """Predictions the logger stored (for feedback on another replica's prediction)."""

    async def get(self, prediction_id: UUID) -> KnownPrediction | None: ...


@dataclass(frozen=True)
class Comment:
    """One comment to score and what the caller said about it."""

    text: str
    context: str | None = None
    user_id: str | None = None
    store: bool = True


@dataclass(frozen=True)
class ScoredBatch:
    """Comments scored together, as columns (row ``i`` is the ``i``-th text).

    Carries the JSON fragments its events were built from, so a response can reuse them.
    """

    serving: ServingModel
    prediction_ids: list[str]
    scores: list[list[float]]  # probabilities, in ``LABELS`` order
    scores_json: list[str]  # each row as the JSON object ``{label: score}``
    flagged: list[tuple[Label, ...]]
    flagged_json: list[str]
    moderation: Decisions

    @property
    def model_version(self) -> str:
        return self.serving.version

    def __len__(self) -> int:
        return len(self.prediction_ids)


@dataclass(frozen=True)
class Scored:
    prediction_id: UUID
    model_version: str
    scores: dict[Label, float]
    flagged: tuple[Label, ...]
    moderation: Moderation
    explanation: dict[Label, list[Contribution]] | None = None


class CommentService:
    def __init__(
        self,
        slot: ModelSlot,
        policy: ModerationPolicy,
        sink: EventSink,
        predictions: PredictionLookup,
        source: Source,
        *,
        explain_top: int = 5,
    ) -> None:
        self.slot = slot
        self._policy = policy
        self._sink = sink
        self._predictions = predictions
        self._source = source
        self._explain_top = explain_top
        # Keyed by the id's text, values only strings: the cyclic garbage collector skips such
        # entries, where 100k objects (a KnownPrediction, its dict, its UUID) made each of its
        # full passes walk them all, stalling the event loop for up to a few hundred ms.
        self._recent: OrderedDict[str, _Remembered] = OrderedDict()
        self._flags = FlagTable()

    # --- scoring ------------------------------------------------------------------------------

    async def probabilities(
        self, texts: Sequence[str], serving: ServingModel | None = None
    ) -> tuple[ServingModel, np.ndarray]:
        """The model (``serving`` or the current one) and its probabilities for ``texts``."""
        serving = serving or self.slot.require()
        if len(texts) <= _INLINE_BATCH:
            return serving, serving.model.predict_proba(texts)
        if serving.scorer is not None:
            answered = await serving.scorer.predict_proba(texts)
            if answered is not None:
                return serving, answered
        return serving, await asyncio.to_thread(serving.model.predict_proba, texts)

    async def score(
        self,
        comments: Sequence[Comment],
        channel: Channel,
        *,
        explain: bool = False,
        correlation_id: str | None = None,
        serving: ServingModel | None = None,
    ) -> list[Scored]:
        """Score ``comments``, publish one ``PredictionMade`` each; all or none are accepted.

        ``serving`` pins the model (a caller that scores more with it, such as sentence spans).
        """
        batch = await self.score_batch(
            [c.text for c in comments],
            channel,
            contexts=[c.context for c in comments],
            user_ids=[c.user_id for c in comments],
            stores=[c.store for c in comments],
            correlation_id=correlation_id,
            serving=serving,
        )
        model = batch.serving.model
        return [
            Scored(
                prediction_id=UUID(batch.prediction_ids[i]),
                model_version=batch.model_version,
                scores=dict(zip(LABELS, row, strict=True)),
                flagged=batch.flagged[i],
                moderation=batch.moderation[i],
                explanation=model.explain(comment.text, self._explain_top) if explain else None,
            )
            for i, (comment, row) in enumerate(zip(comments, batch.scores, strict=True))
        ]

    async def score_batch(
        self,
        texts: Sequence[str],
        channel: Channel,
        *,
        contexts: Sequence[str | None] | None = None,
        user_ids: Sequence[str | None] | None = None,
        stores: Sequence[bool] | None = None,
        correlation_id: str | None = None,
        serving: ServingModel | None = None,
    ) -> ScoredBatch:
        """Score ``texts`` as columns; publish one ``PredictionMade`` each, all or none.

        ``contexts``, ``user_ids`` and ``stores`` (whether the text may be kept) are per text;
        left out: none, none and True.
        """
        started = time.perf_counter()
        serving, probabilities = await self.probabilities(texts, serving)
        count = len(texts)
        if probabilities.shape != (count, len(LABELS)) or not (
            count == 0 or (probabilities.min() >= 0.0 and probabilities.max() <= 1.0)
        ):
            # A NaN makes min and max NaN, which fails both comparisons. Every event says its
            # scores are probabilities.
            raise ValueError(f"model {serving.version} returned scores outside [0, 1]")
        thresholds = serving.model.thresholds
        codes = self._flags.codes(probabilities, thresholds)
        moderation = self._policy.decide_rows(probabilities)
        rows: list[list[float]] = probabilities.tolist()
        scores = scores_json(probabilities)
        ids = uuid4_strings(2 * count)
        prediction_ids, event_ids = ids[:count], ids[count:]
        flagged_json = self._flags.json
        contexts = contexts if contexts is not None else [None] * count
        user_ids = user_ids if user_ids is not None else [None] * count
        stores = stores if stores is not None else [True] * count
        latency_ms = (time.perf_counter() - started) * 1000.0
        columns = PredictionColumns(
            event_ids=event_ids,
            prediction_ids=prediction_ids,
            scores=scores,
            flagged=[flagged_json[code] for code in codes],
            decisions=moderation.decisions,
            priorities=moderation.priorities,
            texts=texts,
            contexts=contexts,
            user_ids=user_ids,
            stores=stores,
        )
        bodies = prediction_bodies(
            columns,
            source=self._source,
            model_version=serving.version,
            channel=channel,
            latency_ms=latency_ms,
            # One request, one correlation id, however many comments it scored.
            correlation_id=correlation_id or uuid4().hex,
            occurred_at=datetime.now(UTC),
        )
        self._sink.put(EncodedEvents.predictions(event_ids, bodies))
        version = serving.version
        spaced = self._flags.spaced
        recent = self._recent
        for prediction_id, text, store, code in zip(
            prediction_ids, texts, stores, codes, strict=True
        ):
            recent[prediction_id] = (version, text if store else None, spaced[code])
        while len(recent) > _RECENT_PREDICTIONS:
            recent.popitem(last=False)
        flagged = self._flags.flagged
        return ScoredBatch(
            serving=serving,
            prediction_ids=prediction_ids,
            scores=rows,
            scores_json=scores,
            flagged=[flagged[code] for code in codes],
            flagged_json=columns.flagged,
            moderation=moderation,
        )

    async def known(self, prediction_id: UUID) -> KnownPrediction:
        """The prediction ``prediction_id``, from memory or from what the logger stored."""
        remembered = self._recent.get(str(prediction_id))
        if remembered is not None:
            version, text, flagged = remembered
            labels = tuple(Label(name) for name in flagged.split())
            return KnownPrediction(prediction_id, version, text, labels)
        known = await self._predictions.get(prediction_id)
        if known is None:
            raise NotFoundError(
                f"prediction {prediction_id} is not known (yet): feedback needs the id a"
                " scoring response returned; a prediction scored moments ago on another replica"
                " may take a few seconds to be stored"
            )
        return known

    # --- feedback, decisions, retrains --------------------------------------------------------

    async def feedback(
        self,
        prediction_id: UUID,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        correlation_id: str | None = None,
    ) -> FeedbackGiven:
        """A user's true labels for a prediction (all six scored labels when ``correct``)."""
        known = await self.known(prediction_id)
        event = FeedbackGiven(
            source=self._source,
            prediction_id=prediction_id,
            model_version=known.model_version,
            true_labels=dict(labels),
            feedback_source=FeedbackSource.USER,
            text=known.text,
            note=note,
            correlation_id=correlation_id or uuid4().hex,
        )
        self._sink.put([event])
        return event

    async def moderate(
        self,
        prediction_id: UUID,
        action: ModeratorAction,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
    ) -> FeedbackGiven:
        """A moderator's decision on a reviewed comment."""
        known = await self.known(prediction_id)
        event = FeedbackGiven(
            source=self._source,
            prediction_id=prediction_id,
            model_version=known.model_version,
            true_labels=dict(labels),
            feedback_source=FeedbackSource.MODERATOR,
            moderator_action=action,
            text=known.text,
            note=note,
        )
        self._sink.put([event])
        return event

    def suggest(self, text: str, labels: Mapping[Label, bool], *, store: bool) -> FeedbackGiven:
        """A Perspective ``suggestscore``: labels for a text that may never have been scored."""
        if not store:
            raise InvalidRequestError(
                "a suggestion with doNotStore cannot be kept: it is only useful with its text"
            )
        serving = self.slot.current
        event = FeedbackGiven(
            source=self._source,
            model_version=serving.version if serving else "none",
            true_labels=dict(labels),
            feedback_source=FeedbackSource.PERSPECTIVE,
            text=text,
        )
        self._sink.put([event])
        return event

    def retrain(self, requested_by: str, note: str | None = None) -> RetrainRequested:
        event = RetrainRequested(
            source=self._source, reason=RetrainReason.MANUAL, requested_by=requested_by, note=note
        )
        self._sink.put([event])
        return event
