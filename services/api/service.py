"""What the API does, apart from HTTP: score, take feedback and decisions, ask for a retrain.

Both API surfaces (native and Perspective) call these functions; each turns its result into
events and puts them in the outbox before the response leaves, so an answered request always has
its event on the replica's disk. Scoring a few comments runs on the event loop (it takes well under
a millisecond); larger batches run in a thread so other requests keep moving.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    PredictionMade,
    RetrainReason,
    RetrainRequested,
    Source,
)
from services.api.moderation import Moderation, ModerationPolicy
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
]

# Batches larger than this are scored in a worker thread.
_INLINE_BATCH = 8
# Predictions this replica remembers for feedback without asking DynamoDB.
_RECENT_PREDICTIONS = 100_000
# A remembered prediction: model version, text (None: not to be stored), flagged labels joined
# by spaces.
_Remembered = tuple[str, str | None, str]


class InvalidRequestError(PlatformError, ValueError):
    """A request that is well-formed but asks for something this API will not do."""


class EventSink(Protocol):
    """The outbox: takes events all-or-nothing, or raises ``OutboxFull``."""

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
class Scored:
    prediction_id: UUID
    model_version: str
    scores: dict[Label, float]
    flagged: tuple[Label, ...]
    moderation: Moderation
    explanation: dict[Label, list[Contribution]] | None = None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
        # Keyed by the id's int, values only strings: the cyclic garbage collector skips such
        # entries, where 100k objects (a KnownPrediction, its dict, its UUID) made each of its
        # full passes walk them all, stalling the event loop for up to a few hundred ms.
        self._recent: OrderedDict[int, _Remembered] = OrderedDict()

    # --- scoring ------------------------------------------------------------------------------

    async def probabilities(
        self, texts: Sequence[str], serving: ServingModel | None = None
    ) -> tuple[ServingModel, np.ndarray]:
        """The model (``serving`` or the current one) and its probabilities for ``texts``."""
        serving = serving or self.slot.require()
        if len(texts) <= _INLINE_BATCH:
            return serving, serving.model.predict_proba(texts)
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
        started = time.perf_counter()
        serving, probabilities = await self.probabilities([c.text for c in comments], serving)
        thresholds = serving.model.thresholds.tolist()
        results: list[Scored] = []
        for comment, row in zip(comments, probabilities.tolist(), strict=True):
            scores = dict(zip(LABELS, row, strict=True))
            flagged = tuple(
                label for label, p, t in zip(LABELS, row, thresholds, strict=True) if p >= t
            )
            explanation = (
                serving.model.explain(comment.text, self._explain_top) if explain else None
            )
            results.append(
                Scored(
                    prediction_id=uuid4(),
                    model_version=serving.version,
                    scores=scores,
                    flagged=flagged,
                    moderation=self._policy.decide(scores),
                    explanation=explanation,
                )
            )
        latency_ms = (time.perf_counter() - started) * 1000.0
        # One request, one correlation id, however many comments it scored.
        correlation = correlation_id or uuid4().hex
        events = [
            self._prediction_event(comment, result, channel, latency_ms, correlation)
            for comment, result in zip(comments, results, strict=True)
        ]
        self._sink.put(events)
        for comment, result in zip(comments, results, strict=True):
            self._remember(
                result.prediction_id,
                (
                    result.model_version,
                    comment.text if comment.store else None,
                    " ".join(result.flagged),
                ),
            )
        return results

    def _prediction_event(
        self,
        comment: Comment,
        result: Scored,
        channel: Channel,
        latency_ms: float,
        correlation_id: str,
    ) -> PredictionMade:
        return PredictionMade(
            source=self._source,
            prediction_id=result.prediction_id,
            model_version=result.model_version,
            scores=result.scores,
            flagged=result.flagged,
            decision=result.moderation.decision,
            review_priority=result.moderation.priority,
            text=comment.text if comment.store else None,
            text_length=len(comment.text),
            text_sha256=_sha256(comment.text),
            latency_ms=latency_ms,
            channel=channel,
            context=comment.context if comment.store else None,
            user_id=comment.user_id,
            correlation_id=correlation_id,
        )

    def _remember(self, prediction_id: UUID, remembered: _Remembered) -> None:
        self._recent[prediction_id.int] = remembered
        if len(self._recent) > _RECENT_PREDICTIONS:
            self._recent.popitem(last=False)

    async def known(self, prediction_id: UUID) -> KnownPrediction:
        """The prediction ``prediction_id``, from memory or from what the logger stored."""
        remembered = self._recent.get(prediction_id.int)
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
