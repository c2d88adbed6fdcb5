"""The dashboard's numbers: page-data loading on the in-memory reader and the pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from pydantic import ValidationError

from contracts import LABELS, Decision, Label, PredictionMade
from services.dashboard.data import MINUTE_COUNTERS, Limits, Window, load_page_data
from services.dashboard.settings import DashboardSettings
from services.dashboard.summaries import (
    drift_rows,
    kpis,
    label_quality,
    label_rows,
    live_drift,
    percentiles,
    total,
    trend,
    version_row,
)
from services.dashboard.tables import (
    confidence_rows,
    history_rows,
    lag_rows,
    quality_rows,
    queue_rows,
    replica_rows,
    version_day_rows,
    version_rows,
)
from shared.items import ModelItem
from shared.monitoring.rollups import (
    COUNTERS,
    LAG_EDGES_S,
    LATENCY_EDGES_MS,
    Counters,
    merge,
    percentile,
    prediction_increments,
)
from shared.monitoring.table import Table
from tests import factories
from tests.fakes.monitoring_reader import (
    MODEL_NAME,
    VERSION,
    InMemoryMonitoringReader,
    sample_reader,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 5, 0, 30, tzinfo=UTC)


async def test_the_page_data_counts_the_last_day_by_minute_and_the_month_by_day() -> None:
    reader, sample = sample_reader(NOW)

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert kpis(data.minutes.total()).predictions == sample.predictions_24h
    assert kpis(data.days.total()).predictions == sample.predictions_30d
    assert data.minutes.first == "2026-11-29T05:01"
    assert [bucket for bucket, _ in data.days.items()] == ["2026-11-20", "2026-11-30"]
    assert data.current is not None
    assert data.current.model_version == VERSION
    assert list(data.version_days) == [VERSION, "6"]
    assert kpis(data.version_days["6"].total()).predictions == 1
    per_day = [(row["day"], row["predictions"]) for row in version_day_rows(data)]
    assert [(day, n) for day, n in per_day if day == datetime(2026, 11, 20, tzinfo=UTC)] == [
        (datetime(2026, 11, 20, tzinfo=UTC), 1)
    ]
    assert data.baseline is not None
    assert kpis(data.live_hours.total()).predictions == sample.predictions_24h
    assert [type(e).__name__ for e in data.history] == [
        "TrainingOutcomeItem",
        "TrainingOutcomeItem",
        "ModelItem",
        "ModelItem",
    ]
    assert len(data.feedback) == 11
    assert data.feedback[0].moderator_action is not None
    assert len(data.reviews) == 1
    assert data.health is not None


async def test_the_minutes_carry_only_what_the_per_minute_charts_draw_and_the_hours_all() -> None:
    reader, sample = sample_reader(NOW)

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert data.minutes.names == MINUTE_COUNTERS
    assert data.hours.names == COUNTERS
    assert "latency_ms_le_50" in MINUTE_COUNTERS
    assert "latency_ms_le_inf" in MINUTE_COUNTERS
    hours = data.hours.total()
    assert kpis(hours).predictions == sample.predictions_24h
    assert "score_toxic_9" in hours
    assert "top_score_9" in hours
    lags = lag_rows(data)
    assert lags
    # Every event was handled 0.3 s after it occurred: the (0.1, 0.5] bin.
    assert all(0.1 < float(str(row["p50 s"])) <= 0.5 for row in lags)


async def test_nothing_stored_loads_an_empty_page_without_a_current_model() -> None:
    reader = InMemoryMonitoringReader(now=NOW)

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert data.empty
    assert data.current is None
    assert data.baseline is None
    assert data.version_days == {}
    assert not data.live_hours.counted
    numbers = kpis(data.minutes.total())
    assert numbers.predictions == 0
    assert numbers.feedback == 0
    assert numbers.toxic_rate is None
    assert numbers.feedback_accuracy is None
    assert numbers.latency_p95_ms is None
    assert drift_rows(None, {}) == ([], "no drift baseline for the current model yet")
    assert lag_rows(data) == []
    assert version_rows(data) == []
    assert history_rows([]) == []
    assert all(row["predictions"] == 0 for row in confidence_rows({}))


async def test_the_lists_stay_within_their_limits() -> None:
    reader, _ = sample_reader(NOW)

    data = await load_page_data(
        reader, NOW, model_name=MODEL_NAME, limits=Limits(feedback_rows=3, versions=1, history=2)
    )

    assert len(data.feedback) == 3
    assert list(data.version_days) == [VERSION]
    assert len(data.history) == 2


async def test_the_baseline_comes_from_the_model_item_when_the_monitoring_has_none() -> None:
    reader, _ = sample_reader(NOW)
    reader.baselines.clear()

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    published = [e for e in data.history if isinstance(e, ModelItem) and e.model_version == VERSION]
    assert data.baseline == published[0].baseline


def test_kpis_give_counts_rates_and_latency_percentiles() -> None:
    reader, sample = sample_reader(NOW)
    counters = total((key.sk, c) for key, c in reader.items.items() if key.pk == "day#*")

    numbers = kpis(counters)

    assert numbers.predictions == sample.predictions_30d
    assert numbers.toxic_rate == pytest.approx(30 / 151)
    assert numbers.feedback == sample.feedback_30d
    assert numbers.feedback_accuracy == pytest.approx(7 / 10)
    assert numbers.decisions[Decision.REJECT] == 30
    assert numbers.decisions[Decision.ALLOW] == 121
    # Latencies 3..42 ms (and one 4.2): the median lies in (20, 50], p99 in the same top bin.
    assert numbers.latency_p50_ms is not None
    assert 10 < numbers.latency_p50_ms <= 50
    assert numbers.latency_p99_ms is not None
    assert numbers.latency_p95_ms is not None
    assert numbers.latency_p50_ms <= numbers.latency_p95_ms <= numbers.latency_p99_ms


def test_precision_recall_and_f1_per_label_follow_the_confusion_counts() -> None:
    reader, _ = sample_reader(NOW)
    counters = total((key.sk, c) for key, c in reader.items.items() if key.pk == "day#*")

    toxic = next(q for q in label_quality(counters) if q.label is Label.TOXIC)

    assert (toxic.tp, toxic.fp, toxic.fn, toxic.tn) == (4, 2, 1, 3)
    assert toxic.precision == pytest.approx(4 / 6)
    assert toxic.recall == pytest.approx(4 / 5)
    assert toxic.f1 == pytest.approx(8 / 11)
    assert toxic.accuracy == pytest.approx(7 / 10)
    insult = next(q for q in label_quality(counters) if q.label is Label.INSULT)
    assert insult.judged == 0
    assert insult.precision is None
    assert insult.f1 is None


def test_label_frequency_and_mean_score() -> None:
    events = [
        factories.prediction_made(
            occurred_at=NOW,
            scores=factories.scores(toxic=score),
            flagged=(Label.TOXIC,) if score > 0.5 else (),
        )
        for score in (0.9, 0.7, 0.1, 0.1)
    ]
    counters = all_versions(events, "minute")

    rows = {row.label: row for row in label_rows(counters)}

    assert rows[Label.TOXIC].flagged == 2
    assert rows[Label.TOXIC].frequency == 0.5
    assert rows[Label.TOXIC].mean_score == pytest.approx(0.45)
    assert rows[Label.THREAT].frequency == 0
    assert rows[Label.THREAT].mean_score == pytest.approx(0.01)


def test_the_trend_fills_missing_minutes_with_zero_and_no_rate() -> None:
    counters = {
        "predictions": Decimal(4),
        "flagged_toxic": Decimal(1),
        "latency_ms_le_5": Decimal(4),
    }
    table = Table.of(
        "minute",
        "2026-11-30T04:58",
        "2026-11-30T05:00",
        MINUTE_COUNTERS,
        [("2026-11-30T04:59", counters)],
    )

    rows = trend(table)

    assert [r.at.strftime("%H:%M") for r in rows] == ["04:58", "04:59", "05:00"]
    assert [r.predictions for r in rows] == [0, 4, 0]
    assert [r.toxic_rate for r in rows] == [None, 0.25, None]
    assert rows[1].latency_p50_ms == pytest.approx(3.5)  # half of (2, 5] into the bin
    assert rows[0].latency_p50_ms is None
    assert rows[1].feedback_accuracy is None  # the minutes carry no confusion counts


async def test_the_trend_of_each_bucket_is_the_kpis_of_its_item() -> None:
    reader, _ = sample_reader(NOW)
    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    rows = trend(data.days)

    by_day = dict(data.days.items())
    for row, bucket in zip(rows, data.days.buckets, strict=True):
        numbers = kpis(by_day.get(bucket, {}))
        assert row.predictions == numbers.predictions
        assert row.toxic_rate == numbers.toxic_rate
        assert row.feedback == numbers.feedback
        assert row.feedback_accuracy == numbers.feedback_accuracy
        assert row.latency_p50_ms == numbers.latency_p50_ms
        assert row.latency_p99_ms == numbers.latency_p99_ms
    assert any(row.feedback_accuracy is not None for row in rows)


@pytest.mark.parametrize("q", [0.01, 0.5, 0.95, 0.99, 1.0])
def test_percentiles_of_many_rows_equal_the_percentile_of_each(q: float) -> None:
    rng = np.random.default_rng(3)
    for edges in (LATENCY_EDGES_MS, LAG_EDGES_S):
        counts = rng.integers(0, 5, (500, len(edges))) * (rng.random((500, len(edges))) < 0.3)
        counts[0] = 0  # a bucket without values
        counts[1, -1] = 7  # one whose values are all in the open top bin

        found = percentiles(counts, edges, q)

        assert found == [percentile(row, edges, q) for row in counts.tolist()]
    with pytest.raises(ValueError, match="q must be"):
        percentiles(counts, LAG_EDGES_S, 0)


def test_a_window_spans_whole_buckets_ending_now_and_refuses_naive_times() -> None:
    window = Window(now=NOW)

    assert window.span("minute") == ("2026-11-29T05:01", "2026-11-30T05:00")
    assert window.span("hour") == ("2026-11-29T05", "2026-11-30T05")
    assert window.span("day") == ("2026-11-01", "2026-11-30")
    assert len(window.table("minute", names=MINUTE_COUNTERS)) == 24 * 60
    assert len(window.table("day")) == 30
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="hours"):
        Window(now=NOW, hours=0)


def all_versions(events: list[PredictionMade], granularity: str = "hour") -> Counters:
    """The summed counters of ``events`` in the all-versions items of ``granularity``."""
    increments = merge(prediction_increments(e) for e in events)
    return total((k.sk, c) for k, c in increments.items() if k.pk == f"{granularity}#*")


def test_drift_is_zero_for_live_traffic_shaped_like_the_baseline_and_large_when_it_moved() -> None:
    baseline = factories.drift_baseline(
        score_histograms={label: factories.histogram(counts=(90, 10)) for label in LABELS}
    )
    like = [
        factories.prediction_made(occurred_at=NOW, scores=factories.scores(0.1)) for _ in range(180)
    ]
    like += [
        factories.prediction_made(occurred_at=NOW, scores=factories.scores(0.9)) for _ in range(20)
    ]
    moved = [
        factories.prediction_made(occurred_at=NOW, scores=factories.scores(0.9)) for _ in range(200)
    ]

    steady = live_drift(baseline, all_versions(like))
    drifted = live_drift(baseline, all_versions(moved))

    assert steady.label_psi[Label.TOXIC] == pytest.approx(0.0, abs=1e-9)
    assert drifted.label_psi[Label.TOXIC] > 0.25
    assert drifted.drifted
    rows, why_not = drift_rows(baseline, all_versions(moved))
    assert why_not is None
    assert {r["label"]: r["stability"] for r in rows}["toxic"] == "significant"
    few, _ = drift_rows(baseline, all_versions(moved[:10]))
    assert {r["label"]: r["stability"] for r in few}["toxic"] == "too few rows"


def test_the_version_comparison_and_history_rows_carry_the_metrics() -> None:
    reader, _ = sample_reader(NOW)
    counters = total((key.sk, c) for key, c in reader.items.items() if key.pk == f"day#{VERSION}")

    row = version_row(VERSION, counters)
    history = history_rows(sorted(reader.models, key=lambda e: e.sk, reverse=True))

    assert row.predictions == 150
    assert row.toxic_rate == pytest.approx(0.2)
    assert row.mean_f1 == pytest.approx(8 / 11)
    assert [h["outcome"] for h in history] == ["failed", "rejected", "published", "published"]
    assert history[1]["mean ROC AUC"] == pytest.approx(0.90)
    assert history[2]["version"] == VERSION
    assert history[2]["mean ROC AUC"] == pytest.approx(0.95)
    assert "no training rows found" in str(history[0]["details"])


def test_queues_and_replicas_show_n_a_for_what_was_not_measured() -> None:
    reader, _ = sample_reader(NOW)
    assert reader.health is not None

    queues = queue_rows(reader.health)
    replicas = replica_rows(reader.health)

    assert [q["oldest age"] for q in queues] == ["n/a", "n/a"]
    assert [q["dead letter"] for q in queues] == [False, True]
    assert replicas[0]["outbox depth"] == 12


async def test_quality_rows_cover_every_label() -> None:
    reader, _ = sample_reader(NOW)
    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    rows = quality_rows(data)

    assert [r["label"] for r in rows] == [label.value for label in LABELS]
    assert rows[0]["judged"] == 10


def test_settings_read_the_dashboard_variables_and_refuse_a_bad_api_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIC_DASHBOARD_PORT", "9100")
    monkeypatch.setenv("TOXIC_DASHBOARD_API_URL", "http://api.internal:8000/")
    monkeypatch.setenv("TOXIC_DASHBOARD_API_KEY", " ")

    settings = DashboardSettings()

    assert settings.dashboard_port == 9100
    assert settings.dashboard_api_url == "http://api.internal:8000"
    assert settings.dashboard_api_key is None
    with pytest.raises(ValidationError, match="http"):
        DashboardSettings(dashboard_api_url="ftp://nowhere")
