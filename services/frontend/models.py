"""What the API answers, as the frontend reads it (the API's JSON, not its code).

The frontend never imports the API service; these models mirror the ``/v1`` response bodies the
README documents. They ignore fields they do not know, so an API that adds a field does not
break the app.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts import Decision, Label, ModeratorAction, ReviewPriority

__all__ = [
    "BatchResult",
    "Example",
    "FeedbackReceipt",
    "Moderation",
    "Prediction",
    "ReviewItem",
    "ReviewPage",
    "Span",
]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Span(_Answer):
    """An n-gram of the text (``text[start:end]``) and how much it raised a label's score."""

    ngram: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    weight: float


class Moderation(_Answer):
    decision: Decision
    confidence: float
    reasoning: str
    priority: ReviewPriority | None = None


class Prediction(_Answer):
    prediction_id: UUID
    model_version: str
    scores: dict[Label, float]
    flagged: list[Label]
    moderation: Moderation
    explanation: dict[Label, list[Span]] | None = None


class BatchResult(_Answer):
    model_version: str
    count: int
    predictions: list[Prediction]


class FeedbackReceipt(_Answer):
    feedback_id: UUID
    prediction_id: UUID | None
    model_version: str
    true_labels: dict[Label, bool]


class Example(_Answer):
    text: str
    labels: dict[Label, bool]
    model_version: str


class ReviewItem(_Answer):
    prediction_id: UUID
    created_at: datetime
    status: str
    priority: ReviewPriority
    model_version: str
    scores: dict[Label, float]
    flagged: list[Label]
    text: str | None = None
    context: str | None = None
    moderator_action: ModeratorAction | None = None


class ReviewPage(_Answer):
    items: list[ReviewItem]
    more: bool = False
