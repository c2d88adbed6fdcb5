"""Request and response bodies of the native API (``/v1``); they are its OpenAPI schema.

Requests refuse unknown fields, so a misspelt option is an error rather than silently ignored.
Length limits that depend on settings (text, batch) are checked by the routes, with the limit
named in the message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from contracts import Decision, Label, LabelMetrics, ModeratorAction, ReviewPriority, RowCounts
from shared.items import ReviewStatus

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "ExampleResponse",
    "FeedbackRequest",
    "ModelResponse",
    "Moderation",
    "PredictRequest",
    "Prediction",
    "RetrainRequest",
    "ReviewAction",
    "ReviewList",
    "ReviewOut",
    "ReviewStatsOut",
    "Unicode",
]


def _encodable(value: str) -> str:
    # JSON may carry an unpaired surrogate (\ud800): Python accepts it, but no event, table or
    # tokenizer can hold it, so it is refused here, with its position, instead of failing later.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"not valid Unicode: an unpaired surrogate at character {exc.start}"
        ) from None
    return value


Unicode = Annotated[str, AfterValidator(_encodable)]
"""Text that can be stored: every request field that reaches an event is of this type."""
_UNICODE_ITEMS: TypeAdapter[list[Unicode]] = TypeAdapter(list[Unicode])
Note = Annotated[Unicode, Field(max_length=2_000)]
UserId = Annotated[Unicode, Field(min_length=1, max_length=256)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PredictRequest(_Request):
    text: Unicode = Field(description="The comment (1 to TOXIC_MAX_TEXT_CHARS characters).")
    context: Unicode | None = Field(
        default=None, description="What the comment replies to; counted in the text limit too."
    )
    user_id: UserId | None = None
    explain: bool = Field(default=False, description="Return the n-grams that drove each score.")
    do_not_store: bool = Field(
        default=False, description="Leave the text (and context) out of every event and table."
    )


class BatchRequest(_Request):
    texts: list[str] = Field(description="1 to TOXIC_MAX_BATCH comments, each like `text`.")
    user_id: UserId | None = None
    do_not_store: bool = False

    @field_validator("texts")
    @classmethod
    def _encodable_texts(cls, texts: list[str]) -> list[str]:
        # ``Unicode`` on each item, a Python call per comment, made up most of a batch's
        # validation; an ASCII text (``isascii`` is O(1)) cannot hold a surrogate. Only when
        # one does are the items validated as ``Unicode``, for the same errors at the same
        # places (``texts.3``).
        for text in texts:
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    _UNICODE_ITEMS.validate_python(texts)
        return texts


class FeedbackRequest(_Request):
    prediction_id: UUID
    labels: dict[Label, bool] | None = Field(
        default=None, description="The true labels; labels left out were not judged."
    )
    correct: bool | None = Field(
        default=None, description="`true`: the prediction's flagged labels were right."
    )
    note: Note | None = None

    @model_validator(mode="after")
    def _one_judgement(self) -> Self:
        if (self.labels is None) == (self.correct is None):
            raise ValueError("give either `labels` or `correct`, not both and not neither")
        if self.correct is False:
            raise ValueError("`correct: false` says nothing: give the true `labels` instead")
        if self.labels is not None and not self.labels:
            raise ValueError("`labels` must name at least one label")
        return self


class ReviewAction(_Request):
    action: ModeratorAction
    labels: dict[Label, bool] = Field(
        default_factory=dict, description="Corrected labels (remove: the labels it deserves)."
    )
    note: Note | None = None


class RetrainRequest(_Request):
    note: Note | None = None


class Span(BaseModel):
    ngram: str
    start: int
    end: int
    weight: float


class Moderation(BaseModel):
    decision: Decision
    confidence: float = Field(description="0 on a threshold, 1 far from it.")
    reasoning: str
    priority: ReviewPriority | None = Field(default=None, description="Set for review only.")


class Prediction(BaseModel):
    prediction_id: UUID
    model_version: str
    scores: dict[Label, float]
    flagged: list[Label]
    moderation: Moderation
    explanation: dict[Label, list[Span]] | None = None


class BatchResponse(BaseModel):
    model_version: str
    count: int
    predictions: list[Prediction]


class FeedbackAccepted(BaseModel):
    feedback_id: UUID
    prediction_id: UUID | None
    model_version: str
    true_labels: dict[Label, bool]


class ModelResponse(BaseModel):
    name: str
    version: str
    created_at: datetime
    loaded_at: datetime
    thresholds: dict[Label, float]
    metrics: dict[Label, LabelMetrics]
    training_data_digest: str
    row_counts: RowCounts
    mlflow_run_id: str | None
    sha256: str


class ExampleResponse(BaseModel):
    text: str
    labels: dict[Label, bool]
    model_version: str
    dataset_digest: str


class ReviewOut(BaseModel):
    prediction_id: UUID
    created_at: datetime
    status: ReviewStatus
    priority: ReviewPriority
    model_version: str
    scores: dict[Label, float]
    flagged: list[Label]
    text: str | None
    context: str | None
    resolved_at: datetime | None = None
    moderator_action: ModeratorAction | None = None
    true_labels: dict[Label, bool] = Field(default_factory=dict)


class ReviewList(BaseModel):
    items: list[ReviewOut]
    more: bool = Field(description="More items match than `limit` returned.")


class ReviewStatsOut(BaseModel):
    pending: int
    pending_by_priority: dict[ReviewPriority, int]
    reviewed: int
    actions: dict[str, int]


class RetrainAccepted(BaseModel):
    request_id: UUID
