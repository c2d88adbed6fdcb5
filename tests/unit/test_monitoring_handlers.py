"""The monitoring's handlers against the in-memory store: rollups counted once, batched."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from contracts import Event, FeedbackSource, Label
from contracts.topology import QUEUE_ROUTES
from services.monitoring.batcher import RollupBatcher
from services.monitoring.bootstrap import build_handlers
from services.monitoring.handlers import Dependencies, LagGauge, registry
from services.monitoring.repository import AlreadyCounted, marker_key
from services.monitoring.settings import MonitoringSettings
from shared.bus import HandlerRegistry
from shared.errors import RetryableError
from shared.monitoring.rollups import prediction_increments
from tests import factories
from tests.fakes.monitoring_store import InMemoryMonitoringStore

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 30, 3, 48, 27, tzinfo=UTC)
MINUTE, HOUR, DAY = "2026-11-30T03:48", "2026-11-30T03", "2026-11-30"


@pytest.fixture
def store() -> InMemoryMonitoringStore:
    return InMemoryMonitoringStore()


@pytest.fixture
def handlers(store: InMemoryMonitoringStore) -> HandlerRegistry:
    return build_handlers(MonitoringSettings(batch_delay_ms=5), store)


async def deliver(handlers: HandlerRegistry, *events: Event) -> None:
    """Deliver the events concurrently, as the consumer runs a received batch."""

    async def one(event: Event) -> None:
        for handler in handlers[event.event_type]:
            await handler(event)

    await asyncio.gather(*(one(event) for event in events))


def test_the_monitoring_handles_only_events_routed_to_its_queue(handlers: HandlerRegistry) -> None:
    assert set(handlers) == set(QUEUE_ROUTES["monitoring"])


async def test_a_prediction_counts_in_its_minute_hour_and_day_for_its_version_and_all(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    await deliver(handlers, factories.prediction_made(occurred_at=AT, model_version="7"))

    for pk, sk in [("minute", MINUTE), ("hour", HOUR), ("day", DAY)]:
        assert store.counter(f"{pk}#7", sk, "predictions") == 1
        assert store.counter(f"{pk}#*", sk, "predictions") == 1
    assert len(store.buckets) == 6


async def test_concurrent_events_share_one_transaction_and_sum_their_counts(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    events = [factories.prediction_made(occurred_at=AT) for _ in range(10)]

    await deliver(handlers, *events)

    assert store.commits == [10]
    assert store.counter("minute#*", MINUTE, "predictions") == 10
    assert store.counter("day#7", DAY, "score_sum_toxic") == Decimal("0.1")


async def test_a_duplicate_event_counts_once(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    event = factories.prediction_made(occurred_at=AT)

    await deliver(handlers, event, event)  # twice in one window
    await deliver(handlers, event)  # and redelivered later

    assert store.counter("minute#*", MINUTE, "predictions") == 1
    assert marker_key(event.event_id) in store.markers


async def test_a_batch_holding_an_event_counted_before_counts_the_others(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    counted = factories.prediction_made(occurred_at=AT)
    await deliver(handlers, counted)
    fresh = [factories.prediction_made(occurred_at=AT) for _ in range(3)]

    await deliver(handlers, counted, *fresh)

    assert store.counter("hour#*", HOUR, "predictions") == 4
    assert store.commits == [1, 3]


async def test_a_batch_never_exceeds_a_transactions_item_limit(
    store: InMemoryMonitoringStore,
) -> None:
    handlers = build_handlers(MonitoringSettings(batch_delay_ms=5, batch_items=20), store)
    # Every event in its own minute: one marker and four new items each (hour and day shared).
    events = [
        factories.prediction_made(occurred_at=AT.replace(minute=m, second=0)) for m in range(12)
    ]

    await deliver(handlers, *events)

    assert sum(store.commits) == 12
    assert len(store.commits) > 1
    assert max(store.sizes) <= 20
    assert store.counter("day#*", DAY, "predictions") == 12


async def test_a_failed_transaction_fails_its_handlers_and_the_redelivery_counts_once(
    store: InMemoryMonitoringStore,
) -> None:
    batcher = RollupBatcher(store, max_delay=0.005, attempts=2)
    handlers = registry(Dependencies(store=store, batcher=batcher))
    events = [factories.prediction_made(occurred_at=AT) for _ in range(3)]
    store.fail_next = 2

    with pytest.raises(RetryableError):
        await deliver(handlers, *events)
    assert store.buckets == {}

    await deliver(handlers, *events)
    assert store.counter("minute#*", MINUTE, "predictions") == 3


async def test_a_conflict_is_retried_within_the_batch(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    store.fail_next = 1

    await deliver(handlers, factories.prediction_made(occurred_at=AT))

    assert store.counter("minute#*", MINUTE, "predictions") == 1


async def test_feedback_counts_confusion_against_its_logged_prediction(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    prediction = factories.prediction_made(occurred_at=AT, flagged=(Label.TOXIC,))
    store.logged(prediction)
    feedback = factories.feedback_given(
        prediction_id=prediction.prediction_id,
        occurred_at=AT,
        true_labels={Label.TOXIC: False, Label.INSULT: True},
    )

    await deliver(handlers, feedback, feedback)

    assert store.counter("minute#7", MINUTE, "fp_toxic") == 1
    assert store.counter("minute#7", MINUTE, "fn_insult") == 1
    assert store.counter("day#*", DAY, "feedback") == 1
    assert store.counter("day#*", DAY, "feedback_user") == 1


async def test_feedback_on_a_prediction_not_logged_yet_is_retried_later(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    prediction = factories.prediction_made(occurred_at=AT, flagged=(Label.TOXIC,))
    feedback = factories.feedback_given(prediction_id=prediction.prediction_id, occurred_at=AT)

    with pytest.raises(RetryableError, match="not logged yet"):
        await deliver(handlers, feedback)
    assert store.buckets == {}

    store.logged(prediction)
    await deliver(handlers, feedback)
    assert store.counter("day#*", DAY, "fp_toxic") == 1


async def test_a_suggestion_without_a_prediction_counts_as_feedback_volume(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    suggestion = factories.feedback_given(
        prediction_id=None,
        feedback_source=FeedbackSource.PERSPECTIVE,
        text="you clown",
        occurred_at=AT,
    )

    await deliver(handlers, suggestion)

    assert store.buckets[next(iter(store.buckets))] == {
        "feedback": 1,
        "feedback_perspective": 1,
        "feedback_unmatched": 1,
    }


async def test_a_published_models_baseline_is_stored_once(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    first = factories.model_published(model_version="12")
    again = factories.model_published(model_version="12", baseline=factories.drift_baseline(rows=5))

    await deliver(handlers, first)
    await deliver(handlers, again)

    stored = store.baselines["baseline#12"]
    assert stored.event_id == first.event_id
    assert stored.baseline_json == first.baseline.model_dump_json()


async def test_counted_buckets_read_back_by_granularity_version_and_range(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    await deliver(handlers, *(factories.prediction_made(occurred_at=AT) for _ in range(2)))
    await deliver(handlers, factories.prediction_made(occurred_at=AT.replace(minute=59)))

    minutes = await store.rollups("minute", "*", "2026-11-30T03:00", "2026-11-30T03:50")

    assert [(bucket, int(counters["predictions"])) for bucket, counters in minutes] == [(MINUTE, 2)]
    [(_, counters)] = await store.rollups("hour", "7", HOUR, HOUR)
    assert counters["predictions"] == 3


async def test_a_store_that_names_no_event_of_the_batch_fails_it_instead_of_looping() -> None:
    class Confused(InMemoryMonitoringStore):
        async def commit(self, event_ids: Any, increments: Any) -> None:
            raise AlreadyCounted(frozenset({uuid4()}))

    batcher = RollupBatcher(Confused(), max_delay=0.001)
    event = factories.prediction_made()

    with pytest.raises(AlreadyCounted):
        await asyncio.wait_for(batcher.count(event.event_id, prediction_increments(event)), 1)


async def test_rejected_and_failed_runs_join_the_model_history_once(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    rejected = factories.model_rejected(occurred_at=AT)
    failed = factories.training_failed(occurred_at=AT)

    await deliver(handlers, rejected, failed, rejected)

    history = await store.model_history(rejected.model_name, 10)
    assert sorted(entry.outcome for entry in history) == ["failed", "rejected"]
    [entry] = [e for e in history if e.outcome == "rejected"]
    assert entry.reasons == rejected.reasons
    assert entry.candidate_version == rejected.candidate_version


async def test_only_a_newer_publication_becomes_the_current_model(
    handlers: HandlerRegistry, store: InMemoryMonitoringStore
) -> None:
    newer = factories.model_published(model_version="8", occurred_at=AT)
    older = factories.model_published(model_version="7", occurred_at=AT.replace(hour=1))

    await deliver(handlers, newer)
    await deliver(handlers, older)

    current = await store.current_model()
    assert current is not None
    assert current.model_version == "8"
    assert set(store.baselines) == {"baseline#7", "baseline#8"}


async def test_a_prediction_adds_how_late_it_was_handled(store: InMemoryMonitoringStore) -> None:
    lag = LagGauge()
    handlers = registry(
        Dependencies(
            store=store,
            batcher=RollupBatcher(store, max_delay=0.005, max_items=100),
            clock=lambda: AT + timedelta(seconds=3),
            lag=lag,
        )
    )

    await deliver(handlers, factories.prediction_made(occurred_at=AT))

    assert store.counter("minute#*", MINUTE, "lag_s_le_5") == 1
    assert (lag.seconds, lag.observed_at) == (3.0, AT + timedelta(seconds=3))
