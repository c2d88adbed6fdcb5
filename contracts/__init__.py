"""The only vocabulary shared between services: events, their envelope and their codec."""

from contracts.codec import EVENT_TYPES, ContractError, Event, decode, encode
from contracts.envelope import SCHEMA_MAJOR, Envelope, Source, utc_now
from contracts.events import (
    DriftBaseline,
    FeedbackGiven,
    Histogram,
    LabelMetrics,
    ModelPublished,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    RowCounts,
    TrainingFailed,
)
from contracts.vocabulary import (
    LABELS,
    Channel,
    Decision,
    FeedbackSource,
    Label,
    ModeratorAction,
    RetrainReason,
    ReviewPriority,
)

__all__ = [
    "EVENT_TYPES",
    "LABELS",
    "SCHEMA_MAJOR",
    "Channel",
    "ContractError",
    "Decision",
    "DriftBaseline",
    "Envelope",
    "Event",
    "FeedbackGiven",
    "FeedbackSource",
    "Histogram",
    "Label",
    "LabelMetrics",
    "ModelPublished",
    "ModelRejected",
    "ModeratorAction",
    "PredictionMade",
    "RetrainReason",
    "RetrainRequested",
    "ReviewPriority",
    "RowCounts",
    "Source",
    "TrainingFailed",
    "decode",
    "encode",
    "utc_now",
]
