"""An in-memory ``MonitoringReader``: what the monitoring and the logger would have stored.

Tests fill it the way the services write: rollup increments from
``shared.monitoring.rollups.prediction_increments`` / ``feedback_increments`` through :meth:`add`,
records and items through the other ``put_`` methods. Reads follow the DynamoDB adapter's rules
(ranges inclusive and in bucket order, newest first where it says so, limits honoured).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts import Decision, Label, ModeratorAction
from shared.items import FeedbackItem, ModelItem, ReviewItem, ReviewStatus
from shared.monitoring.reader import ModelHistoryEntry
from shared.monitoring.records import (
    ActiveAlert,
    BaselineItem,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    QueueDepth,
    ReplicaHealth,
    RetrainClaim,
    TrainingOutcomeItem,
    ViewItem,
)
from shared.monitoring.rollups import (
    BucketKey,
    Counters,
    feedback_increments,
    prediction_increments,
)
from tests import factories

__all__ = ["MODEL_NAME", "VERSION", "InMemoryMonitoringReader", "Sample", "sample_reader"]


def _sk(entry: ModelHistoryEntry) -> str:
    return entry.sk


@dataclass
class InMemoryMonitoringReader:
    """Every table the dashboard reads, as dicts and lists; ``reads`` counts the calls."""

    items: dict[BucketKey, Counters] = field(default_factory=dict)
    baselines: dict[str, BaselineItem] = field(default_factory=dict)
    current: CurrentModel | None = None
    alerts: dict[str, ActiveAlert] = field(default_factory=dict)
    history_of_firings: list[FiringRecord] = field(default_factory=list)
    claims: dict[str, RetrainClaim] = field(default_factory=dict)
    health: PipelineHealth | None = None
    models: list[ModelHistoryEntry] = field(default_factory=list)
    feedback: list[FeedbackItem] = field(default_factory=list)
    reviews: list[ReviewItem] = field(default_factory=list)
    stored_view: ViewItem | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    reads: int = 0

    # --- filling -------------------------------------------------------------------------------

    def add(self, increments: Mapping[BucketKey, Mapping[str, Decimal]]) -> None:
        """Add counter increments as the monitoring's commit does."""
        for key, counters in increments.items():
            into = self.items.setdefault(key, {})
            for name, delta in counters.items():
                into[name] = into.get(name, Decimal(0)) + delta

    def add_all(self, many: Iterable[Mapping[BucketKey, Mapping[str, Decimal]]]) -> None:
        for increments in many:
            self.add(increments)

    def put_models(self, *entries: ModelItem | TrainingOutcomeItem) -> None:
        self.models.extend(entries)

    # --- MonitoringReader ----------------------------------------------------------------------

    async def rollups(
        self,
        granularity: str,
        model_version: str,
        first: str,
        last: str,
        attributes: Sequence[str] | None = None,
    ) -> list[tuple[str, Counters]]:
        self.reads += 1
        pk = f"{granularity}#{model_version}"
        keep = None if attributes is None else set(attributes)
        return sorted(
            (key.sk, {n: v for n, v in counters.items() if keep is None or n in keep})
            for key, counters in self.items.items()
            if key.pk == pk and first <= key.sk <= last
        )

    async def baseline(self, model_version: str) -> BaselineItem | None:
        self.reads += 1
        return self.baselines.get(model_version)

    async def current_model(self) -> CurrentModel | None:
        self.reads += 1
        return self.current

    async def view(self) -> ViewItem | None:
        self.reads += 1
        return self.stored_view

    async def active_alerts(self) -> list[ActiveAlert]:
        self.reads += 1
        return [self.alerts[rule] for rule in sorted(self.alerts)]

    async def firings(self, limit: int) -> list[FiringRecord]:
        self.reads += 1
        newest = sorted(self.history_of_firings, key=lambda r: r.sk, reverse=True)
        return newest[:limit]

    async def retrain_claims(self) -> list[RetrainClaim]:
        self.reads += 1
        return [self.claims[reason] for reason in sorted(self.claims)]

    async def pipeline_health(self) -> PipelineHealth | None:
        self.reads += 1
        return self.health

    async def model_history(self, model_name: str, limit: int) -> list[ModelHistoryEntry]:
        self.reads += 1
        mine = [entry for entry in self.models if entry.model_name == model_name]
        return sorted(mine, key=_sk, reverse=True)[:limit]

    async def recent_feedback(self, limit: int, days: int) -> list[FeedbackItem]:
        self.reads += 1
        since = (self.now.astimezone(UTC) - timedelta(days=days - 1)).date()
        recent = [row for row in self.feedback if row.created_at.date() >= since]
        return sorted(recent, key=lambda row: row.created_at, reverse=True)[:limit]

    async def pending_reviews(self, limit: int) -> list[ReviewItem]:
        self.reads += 1
        pending = [item for item in self.reviews if item.status is ReviewStatus.PENDING]
        return sorted(pending, key=lambda item: item.queue_key)[:limit]


