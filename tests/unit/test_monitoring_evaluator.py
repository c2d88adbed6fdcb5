"""The rule evaluation over rollups the real handlers counted, with the in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from contracts import Envelope, Event, FeedbackSource, Label, RetrainRequested
from contracts.vocabulary import RetrainReason
from services.monitoring.bootstrap import build_evaluator, build_handlers
from services.monitoring.evaluator import Evaluator
from services.monitoring.rules import RuleSettings
from services.monitoring.settings import MonitoringSettings
from shared.bus.memory import InMemoryBroker
from tests import factories
from tests.fakes.monitoring_store import InMemoryMonitoringStore

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 30, 3, 48, 27, tzinfo=UTC)
RULES = RuleSettings(min_feedback=5, min_predictions=5, feedback_volume=1_000)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FailingPublisher:
    def __init__(self) -> None:
        self.attempts = 0

    async def publish(self, events: Sequence[Envelope]) -> None:
        self.attempts += 1
        raise ConnectionError("the bus is unreachable")


async def deliver(store: InMemoryMonitoringStore, *events: Event) -> None:
    handlers = build_handlers(MonitoringSettings(batch_delay_ms=5), store)

    async def one(event: Event) -> None:
        for handler in handlers[event.event_type]:
            await handler(event)

    await asyncio.gather(*(one(event) for event in events))


async def wrongly_flagged(store: InMemoryMonitoringStore, count: int) -> None:
    """``count`` comments flagged toxic that users say are not."""
    predictions = [
        factories.prediction_made(
            occurred_at=AT, scores=factories.scores(toxic=0.95), flagged=(Label.TOXIC,)
        )
        for _ in range(count)
    ]
    await deliver(store, *predictions)
    for prediction in predictions:
        store.logged(prediction)
    await deliver(
        store,
        *(
            factories.feedback_given(prediction_id=p.prediction_id, occurred_at=AT)
            for p in predictions
        ),
    )


def evaluator(
    store: InMemoryMonitoringStore,
    publisher: InMemoryBroker | FailingPublisher,
    clock: Clock,
    rules: RuleSettings = RULES,
) -> Evaluator:
    return build_evaluator(store, store, publisher, rules, "test-1", clock)


def retrains(broker: InMemoryBroker) -> list[RetrainRequested]:
    return [e for e in broker.published if isinstance(e, RetrainRequested)]


async def test_an_accuracy_error_records_a_firing_and_asks_for_one_retrain_per_cooldown() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await wrongly_flagged(store, 8)
    judge = evaluator(store, broker, clock)

    first = await judge.run_once()
    clock.now += timedelta(minutes=5)
    second = await judge.run_once()

    assert first.snapshot.feedback_accuracy == 0.0
    assert first.snapshot.feedback_count == 8
    [request] = retrains(broker)
    assert request.reason is RetrainReason.ACCURACY_DROP
    assert request.requested_by == "monitoring:feedback_accuracy"
    assert first.requested == (request,)
    assert second.requested == ()
    active = {alert.rule: alert for alert in await store.active_alerts()}
    assert set(active) == {"feedback_accuracy", "toxic_rate"}  # every comment was flagged
    assert (active["feedback_accuracy"].severity, active["feedback_accuracy"].since) == (
        "error",
        AT,
    )
    assert active["feedback_accuracy"].seen_at == clock.now
    # The second evaluation changed nothing worth a record: one entry per rule.
    records = {record.rule: record for record in await store.firings(10)}
    assert len(await store.firings(10)) == 2
    assert records["feedback_accuracy"].retrain_request_id == request.request_id
    assert records["toxic_rate"].retrain_request_id is None
    [claim] = await store.retrain_claims()
    assert (claim.reason, claim.request_id) == ("accuracy_drop", request.request_id)


async def test_after_the_cooldown_the_same_reason_asks_again() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await wrongly_flagged(store, 8)
    judge = evaluator(store, broker, clock)

    await judge.run_once()
    clock.now = AT + RULES.retrain_cooldown + timedelta(minutes=1)
    later = await judge.run_once()

    # The day's feedback still judges the model: 6 h later the 24 h window holds it.
    assert len(retrains(broker)) == 2
    assert later.requested == (retrains(broker)[1],)
    asked = [r for r in await store.firings(10) if r.retrain_request_id is not None]
    assert [r.at for r in asked] == [clock.now, AT]


async def test_competing_evaluators_ask_for_a_retrain_once() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await wrongly_flagged(store, 8)

    await asyncio.gather(*(evaluator(store, broker, clock).run_once() for _ in range(3)))

    assert len(retrains(broker)) == 1


async def test_a_failed_publish_gives_the_claim_back_so_the_next_evaluation_asks() -> None:
    store, clock = InMemoryMonitoringStore(), Clock(AT)
    await wrongly_flagged(store, 8)
    failing = FailingPublisher()

    with pytest.raises(ConnectionError):
        await evaluator(store, failing, clock).run_once()
    assert await store.retrain_claims() == []

    broker = InMemoryBroker()
    await evaluator(store, broker, clock).run_once()
    assert [r.reason for r in retrains(broker)] == [RetrainReason.ACCURACY_DROP]


async def test_an_alert_that_stops_firing_is_cleared_but_stays_in_the_history() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await deliver(store, factories.prediction_made(occurred_at=AT))
    judge = evaluator(store, broker, clock)
    await judge.run_once()
    assert [a.rule for a in await store.active_alerts()] == []

    clock.now = AT + timedelta(hours=30)  # nothing in the last 24 h
    quiet = await judge.run_once()
    assert [f.rule for f in quiet.firings] == ["no_predictions"]
    assert [a.rule for a in await store.active_alerts()] == ["no_predictions"]

    await deliver(store, factories.prediction_made(occurred_at=clock.now))
    await judge.run_once()
    assert await store.active_alerts() == []
    assert [r.rule for r in await store.firings(10)] == ["no_predictions"]
    assert retrains(broker) == []


async def test_scores_far_from_the_baseline_fire_drift_and_ask_for_a_retrain() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    published = factories.model_published(model_version="7", occurred_at=AT - timedelta(days=1))
    await deliver(store, published)
    # The baseline has half its rows below 0.5; live traffic scores everything at 0.95.
    await deliver(
        store,
        *(
            factories.prediction_made(
                occurred_at=AT, model_version="7", scores=factories.scores(0.95)
            )
            for _ in range(120)
        ),
    )

    result = await evaluator(store, broker, clock).run_once()

    assert result.snapshot.max_drift_psi is not None
    assert result.snapshot.max_drift_psi > RULES.drift_psi
    assert "drift" in [f.rule for f in result.firings]
    assert RetrainReason.DRIFT in [r.reason for r in retrains(broker)]


async def test_feedback_on_the_current_model_counts_towards_the_volume_rule() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await deliver(
        store, factories.model_published(model_version="7", occurred_at=AT - timedelta(hours=1))
    )
    volume = RuleSettings(feedback_volume=3, min_feedback=1_000, min_predictions=1_000)
    await deliver(
        store,
        *(
            factories.feedback_given(
                prediction_id=None,
                feedback_source=FeedbackSource.PERSPECTIVE,
                text="a suggested score",
                model_version="7",
                occurred_at=AT,
            )
            for _ in range(3)
        ),
    )

    result = await evaluator(store, broker, clock, volume).run_once()

    assert result.snapshot.feedback_since_model == 3
    assert [r.reason for r in retrains(broker)] == [RetrainReason.FEEDBACK_VOLUME]


async def test_feedback_on_a_replaced_model_no_longer_judges_the_new_one() -> None:
    store, broker, clock = InMemoryMonitoringStore(), InMemoryBroker(), Clock(AT)
    await wrongly_flagged(store, 8)  # every one judged wrong, on version 7
    await deliver(store, factories.model_published(model_version="8", occurred_at=AT))

    result = await evaluator(store, broker, clock).run_once()

    assert result.snapshot.feedback_accuracy is None
    assert "feedback_accuracy" not in [f.rule for f in result.firings]
    assert retrains(broker) == []
