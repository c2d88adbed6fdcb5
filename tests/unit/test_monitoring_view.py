"""The dashboard's materialized view: read, encoded, built by the monitoring, stored, preferred.

The builder runs on the monitoring's in-memory store; the dashboard's page data on the in-memory
reader with a stored view (fresh, stale, missing or unreadable).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from contracts import PredictionMade
from services.dashboard.data import load_page_data
from services.dashboard.summaries import kpis
from services.monitoring.view_builder import ViewBuilder, refresh_view
from shared.errors import RetryableError
from shared.monitoring.records import CurrentModel, ViewItem
from shared.monitoring.rollups import COUNTERS, prediction_increments
from shared.monitoring.table import Table
from shared.monitoring.view import MINUTE_COUNTERS, RollupView, Window, read_view
from shared.monitoring.view_codec import FORMAT, decode_view, encode_view
from tests import factories
from tests.factories import nothing_counted
from tests.fakes.monitoring_reader import MODEL_NAME, VERSION, sample_reader
from tests.fakes.monitoring_store import InMemoryMonitoringStore

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 5, 0, 30, tzinfo=UTC)


async def test_an_encoded_view_decodes_to_the_same_view() -> None:
    reader, _ = sample_reader(NOW)
    view = await read_view(reader, NOW, model_name=MODEL_NAME)

    decoded = decode_view(encode_view(view))

    assert decoded == view
    assert all(t.counted for t in [view.minutes, view.hours, view.days, view.live_hours])
    assert view.baseline is not None
    assert view.live_version == VERSION
    assert list(decoded.version_days) == [VERSION, "6"]
    # Score sums keep their nine decimals: the tables hold them as nano-unit integers.
    summed = sum(
        (c.get("score_sum_toxic", Decimal(0)) for k, c in reader.items.items() if k.pk == "day#*"),
        Decimal(0),
    )
    assert decoded.days.total()["score_sum_toxic"] == summed
    assert decoded.hours.items() == view.hours.items()


async def test_every_table_has_a_row_per_bucket_and_a_column_per_counter_at_any_traffic() -> None:
    quiet, _ = sample_reader(NOW)
    busy, _ = sample_reader(NOW)
    busy.add_all(
        prediction_increments(predicted(NOW - timedelta(minutes=m, seconds=s)))
        for m in range(0, 24 * 60, 7)
        for s in (0, 1)
    )

    views = [await read_view(r, NOW, model_name=MODEL_NAME) for r in (quiet, busy)]

    for view in [*views, nothing_counted(Window(NOW))]:
        decoded = decode_view(encode_view(view))
        assert decoded.minutes.values.shape == (24 * 60, len(MINUTE_COUNTERS))
        assert decoded.hours.values.shape == decoded.live_hours.values.shape == (25, len(COUNTERS))
        assert decoded.days.values.shape == (30, len(COUNTERS))
        assert decoded.minutes.first == "2026-11-29T05:01"
    quiet_minutes, busy_minutes = (len(view.minutes.items()) for view in views)
    assert quiet_minutes < busy_minutes
    added = kpis(views[1].hours.total()).predictions - kpis(views[0].hours.total()).predictions
    assert added == 2 * len(range(0, 24 * 60, 7))


async def test_an_empty_view_round_trips_and_garbage_or_another_format_is_refused() -> None:
    empty = nothing_counted(Window(NOW))
    # What the first format wrote: zlib JSON of the sparse rollup items.
    first_format = zlib.compress(
        json.dumps({"format": 1, "built_at": NOW.isoformat(), "minutes": []}).encode()
    )

    assert decode_view(encode_view(empty)) == empty
    assert not empty.minutes.counted
    with pytest.raises(ValueError, match="not an encoded view"):
        decode_view(b"not zlib")
    with pytest.raises(ValueError, match=f"view format 1 is not {FORMAT}"):
        decode_view(first_format)
    with pytest.raises(ValueError, match="format"):
        decode_view(zlib.compress(b'{"format": 99}'))
    with pytest.raises(ValueError, match="do not fill its tables"):
        decode_view(zlib.compress(zlib.decompress(encode_view(empty))[:-8]))


def test_a_table_holds_its_range_exactly_and_refuses_what_it_cannot_hold() -> None:
    counters = {"predictions": Decimal(3), "score_sum_toxic": Decimal("1.000000007")}
    items = [("2026-11-30T04:59", counters), ("2026-11-30T06:00", {"predictions": Decimal(9)})]

    table = Table.of("minute", "2026-11-30T04:58", "2026-11-30T05:00", COUNTERS, items)

    assert table.buckets == ["2026-11-30T04:58", "2026-11-30T04:59", "2026-11-30T05:00"]
    assert table.starts[1] == datetime(2026, 11, 30, 4, 59, tzinfo=UTC)
    assert table.items() == items[:1]  # the item outside the range is left out
    assert table.column("score_sum_toxic").tolist() == [0, 1_000_000_007, 0]
    assert table.counted_rows.tolist() == [False, True, False]
    assert table.total()["predictions"] == 3
    half = [("2026-11-30", {"flagged_toxic": Decimal("0.5")})]
    with pytest.raises(ValueError, match="more decimals"):
        Table.of("day", "2026-11-30", "2026-11-30", COUNTERS, half)
    with pytest.raises(ValueError, match="not the window's"):
        encode_view(dataclasses.replace(nothing_counted(Window(NOW)), window_hours=6))


def predicted(at: datetime, version: str = VERSION) -> PredictionMade:
    return factories.prediction_made(occurred_at=at, model_version=version, latency_ms=7.0)


async def counted(store: InMemoryMonitoringStore, *events: PredictionMade) -> None:
    for event in events:
        await store.commit([event.event_id], prediction_increments(event, lag_seconds=0.2))


def minute_reads(store: InMemoryMonitoringStore) -> list[tuple[str, str]]:
    return [(first, last) for pk, first, last in store.rollup_reads if pk == "minute#*"]


async def test_the_builder_stores_what_a_live_read_sees_and_rereads_only_minutes_that_moved() -> (
    None
):
    store = InMemoryMonitoringStore()
    store.current = CurrentModel(model_name=MODEL_NAME, model_version=VERSION, published_at=NOW)
    await counted(store, *(predicted(NOW - timedelta(hours=h, minutes=3)) for h in range(20)))
    clock = [NOW]
    builder = ViewBuilder(
        store, store, model_name=MODEL_NAME, instance="m-1", clock=lambda: clock[0]
    )

    first = await builder.build_and_store()

    assert store.stored_view == first
    assert first.built_by == "m-1"
    assert decode_view(first.view) == await read_view(store, NOW, model_name=MODEL_NAME)
    assert len(minute_reads(store)) >= 4  # the whole day, in ranges of at most six hours

    # A minute later: one new prediction now and one late one in an hour eight hours ago.
    clock[0] = NOW + timedelta(minutes=1)
    late = predicted(NOW - timedelta(hours=8, minutes=30))
    await counted(store, predicted(clock[0]), late)
    store.rollup_reads.clear()
    store.whole_reads.clear()

    second = await builder.build_and_store()
    reread = {first[:13] for first, _ in minute_reads(store)}
    whole = {(pk, first, last) for pk, first, last in store.whole_reads if pk != "minute#*"}

    live = await read_view(store, clock[0], model_name=MODEL_NAME)
    assert decode_view(second.view) == live
    assert kpis(live.minutes.total()).predictions == 22
    assert reread == {"2026-11-30T05", late.occurred_at.strftime("%Y-%m-%dT%H")}
    # Whole items read again: the hour and day the last build was in, and the late event's.
    late_hour = late.occurred_at.strftime("%Y-%m-%dT%H")
    assert whole == {
        ("hour#*", late_hour, late_hour),
        ("hour#*", "2026-11-30T05", "2026-11-30T05"),
        ("day#*", "2026-11-29", "2026-11-30"),
        (f"day#{VERSION}", "2026-11-29", "2026-11-30"),
        # The current model's hours (drift): only those that moved, as for all versions.
        (f"hour#{VERSION}", late_hour, late_hour),
        (f"hour#{VERSION}", "2026-11-30T05", "2026-11-30T05"),
    }


async def test_a_new_current_model_has_its_hours_read_whole_not_the_last_ones_reused() -> None:
    store = InMemoryMonitoringStore()
    store.current = CurrentModel(model_name=MODEL_NAME, model_version=VERSION, published_at=NOW)
    await counted(store, predicted(NOW - timedelta(hours=3)), predicted(NOW, version="9"))
    clock = [NOW]
    builder = ViewBuilder(
        store, store, model_name=MODEL_NAME, instance="m-1", clock=lambda: clock[0]
    )
    await builder.build()
    store.current = CurrentModel(model_name=MODEL_NAME, model_version="9", published_at=NOW)
    clock[0] = NOW + timedelta(seconds=30)
    store.whole_reads.clear()

    view = await builder.build()

    assert ("hour#9", "2026-11-29T05", "2026-11-30T05") in store.whole_reads
    assert view.live_version == "9"
    assert kpis(view.live_hours.total()).predictions == 1
    assert view == await read_view(store, clock[0], model_name=MODEL_NAME)


async def test_a_view_built_before_the_stored_one_does_not_replace_it() -> None:
    store = InMemoryMonitoringStore()
    newer = ViewItem(view=b"new", built_at=NOW, built_by="m-2")
    older = ViewItem(view=b"old", built_at=NOW - timedelta(seconds=5), built_by="m-1")

    assert await store.put_view(newer)
    assert not await store.put_view(older)
    assert store.stored_view == newer


async def stored(view: RollupView) -> ViewItem:
    return ViewItem(view=encode_view(view), built_at=view.built_at, built_by="monitoring-1")


async def test_the_page_shows_a_fresh_view_instead_of_reading_the_rollups() -> None:
    reader, sample = sample_reader(NOW)
    built_at = NOW - timedelta(seconds=20)
    view = await read_view(reader, built_at, model_name=MODEL_NAME)
    reader.stored_view = await stored(view)
    # Traffic counted after the view was built: the page (from the view) does not show it yet.
    reader.add(prediction_increments(predicted(NOW - timedelta(seconds=10))))
    reader.reads = 0

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert data.view_built_at == built_at
    assert data.view_built_by == "monitoring-1"
    assert data.window.now == built_at
    assert kpis(data.hours.total()).predictions == sample.predictions_24h
    assert data.version_days == view.version_days
    assert data.live_hours == view.live_hours
    assert data.baseline == view.baseline
    assert reader.reads == 7  # the view and six small records
    assert data.feedback == view.feedback != []
    assert data.reviews == view.reviews != []


async def test_the_page_data_of_a_view_equals_that_of_a_live_read_at_the_same_time() -> None:
    reader, _ = sample_reader(NOW)
    live = await load_page_data(reader, NOW, model_name=MODEL_NAME)
    reader.stored_view = await stored(await read_view(reader, NOW, model_name=MODEL_NAME))

    viewed = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert live.view_built_at is None
    assert viewed.view_built_at == NOW
    assert dataclasses.replace(viewed, view_built_at=None, view_built_by=None) == live


@pytest.mark.parametrize("age", [timedelta(minutes=5), None], ids=["stale", "missing"])
async def test_a_stale_or_missing_view_is_replaced_by_a_live_read(age: timedelta | None) -> None:
    reader, sample = sample_reader(NOW)
    if age is not None:
        reader.stored_view = await stored(await read_view(reader, NOW - age, model_name=MODEL_NAME))
    reader.add(prediction_increments(predicted(NOW - timedelta(seconds=10))))

    data = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert data.view_built_at is None
    assert data.window.now == NOW
    assert kpis(data.hours.total()).predictions == sample.predictions_24h + 1


async def test_an_unreadable_view_or_one_of_another_window_is_replaced_by_a_live_read() -> None:
    reader, _ = sample_reader(NOW)
    reader.stored_view = ViewItem(view=b"garbage", built_at=NOW, built_by="m-1")

    garbled = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    reader.stored_view = await stored(await read_view(reader, NOW, model_name=MODEL_NAME, hours=6))
    other = await load_page_data(reader, NOW, model_name=MODEL_NAME)

    assert garbled.view_built_at is None
    assert other.view_built_at is None
    assert garbled.minutes == other.minutes
    assert garbled.minutes.counted


class FlakyReader(InMemoryMonitoringStore):
    """The monitoring's store whose first ``failures`` reads of the current model fail."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def current_model(self) -> CurrentModel | None:
        if self.failures:
            self.failures -= 1
            raise RetryableError("throttled")
        return await super().current_model()


async def test_a_failed_build_is_logged_and_the_next_one_still_stores_the_view() -> None:
    store = FlakyReader(failures=1)
    await counted(store, predicted(NOW - timedelta(minutes=5)))
    builder = ViewBuilder(store, store, model_name=MODEL_NAME, instance="m-1", clock=lambda: NOW)

    refreshing = asyncio.create_task(refresh_view(builder, every=0.01))
    try:
        for _ in range(200):
            if store.stored_view is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing

    assert store.failures == 0
    assert store.stored_view is not None
    assert kpis(decode_view(store.stored_view.view).minutes.total()).predictions == 1
