"""What one event adds to the rollups, and reading percentiles back from a histogram."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from contracts import Decision, FeedbackSource, Label, ModeratorAction, PredictionMade
from shared.monitoring.rollups import (
    COUNTERS,
    LAG_EDGES_S,
    LATENCY_EDGES_MS,
    RETENTION,
    SCORE_EDGES,
    TEXT_LENGTH_EDGES,
    BucketKey,
    bucket_keys,
    expires_at,
    feedback_counters,
    feedback_increments,
    histogram,
    latency_percentile,
    merge,
    percentile,
    prediction_counters,
    prediction_increments,
)
from tests import factories

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 30, 3, 48, 27, tzinfo=UTC)


def test_an_event_adds_to_its_minute_hour_and_day_for_its_version_and_for_all() -> None:
    assert bucket_keys("7", AT) == [
        BucketKey("minute#7", "2026-11-30T03:48"),
        BucketKey("minute#*", "2026-11-30T03:48"),
        BucketKey("hour#7", "2026-11-30T03"),
        BucketKey("hour#*", "2026-11-30T03"),
        BucketKey("day#7", "2026-11-30"),
        BucketKey("day#*", "2026-11-30"),
    ]


def test_buckets_are_utc_whatever_the_events_offset() -> None:
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    assert bucket_keys("7", local) == bucket_keys("7", AT)


def test_a_scored_comment_counts_its_decision_flags_scores_and_histogram_bins() -> None:
    event = factories.prediction_made(
        scores=factories.scores(toxic=0.93, insult=0.6),
        flagged=(Label.TOXIC, Label.INSULT),
        decision=Decision.REJECT,
        latency_ms=7.5,
        text="x" * 40,
    )

    counters = prediction_counters(event)

    one = Decimal(1)
    assert counters["predictions"] == one
    assert counters["decision_reject"] == one
    assert counters["flagged_toxic"] == counters["flagged_insult"] == one
    assert "flagged_threat" not in counters
    assert counters["score_sum_toxic"] == Decimal("0.93")
    assert counters["score_sum_threat"] == Decimal("0.01")
    assert counters["top_score_9"] == one
    assert counters["score_toxic_9"] == counters["score_insult_6"] == one
    assert counters["score_threat_0"] == one
    assert counters["latency_ms_le_10"] == one
    assert counters["text_length_1"] == one  # 40 characters: [20, 50)


@pytest.mark.parametrize(
    ("top", "bin_name"), [(0.0, "top_score_0"), (0.1, "top_score_1"), (1.0, "top_score_9")]
)
def test_the_top_score_falls_in_one_of_ten_bins(top: float, bin_name: str) -> None:
    counters = prediction_counters(factories.prediction_made(scores=factories.scores(top)))
    assert [name for name in counters if name.startswith("top_score_")] == [bin_name]


@pytest.mark.parametrize(
    ("length", "bin_name"),
    [(0, "text_length_0"), (20, "text_length_1"), (100_000, "text_length_8")],
)
def test_text_lengths_fall_in_the_training_baselines_bins(length: int, bin_name: str) -> None:
    counters = prediction_counters(factories.prediction_made(text=None, text_length=length))
    assert [name for name in counters if name.startswith("text_length_")] == [bin_name]


def test_an_items_counters_read_back_as_a_histogram_drift_can_compare() -> None:
    events = [
        factories.prediction_made(scores=factories.scores(toxic=s)) for s in (0.05, 0.55, 0.58, 1.0)
    ]
    item = merge(prediction_increments(e) for e in events)[
        bucket_keys("7", events[0].occurred_at)[0]
    ]

    toxic = histogram(item, "score_toxic_", SCORE_EDGES)

    assert toxic.edges == SCORE_EDGES
    assert toxic.counts == (1, 0, 0, 0, 0, 2, 0, 0, 0, 1)
    lengths = histogram(item, "text_length_", TEXT_LENGTH_EDGES)
    assert sum(lengths.counts) == 4


def test_a_latency_beyond_the_last_edge_counts_in_the_open_bin() -> None:
    counters = prediction_counters(factories.prediction_made(latency_ms=5_000))
    assert counters["latency_ms_le_inf"] == Decimal(1)


def test_every_item_of_an_event_gets_the_same_counters() -> None:
    event = factories.prediction_made()
    increments = prediction_increments(event)
    assert len(increments) == 6
    assert all(counters == prediction_counters(event) for counters in increments.values())


def test_merged_increments_sum_per_item_and_counter() -> None:
    first = prediction_increments(factories.prediction_made(occurred_at=AT))
    second = prediction_increments(
        factories.prediction_made(occurred_at=AT, scores=factories.scores(0.2))
    )

    total = merge([first, second])

    minute = total[BucketKey("minute#*", "2026-11-30T03:48")]
    assert minute["predictions"] == 2
    assert minute["score_sum_toxic"] == Decimal("0.21")


def test_feedback_confusion_compares_the_judged_labels_with_the_flags() -> None:
    feedback = factories.feedback_given(
        true_labels={
            Label.TOXIC: True,
            Label.INSULT: False,
            Label.THREAT: True,
            Label.OBSCENE: False,
        }
    )

    counters = feedback_counters(feedback, flagged=(Label.TOXIC, Label.INSULT))

    assert counters["tp_toxic"] == 1
    assert counters["fp_insult"] == 1
    assert counters["fn_threat"] == 1
    assert counters["tn_obscene"] == 1
    assert counters["feedback"] == counters["feedback_user"] == 1
    assert not any(name.endswith("_identity_hate") for name in counters)  # not judged


def test_a_moderators_approval_judges_every_label_not_toxic() -> None:
    prediction = factories.prediction_made(flagged=(Label.TOXIC,))
    approval = factories.moderator_decision(
        prediction, moderator_action=ModeratorAction.APPROVE, true_labels={}
    )

    counters = feedback_counters(approval, flagged=prediction.flagged)

    assert counters["fp_toxic"] == 1
    assert sum(1 for name in counters if name.startswith("tn_")) == 5


def test_feedback_without_a_prediction_counts_only_as_volume() -> None:
    suggestion = factories.feedback_given(
        prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE, text="you clown"
    )

    assert feedback_counters(suggestion, flagged=None) == {
        "feedback": 1,
        "feedback_perspective": 1,
        "feedback_unmatched": 1,
    }


def test_a_percentile_interpolates_inside_its_bin() -> None:
    edges = (1.0, 2.0, 5.0, 10.0, math.inf)
    counts = [0, 0, 10, 0, 0]

    assert percentile(counts, edges, 0.5) == pytest.approx(3.5)
    assert percentile(counts, edges, 1.0) == pytest.approx(5.0)


def test_percentiles_of_a_latency_histogram() -> None:
    item: dict[str, object] = {
        "latency_ms_le_5": Decimal(90),
        "latency_ms_le_50": Decimal(9),
        "latency_ms_le_inf": Decimal(1),
    }

    assert latency_percentile(item, 0.5) == pytest.approx(2 + 3 * 50 / 90)
    assert latency_percentile(item, 0.95) == pytest.approx(20 + 30 * 5 / 9)
    assert latency_percentile(item, 0.999) == LATENCY_EDGES_MS[-2]  # a lower bound: >1 s
    assert latency_percentile({}, 0.5) is None


def test_a_quantile_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="q must be"):
        percentile([1], (1.0,), 0)


def test_live_bins_are_the_training_baselines_bins() -> None:
    # The services share no code; this keeps the two definitions from drifting apart.
    from services.training.quality import LENGTH_EDGES
    from services.training.quality import SCORE_EDGES as TRAINING_SCORE_EDGES

    assert SCORE_EDGES == TRAINING_SCORE_EDGES
    assert tuple(map(float, LENGTH_EDGES)) == TEXT_LENGTH_EDGES


def test_minute_and_hour_items_expire_and_day_items_are_kept() -> None:
    minute, hour, day = (
        BucketKey(f"{g}#*", b)
        for g, b in (
            ("minute", "2026-11-30T03:48"),
            ("hour", "2026-11-30T03"),
            ("day", "2026-11-30"),
        )
    )

    assert expires_at(minute) == int(datetime(2026, 12, 8, 3, 48, tzinfo=UTC).timestamp())
    assert expires_at(hour) == int(
        (datetime(2026, 11, 30, 3, tzinfo=UTC) + RETENTION["hour"]).timestamp()
    )
    assert expires_at(day) is None


def test_counters_name_every_counter_an_event_can_add_once() -> None:
    def predicted(**overrides: Any) -> PredictionMade:
        return factories.prediction_made(
            **({"occurred_at": AT, "text": None, "text_length": 10} | overrides)
        )

    predictions = [
        *(predicted(scores=factories.scores(0.05 + i / 10)) for i in range(10)),
        *(predicted(decision=decision) for decision in Decision),
        *(predicted(latency_ms=min(edge, 5_000.0)) for edge in LATENCY_EDGES_MS),
        *(predicted(text_length=int(edge)) for edge in TEXT_LENGTH_EDGES[:-1]),
        predicted(flagged=tuple(Label)),
    ]
    lags = [min(edge, 1e6) for edge in LAG_EDGES_S]
    feedback = [
        factories.feedback_given(
            occurred_at=AT,
            feedback_source=source,
            true_labels=labels,
            moderator_action=ModeratorAction.REMOVE if source is FeedbackSource.MODERATOR else None,
        )
        for source in FeedbackSource
        for labels in (dict.fromkeys(Label, True), dict.fromkeys(Label, False))
    ]
    increments = [
        *(prediction_increments(e) for e in predictions),
        *(prediction_increments(predictions[0], lag_seconds=lag) for lag in lags),
        *(feedback_increments(e, flags) for e in feedback for flags in (None, (), tuple(Label))),
    ]

    added = {name for one in increments for counters in one.values() for name in counters}

    assert len(set(COUNTERS)) == len(COUNTERS)
    assert added == set(COUNTERS)
