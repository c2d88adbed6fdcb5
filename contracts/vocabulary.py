"""The small enumerations every event speaks in."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "LABELS",
    "Channel",
    "Decision",
    "FeedbackSource",
    "Label",
    "ModeratorAction",
    "RetrainReason",
    "ReviewPriority",
]


class Label(StrEnum):
    """The six toxicity labels of the Jigsaw data, in its column order."""

    TOXIC = "toxic"
    SEVERE_TOXIC = "severe_toxic"
    OBSCENE = "obscene"
    THREAT = "threat"
    INSULT = "insult"
    IDENTITY_HATE = "identity_hate"


LABELS: tuple[Label, ...] = tuple(Label)


class Decision(StrEnum):
    """The moderation decision for a scored comment."""

    ALLOW = "allow"
    REVIEW = "review"
    REJECT = "reject"


class ReviewPriority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Channel(StrEnum):
    """Which API surface scored the comment."""

    NATIVE = "native"
    BATCH = "batch"
    PERSPECTIVE = "perspective"


class FeedbackSource(StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    PERSPECTIVE = "perspective"


class ModeratorAction(StrEnum):
    """``approve``: not toxic unless labels say otherwise; ``remove``: toxic as labelled."""

    APPROVE = "approve"
    REMOVE = "remove"


class RetrainReason(StrEnum):
    MANUAL = "manual"
    FEEDBACK_VOLUME = "feedback_volume"
    ACCURACY_DROP = "accuracy_drop"
    DRIFT = "drift"
    SCHEDULE = "schedule"
