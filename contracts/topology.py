"""Who receives what (DESIGN §4): the routing half of the contract between services.

One SNS topic carries every event; each consumer role owns one SQS queue subscribed with a filter
policy on the ``event_type`` message attribute. Concrete names add a deployment prefix
(``<prefix>-events``, ``<prefix>-logger``, ...); ``shared.infra`` builds them from this table.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["EVENT_TYPE_ATTRIBUTE", "PUBLISHERS", "QUEUE_ROUTES", "REPLICA_ROLE", "TOPIC_SUFFIX"]

TOPIC_SUFFIX: Final = "events"

# The SNS message attribute every subscription filters on.
EVENT_TYPE_ATTRIBUTE: Final = "event_type"

# The per-replica API queues are named ``<prefix>-api-<instance>``.
REPLICA_ROLE: Final = "api"

QUEUE_ROUTES: Final = MappingProxyType(
    {
        "logger": ("PredictionMade", "FeedbackGiven", "ModelPublished"),
        "monitoring": (
            "PredictionMade",
            "FeedbackGiven",
            "ModelPublished",
            "ModelRejected",
            "TrainingFailed",
        ),
        "training": ("RetrainRequested",),
        REPLICA_ROLE: ("ModelPublished",),
    }
)

# Who publishes what on the topic (DESIGN §3); the receiving half is QUEUE_ROUTES.
PUBLISHERS: Final = MappingProxyType(
    {
        "api": ("PredictionMade", "FeedbackGiven", "RetrainRequested"),
        "monitoring": ("RetrainRequested",),
        "training": ("ModelPublished", "ModelRejected", "TrainingFailed"),
    }
)