# --- a populated deployment ---------------------------------------------------------------------

MODEL_NAME = "toxic-comment-classifier"
VERSION = "7"


@dataclass(frozen=True)
class Sample:
    """What :func:`sample_reader` put in: the numbers the page must show."""

    predictions_24h: int
    predictions_30d: int
    toxic_24h: int
    feedback_30d: int


def sample_reader(now: datetime) -> tuple[InMemoryMonitoringReader, Sample]:
    """A deployment with traffic, feedback, models, alerts, health, reviews, all near ``now``."""
    reader = InMemoryMonitoringReader(now=now)
    predictions = []
    for i in range(150):
        toxic = i % 5 == 0  # 30 of 150
        event = factories.prediction_made(
            occurred_at=now - timedelta(minutes=i % 50, seconds=5),
            model_version=VERSION,
            scores=factories.scores(toxic=0.93 if toxic else 0.04, insult=0.6 if toxic else 0.02),
            flagged=(Label.TOXIC,) if toxic else (),
            decision=Decision.REJECT if toxic else Decision.ALLOW,
            latency_ms=float(3 + i % 40),
        )
        predictions.append(event)
        reader.add(prediction_increments(event, lag_seconds=0.3))
    old = factories.prediction_made(occurred_at=now - timedelta(days=10), model_version="6")
    reader.add(prediction_increments(old))
    # Feedback on the toxic ones: 4 right (toxic), 2 wrong; on clean ones: 3 right, 1 wrong.
    verdicts = [(p, True) for p in predictions[0:30:5][:4]]
    verdicts += [(p, False) for p in predictions[0:30:5][4:6]]
    verdicts += [(p, False) for p in predictions[1:4]] + [(predictions[4], True)]
    for prediction, truth in verdicts:
        feedback = factories.feedback_given(
            occurred_at=now - timedelta(minutes=2),
            prediction_id=prediction.prediction_id,
            model_version=VERSION,
            true_labels={Label.TOXIC: truth},
        )
        reader.add(feedback_increments(feedback, prediction.flagged))
        reader.feedback.append(FeedbackItem.from_event(feedback))
    moderator = factories.moderator_decision(
        predictions[0],
        occurred_at=now - timedelta(minutes=1),
        moderator_action=ModeratorAction.REMOVE,
    )
    reader.feedback.append(FeedbackItem.from_event(moderator))
    published = factories.model_published(
        model_name=MODEL_NAME, model_version=VERSION, occurred_at=now - timedelta(days=2)
    )
    reader.current = CurrentModel(
        model_name=MODEL_NAME, model_version=VERSION, published_at=published.occurred_at
    )
    reader.baselines[VERSION] = BaselineItem.from_event(published)
    previous = factories.model_published(
        model_name=MODEL_NAME, model_version="6", occurred_at=now - timedelta(days=20)
    )
    reader.put_models(
        ModelItem.from_event(previous),
        ModelItem.from_event(published),
        TrainingOutcomeItem.from_event(
            factories.model_rejected(model_name=MODEL_NAME, occurred_at=now - timedelta(days=1))
        ),
        TrainingOutcomeItem.from_event(
            factories.training_failed(model_name=MODEL_NAME, occurred_at=now - timedelta(hours=3))
        ),
    )
    reader.alerts["toxic_rate"] = ActiveAlert(
        rule="toxic_rate",
        severity="warning",
        message="toxic rate 20.0% over 150 predictions is above 10.0%",
        value=0.2,
        threshold=0.1,
        since=now - timedelta(minutes=30),
        seen_at=now - timedelta(minutes=1),
    )
    reader.history_of_firings.append(
        FiringRecord(
            rule="feedback_accuracy",
            severity="error",
            message="feedback accuracy 70.0% is below 80.0%",
            value=0.7,
            threshold=0.8,
            at=now - timedelta(hours=2),
            retrain_reason="accuracy_drop",
        )
    )
    reader.health = PipelineHealth(
        measured_at=now - timedelta(seconds=20),
        measured_by="monitoring-1",
        queues=(
            QueueDepth(name="t-logger", dead_letter=False, visible=4, in_flight=2, delayed=0),
            QueueDepth(name="t-logger-dlq", dead_letter=True, visible=3, in_flight=0, delayed=0),
        ),
        replicas=(
            ReplicaHealth(
                instance="api-1",
                endpoint="http://127.0.0.1:8000",
                ready=True,
                outbox_depth=12,
                model_version=VERSION,
            ),
        ),
        consumer_lag_seconds=0.8,
    )
    queued = factories.prediction_made(
        occurred_at=now - timedelta(minutes=3),
        decision=Decision.REVIEW,
        text="a comment waiting for a moderator",
    )
    reader.reviews.append(ReviewItem.from_prediction(queued))
    return reader, Sample(
        predictions_24h=150, predictions_30d=151, toxic_24h=30, feedback_30d=len(verdicts)
    )
