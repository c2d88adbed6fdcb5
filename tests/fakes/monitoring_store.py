"""The monitoring's store in memory, with the all-or-nothing commit of its DynamoDB adapter.

One object plays the three ports the monitoring uses: its store (rollups, baselines, model
history), its alert store (alerts, retrain claims, health) and the reader over them.

A commit that finds markers of some of its events raises AlreadyCounted naming them all and
writes nothing, as a cancelled transaction does. ``fail_next`` makes the next commits raise
RetryableError (a conflict or throttling); ``predictions`` holds what the logger would have
stored: prediction id -> flagged labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from contracts import Label, PredictionMade
from services.monitoring.repository import AlreadyCounted, marker_key
from shared.errors import RetryableError
from shared.items import FeedbackItem, ModelItem, ReviewItem, ReviewStatus
from shared.monitoring.reader import ModelHistoryEntry
from shared.monitoring.records import (
    ActiveAlert,
    BaselineItem,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    RetrainClaim,
    TrainingOutcomeItem,
    ViewItem,
)
from shared.monitoring.rollups import BucketKey, Counters

__all__ = ["InMemoryMonitoringStore"]


class InMemoryMonitoringStore:
    def __init__(self) -> None:
        self.markers: set[str] = set()
        self.buckets: dict[BucketKey, Counters] = {}
        self.predictions: dict[UUID, tuple[Label, ...]] = {}
        self.baselines: dict[str, BaselineItem] = {}
        self.current: CurrentModel | None = None
        self.outcomes: dict[str, TrainingOutcomeItem] = {}
        self.published: list[ModelItem] = []
        self.active: dict[str, ActiveAlert] = {}
        self.history: dict[str, FiringRecord] = {}
        self.claims: dict[str, RetrainClaim] = {}
        self.health: PipelineHealth | None = None
        self.stored_view: ViewItem | None = None
        self.feedback: list[FeedbackItem] = []
        self.reviews: list[ReviewItem] = []
        self.commits: list[int] = []
        """Events per committed transaction, in order."""
        self.sizes: list[int] = []
        """Items (markers and counter updates) per committed transaction."""
        self.fail_next = 0
        self.rollup_reads: list[tuple[str, str, str]] = []
        """(pk, first, last) of every rollups read, in order."""
        self.whole_reads: list[tuple[str, str, str]] = []
        """The same of the reads of every counter (no projection)."""

    async def commit(
        self, event_ids: Sequence[UUID], increments: Mapping[BucketKey, Counters]
    ) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RetryableError("the fake transaction conflicted")
        if len(set(event_ids)) != len(event_ids):
            raise ValueError("a transaction may not name one marker twice")
        counted = frozenset(e for e in event_ids if marker_key(e) in self.markers)
        if counted:
            raise AlreadyCounted(counted)
        self.markers |= {marker_key(e) for e in event_ids}
        for key, counters in increments.items():
            into = self.buckets.setdefault(key, {})
            for name, delta in counters.items():
                into[name] = into.get(name, Decimal(0)) + delta
        self.commits.append(len(event_ids))
        self.sizes.append(len(event_ids) + len(increments))

    async def prediction_flags(self, prediction_id: UUID) -> tuple[Label, ...] | None:
        return self.predictions.get(prediction_id)

    async def rollups(
        self,
        granularity: str,
        model_version: str,
        first: str,
        last: str,
        attributes: Sequence[str] | None = None,
    ) -> list[tuple[str, Counters]]:
        pk = f"{granularity}#{model_version}"
        keep = None if attributes is None else set(attributes)
        self.rollup_reads.append((pk, first, last))
        if attributes is None:
            self.whole_reads.append((pk, first, last))
        return sorted(
            (key.sk, {n: v for n, v in counters.items() if keep is None or n in keep})
            for key, counters in self.buckets.items()
            if key.pk == pk and first <= key.sk <= last
        )

    async def baseline(self, model_version: str) -> BaselineItem | None:
        return self.baselines.get(f"baseline#{model_version}")

    async def put_baseline(self, item: BaselineItem) -> bool:
        if item.pk in self.baselines:
            return False
        self.baselines[item.pk] = item
        return True

    async def put_current_model(self, item: CurrentModel) -> bool:
        if self.current is not None and self.current.published_at >= item.published_at:
            return False
        self.current = item
        return True

    async def put_outcome(self, item: TrainingOutcomeItem) -> bool:
        if item.sk in self.outcomes:
            return False
        self.outcomes[item.sk] = item
        return True

    # --- the alert store ------------------------------------------------------------------

    async def claim_retrain(self, claim: RetrainClaim, cooldown_start: datetime) -> bool:
        held = self.claims.get(claim.reason)
        if held is not None and held.requested_at > cooldown_start:
            return False
        self.claims[claim.reason] = claim
        return True

    async def release_retrain(self, claim: RetrainClaim) -> None:
        held = self.claims.get(claim.reason)
        if held is not None and held.request_id == claim.request_id:
            del self.claims[claim.reason]

    async def put_active(self, alert: ActiveAlert) -> None:
        self.active[alert.rule] = alert

    async def clear_active(self, rule: str) -> None:
        self.active.pop(rule, None)

    async def add_firing(self, record: FiringRecord) -> None:
        self.history[record.sk] = record

    async def put_health(self, health: PipelineHealth) -> None:
        self.health = health

    async def put_view(self, item: ViewItem) -> bool:
        if self.stored_view is not None and self.stored_view.built_at >= item.built_at:
            return False
        self.stored_view = item
        return True

    # --- the reader -----------------------------------------------------------------------

    async def current_model(self) -> CurrentModel | None:
        return self.current

    async def view(self) -> ViewItem | None:
        return self.stored_view

    async def active_alerts(self) -> list[ActiveAlert]:
        return [self.active[rule] for rule in sorted(self.active)]

    async def firings(self, limit: int) -> list[FiringRecord]:
        return [self.history[sk] for sk in sorted(self.history, reverse=True)][:limit]

    async def retrain_claims(self) -> list[RetrainClaim]:
        return [self.claims[reason] for reason in sorted(self.claims)]

    async def pipeline_health(self) -> PipelineHealth | None:
        return self.health

    async def model_history(self, model_name: str, limit: int) -> list[ModelHistoryEntry]:
        entries: list[ModelHistoryEntry] = [
            *(m for m in self.published if m.model_name == model_name),
            *(o for o in self.outcomes.values() if o.model_name == model_name),
        ]
        return sorted(entries, key=lambda entry: entry.sk, reverse=True)[:limit]

    async def recent_feedback(self, limit: int, days: int) -> list[FeedbackItem]:
        return sorted(self.feedback, key=lambda row: row.created_at, reverse=True)[:limit]

    async def pending_reviews(self, limit: int) -> list[ReviewItem]:
        pending = [r for r in self.reviews if r.status is ReviewStatus.PENDING]
        return sorted(pending, key=lambda r: r.queue_key)[:limit]

    # --- for tests ------------------------------------------------------------------------

    def logged(self, prediction: PredictionMade) -> None:
        """Store the prediction as the logger would."""
        self.predictions[prediction.prediction_id] = prediction.flagged

    def counter(self, pk: str, sk: str, name: str) -> Decimal:
        return self.buckets.get(BucketKey(pk, sk), {}).get(name, Decimal(0))
