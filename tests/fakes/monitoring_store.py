"""The monitoring's store in memory, with the all-or-nothing commit of its DynamoDB adapter.

A commit that finds markers of some of its events raises AlreadyCounted naming them all and
writes nothing, as a cancelled transaction does. ``fail_next`` makes the next commits raise
RetryableError (a conflict or throttling); ``predictions`` holds what the logger would have
stored: prediction id -> flagged labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

from contracts import Label, PredictionMade
from services.monitoring.repository import AlreadyCounted, BaselineItem, marker_key
from services.monitoring.rollups import BucketKey, Counters
from shared.errors import RetryableError

__all__ = ["InMemoryMonitoringStore"]


class InMemoryMonitoringStore:
    def __init__(self) -> None:
        self.markers: set[str] = set()
        self.buckets: dict[BucketKey, Counters] = {}
        self.predictions: dict[UUID, tuple[Label, ...]] = {}
        self.baselines: dict[str, BaselineItem] = {}
        self.commits: list[int] = []
        """Events per committed transaction, in order."""
        self.sizes: list[int] = []
        """Items (markers and counter updates) per committed transaction."""
        self.fail_next = 0

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
        self, granularity: str, model_version: str, first: str, last: str
    ) -> list[tuple[str, Counters]]:
        pk = f"{granularity}#{model_version}"
        return sorted(
            (key.sk, dict(counters))
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

    # --- for tests ------------------------------------------------------------------------

    def logged(self, prediction: PredictionMade) -> None:
        """Store the prediction as the logger would."""
        self.predictions[prediction.prediction_id] = prediction.flagged

    def counter(self, pk: str, sk: str, name: str) -> Decimal:
        return self.buckets.get(BucketKey(pk, sk), {}).get(name, Decimal(0))
