"""The frontend's ``ToxicApi`` in memory, answering and refusing as the API does.

Scores come from a small word list, so a test knows what a comment scores and which words an
explanation marks. Refusals are built from the API's error body by the adapter's own
``problem_from_response``, so the app sees the same messages as against a real API. ``down``
makes every call fail as an unreachable API does; ``refuse_next`` makes the next call fail with
a given status and message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx

from contracts import LABELS, Decision, Label, ModeratorAction, ReviewPriority
from services.frontend.client import problem_from_response
from services.frontend.models import (
    BatchResult,
    Example,
    FeedbackReceipt,
    Moderation,
    Prediction,
    ReviewItem,
    ReviewPage,
    Span,
)
from services.frontend.port import ApiCallError

__all__ = ["FakeToxicApi", "Feedback", "Moderated", "review_item"]

# word -> the scores it raises; a comment scores the highest of its words per label.
LEXICON: dict[str, dict[Label, float]] = {
    "idiot": {Label.TOXIC: 0.97, Label.INSULT: 0.93, Label.OBSCENE: 0.2},
    "fool": {Label.TOXIC: 0.7, Label.INSULT: 0.6},
    "kill": {Label.TOXIC: 0.8, Label.THREAT: 0.85, Label.SEVERE_TOXIC: 0.3},
    "damn": {Label.TOXIC: 0.4, Label.OBSCENE: 0.55},
}
BASELINE = 0.02
THRESHOLD = 0.5
BATCH_LIMIT = 1_000
MAX_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class Feedback:
    prediction_id: UUID
    labels: dict[Label, bool] | None
    correct: bool
    note: str | None
    key: str | None


@dataclass(frozen=True)
class Moderated:
    prediction_id: UUID
    action: ModeratorAction
    labels: dict[Label, bool]
    note: str | None
    key: str | None


@dataclass
class FakeToxicApi:
    model_version: str = "fake-v1"
    moderator_keys: set[str] = field(default_factory=set)
    client_keys: set[str] = field(default_factory=set)
    examples: list[Example] = field(default_factory=list)
    reviews: list[ReviewItem] = field(default_factory=list)
    down: bool = False
    refuse_next: tuple[int, str, float | None] | None = None

    predictions: dict[UUID, Prediction] = field(default_factory=dict)
    feedback: list[Feedback] = field(default_factory=list)
    moderated: list[Moderated] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    # What the API would say -------------------------------------------------------------

    @staticmethod
    def _refusal(status: int, message: str, retry_after: float | None = None) -> ApiCallError:
        body = {"error": {"code": status, "message": message, "status": "FAKE"}}
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return problem_from_response(httpx.Response(status, json=body, headers=headers))

    def _enter(self, call: str, key: str | None, *, moderator: bool = False) -> None:
        self.calls.append(call)
        if self.down:
            raise ApiCallError(
                "The API at http://fake is not reachable (connection refused). "
                "Is `toxic serve api` running?"
            )
        if self.refuse_next is not None:
            status, message, retry_after = self.refuse_next
            self.refuse_next = None
            raise self._refusal(status, message, retry_after)
        if moderator:
            if key is None:
                raise self._refusal(401, "this route needs an API key")
            if key not in self.moderator_keys:
                if key in self.client_keys:
                    raise self._refusal(403, "this route needs the moderator role")
                raise self._refusal(401, "the API key is not valid")

    def _check_text(self, text: str, field_name: str) -> None:
        if not text.strip():
            raise self._refusal(422, f"{field_name}: must contain at least one non-space character")
        if len(text) > MAX_TEXT_CHARS:
            raise self._refusal(
                422,
                f"{field_name}: {len(text)} characters is over the limit of {MAX_TEXT_CHARS} "
                "(TOXIC_MAX_TEXT_CHARS)",
            )

    def score(self, text: str) -> Prediction:
        """What the fake answers for ``text``, without recording a call."""
        scores = dict.fromkeys(LABELS, BASELINE)
        explanation: dict[Label, list[Span]] = {label: [] for label in LABELS}
        for match in re.finditer(r"[A-Za-z]+", text):
            for label, value in LEXICON.get(match.group().lower(), {}).items():
                scores[label] = max(scores[label], value)
                explanation[label].append(
                    Span(ngram=match.group(), start=match.start(), end=match.end(), weight=value)
                )
        top = max(scores.values())
        if top >= 0.9:
            decision, priority = Decision.REJECT, None
        elif top <= 0.1:
            decision, priority = Decision.ALLOW, None
        else:
            decision = Decision.REVIEW
            priority = ReviewPriority.HIGH if top >= 0.8 else ReviewPriority.MEDIUM
        return Prediction(
            prediction_id=uuid4(),
            model_version=self.model_version,
            scores=scores,
            flagged=[label for label in LABELS if scores[label] >= THRESHOLD],
            moderation=Moderation(
                decision=decision,
                confidence=round(abs(top - THRESHOLD) * 2, 3),
                reasoning=f"top score {top:.2f} ({decision.value})",
                priority=priority,
            ),
            explanation=explanation,
        )

    # ToxicApi ---------------------------------------------------------------------------

    def predict(self, text: str, *, key: str | None = None) -> Prediction:
        self._enter("predict", key)
        self._check_text(text, "text")
        prediction = self.score(text)
        self.predictions[prediction.prediction_id] = prediction
        return prediction

    def _known(self, prediction_id: UUID) -> Prediction:
        found = self.predictions.get(prediction_id)
        if found is None:
            raise self._refusal(404, f"prediction {prediction_id} is not known")
        return found

    def feedback_correct(
        self, prediction_id: UUID, *, note: str | None = None, key: str | None = None
    ) -> FeedbackReceipt:
        self._enter("feedback_correct", key)
        known = self._known(prediction_id)
        self.feedback.append(Feedback(prediction_id, None, True, note, key))
        labels = {label: label in known.flagged for label in LABELS}
        return FeedbackReceipt(
            feedback_id=uuid4(),
            prediction_id=prediction_id,
            model_version=known.model_version,
            true_labels=labels,
        )

    def feedback_labels(
        self,
        prediction_id: UUID,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        self._enter("feedback_labels", key)
        known = self._known(prediction_id)
        if not labels:
            raise self._refusal(422, "body: `labels` must name at least one label")
        self.feedback.append(Feedback(prediction_id, dict(labels), False, note, key))
        return FeedbackReceipt(
            feedback_id=uuid4(),
            prediction_id=prediction_id,
            model_version=known.model_version,
            true_labels=dict(labels),
        )

    def random_example(self, *, key: str | None = None) -> Example:
        self._enter("random_example", key)
        if not self.examples:
            raise self._refusal(503, "no model is loaded yet", 2)
        # Round robin: tests know which example comes next.
        example = self.examples.pop(0)
        self.examples.append(example)
        return example

    def score_batch(self, texts: Sequence[str], *, key: str | None = None) -> BatchResult:
        self._enter("score_batch", key)
        if not texts:
            raise self._refusal(422, "texts: give at least one comment")
        if len(texts) > BATCH_LIMIT:
            raise self._refusal(
                422,
                f"texts: {len(texts)} comments is over the limit of {BATCH_LIMIT} "
                "(TOXIC_MAX_BATCH)",
            )
        for i, text in enumerate(texts):
            self._check_text(text, f"texts.{i}")
        self.batch_sizes.append(len(texts))
        predictions = [self.score(text) for text in texts]
        return BatchResult(
            model_version=self.model_version, count=len(predictions), predictions=predictions
        )

    def review_queue(self, *, limit: int, key: str | None = None) -> ReviewPage:
        self._enter("review_queue", key, moderator=True)
        order = {ReviewPriority.HIGH: 0, ReviewPriority.MEDIUM: 1, ReviewPriority.LOW: 2}
        pending = sorted(
            (r for r in self.reviews if r.status == "pending"),
            key=lambda r: (order[r.priority], r.created_at),
        )
        return ReviewPage(items=pending[:limit], more=len(pending) > limit)

    def moderate(
        self,
        prediction_id: UUID,
        action: ModeratorAction,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        self._enter("moderate", key, moderator=True)
        for i, item in enumerate(self.reviews):
            if item.prediction_id == prediction_id:
                if item.status != "pending":
                    raise self._refusal(409, f"prediction {prediction_id} was already reviewed")
                self.reviews[i] = item.model_copy(
                    update={"status": "reviewed", "moderator_action": action}
                )
                self.moderated.append(Moderated(prediction_id, action, dict(labels), note, key))
                return FeedbackReceipt(
                    feedback_id=uuid4(),
                    prediction_id=prediction_id,
                    model_version=item.model_version,
                    true_labels=dict(labels),
                )
        raise self._refusal(404, f"prediction {prediction_id} is not in the review queue")


def review_item(
    text: str,
    priority: ReviewPriority = ReviewPriority.MEDIUM,
    *,
    minutes_ago: int = 0,
    fake: FakeToxicApi | None = None,
) -> ReviewItem:
    """A pending review item for ``text``, scored as the fake scores it."""
    scored = (fake or FakeToxicApi()).score(text)
    return ReviewItem(
        prediction_id=scored.prediction_id,
        created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        status="pending",
        priority=priority,
        model_version=scored.model_version,
        scores=scored.scores,
        flagged=scored.flagged,
        text=text,
    )
