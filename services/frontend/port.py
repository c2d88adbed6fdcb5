"""The API as the frontend needs it: one Protocol, and the one error every call may raise.

``HttpToxicApi`` (``client.py``) implements it over HTTP; ``tests/fakes/frontend_api.py`` in
memory. Every failure, whatever its cause, reaches the app as an :class:`ApiCallError` whose
``message`` a person can read: the app shows it and carries on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from uuid import UUID

from contracts import Label, ModeratorAction
from services.frontend.models import (
    BatchResult,
    Example,
    FeedbackReceipt,
    Prediction,
    ReviewPage,
)
from shared.errors import PlatformError

__all__ = ["ApiCallError", "ToxicApi"]


class ApiCallError(PlatformError):
    """The API could not be reached or refused a call; ``message`` says so in plain words.

    ``status`` is the HTTP status (None when there was no answer); ``retry_after`` the seconds
    the API asked the caller to wait (429, 503).
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class ToxicApi(Protocol):
    """The calls the frontend makes; ``key`` overrides the configured API key for one call."""

    def predict(self, text: str, *, key: str | None = None) -> Prediction:
        """Score one comment, with the n-grams that drove each score."""
        ...

    def feedback_correct(
        self, prediction_id: UUID, *, note: str | None = None, key: str | None = None
    ) -> FeedbackReceipt:
        """Say the prediction's flagged labels were right."""
        ...

    def feedback_labels(
        self,
        prediction_id: UUID,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        """Give the true labels of a scored comment."""
        ...

    def random_example(self, *, key: str | None = None) -> Example:
        """A comment of the serving model's training set."""
        ...

    def score_batch(self, texts: Sequence[str], *, key: str | None = None) -> BatchResult:
        """Score up to the API's batch limit of comments in one call."""
        ...

    def review_queue(self, *, limit: int, key: str | None = None) -> ReviewPage:
        """Pending reviews, high priority first, then oldest first (moderator key)."""
        ...

    def moderate(
        self,
        prediction_id: UUID,
        action: ModeratorAction,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        """Approve or remove a comment of the review queue (moderator key)."""
        ...
