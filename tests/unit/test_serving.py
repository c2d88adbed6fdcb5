"""The model reloader on an in-memory model source: load, swap, refuse, keep serving."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from numpy.typing import NDArray

from contracts import LABELS, RowCounts
from services.api.serving import ModelReloader, ModelSlot
from shared.artifacts import ChampionPointer, Manifest, PointerRead
from shared.errors import NotFoundError
from shared.model.artifact import dumps, sha256_of
from shared.model.toxicity import ToxicityModel
from tests.factories import drift_baseline, label_metrics_by_label
from tests.harness.champion import tiny_model

pytestmark = pytest.mark.unit


@dataclass
class Bucket:
    """A model source: the pointer (with an ETag that changes on every write) and objects."""

    objects: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)
    pointer: ChampionPointer | None = None
    writes: int = 0
    reads: int = 0

    def publish(self, version: str, model: ToxicityModel, *, point: bool = True) -> bytes:
        data = dumps(model)
        key = f"models/toxicity/{version}/model.skops"
        self.objects[key] = data
        manifest = Manifest(
            model_name="toxicity",
            model_version=version,
            model_key=key,
            sha256=sha256_of(data),
            labels=LABELS,
            thresholds=dict.fromkeys(LABELS, 0.5),
            metrics=label_metrics_by_label(),
            training_data_digest="0" * 64,
            row_counts=RowCounts(train=1, validation=1, holdout=1),
            baseline=drift_baseline(),
            library_versions={},
        )
        self.manifests[f"models/toxicity/{version}/manifest.json"] = manifest
        if point:
            self.point(version)
        return data

    def point(self, version: str) -> None:
        manifest_key = f"models/toxicity/{version}/manifest.json"
        self.pointer = ChampionPointer(
            model_name="toxicity",
            model_version=version,
            manifest_key=manifest_key,
            sha256=self.manifests[manifest_key].sha256,
        )
        self.writes += 1

    async def read_champion(self, if_none_match: str | None = None) -> PointerRead:
        self.reads += 1
        if self.pointer is None:
            raise NotFoundError("no champion")
        etag = f'"{self.writes}"'
        if if_none_match == etag:
            return PointerRead(pointer=None, etag=etag)
        return PointerRead(pointer=self.pointer, etag=etag)

    async def get_manifest(self, key: str) -> Manifest:
        return self.manifests[key]

    async def get_bytes(self, key: str) -> bytes:
        return self.objects[key]


async def test_nothing_is_loaded_until_a_champion_exists() -> None:
    bucket, slot = Bucket(), ModelSlot()
    reloader = ModelReloader(bucket, slot)
    assert await reloader.reconcile() is False
    assert slot.current is None
    bucket.publish("v1", tiny_model())
    assert await reloader.reconcile() is True
    assert slot.current is not None
    assert slot.current.version == "v1"


async def test_a_new_champion_is_swapped_in_and_an_unchanged_pointer_loads_nothing() -> None:
    bucket, slot = Bucket(), ModelSlot()
    swapped: list[str] = []
    reloader = ModelReloader(bucket, slot, on_swap=lambda m: swapped.append(m.version))
    bucket.publish("v1", tiny_model())
    await reloader.reconcile()
    first = slot.current
    assert await reloader.reconcile() is False  # same ETag: nothing read but the pointer
    assert slot.current is first
    bucket.publish("v2", tiny_model(c=0.5))
    assert await reloader.reconcile() is True
    assert swapped == ["v1", "v2"]
    assert reloader.stats.loads == 2


async def test_a_tampered_file_is_refused_and_the_current_model_keeps_serving() -> None:
    bucket, slot = Bucket(), ModelSlot()
    reloader = ModelReloader(bucket, slot)
    bucket.publish("v1", tiny_model())
    await reloader.reconcile()
    data = bucket.publish("v2", tiny_model(c=0.5), point=False)
    bucket.objects["models/toxicity/v2/model.skops"] = data[:-10] + b"0123456789"
    bucket.point("v2")

    assert await reloader.reconcile(force=True) is False
    assert slot.current is not None
    assert slot.current.version == "v1"
    assert reloader.stats.refusals == 1
    assert "sha256" in (reloader.stats.last_error or "")
    # The periodic check does not fetch the refused file again; a repaired file loads on the
    # next forced check (a ModelPublished).
    assert await reloader.reconcile() is False
    bucket.objects["models/toxicity/v2/model.skops"] = data
    assert await reloader.reconcile(force=True) is True
    assert slot.current.version == "v2"


async def test_a_storage_error_is_counted_and_retried_at_the_next_tick() -> None:
    bucket, slot = Bucket(), ModelSlot()
    reloader = ModelReloader(bucket, slot)
    bucket.publish("v1", tiny_model())
    stored = bucket.objects.pop("models/toxicity/v1/model.skops")
    assert await reloader.reconcile() is False
    assert reloader.stats.failures == 1
    bucket.objects["models/toxicity/v1/model.skops"] = stored
    assert await reloader.reconcile() is True


async def test_requests_during_a_swap_see_one_whole_model_or_the_other() -> None:
    bucket, slot = Bucket(), ModelSlot()
    reloader = ModelReloader(bucket, slot)
    bucket.publish("v1", tiny_model())
    await reloader.reconcile()
    bucket.publish("v2", tiny_model(c=0.5))
    expected = {
        "v1": tiny_model().predict_proba(["you fool"]).tolist(),
        "v2": tiny_model(c=0.5).predict_proba(["you fool"]).tolist(),
    }
    seen: list[tuple[str, list[list[float]]]] = []

    async def score_while_swapping() -> None:
        for _ in range(200):
            serving = slot.require()
            seen.append((serving.version, serving.model.predict_proba(["you fool"]).tolist()))
            await asyncio.sleep(0)

    await asyncio.gather(score_while_swapping(), reloader.reconcile())
    assert {version for version, _ in seen} <= {"v1", "v2"}
    assert all(scores == expected[version] for version, scores in seen)


async def test_the_periodic_check_waits_a_period_first_and_stops_when_told() -> None:
    bucket, slot = Bucket(), ModelSlot()
    reloader = ModelReloader(bucket, slot)
    bucket.publish("v1", tiny_model())
    await reloader.reconcile()  # start-up's own check
    reads = bucket.reads
    stop = asyncio.Event()
    running = asyncio.create_task(reloader.run(0.05, stop))
    await asyncio.sleep(0.01)
    assert bucket.reads == reads  # no second read straight after start-up
    bucket.publish("v2", tiny_model(c=0.5))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(running, timeout=1)
    assert slot.current is not None
    assert slot.current.version == "v2"


@dataclass
class FakeScorer:
    """A batch scorer that records its life: started by the reloader, closed when replaced."""

    version: str
    started: bool = False
    closed: bool = False

    @property
    def ready(self) -> bool:
        return self.started and not self.closed

    def start(self) -> None:
        self.started = True

    def close(self) -> None:
        self.closed = True

    async def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        return None


async def test_each_loaded_model_gets_its_scorer_and_a_swap_closes_the_one_before() -> None:
    bucket, slot = Bucket(), ModelSlot()
    made: list[tuple[str, str, FakeScorer]] = []

    def scorers(data: bytes, sha256: str, version: str) -> FakeScorer:
        assert sha256_of(data) == sha256  # the verified bytes the replica loaded
        made.append((version, sha256, FakeScorer(version)))
        return made[-1][2]

    reloader = ModelReloader(bucket, slot, scorers=scorers)
    bucket.publish("v1", tiny_model())
    await reloader.reconcile()
    assert slot.current is not None
    first = made[0][2]
    assert slot.current.scorer is first
    assert first.ready

    tampered = bucket.publish("v2", tiny_model(c=0.5), point=False)
    bucket.objects["models/toxicity/v2/model.skops"] = tampered[:-10] + b"0123456789"
    bucket.point("v2")
    assert await reloader.reconcile(force=True) is False
    assert [version for version, *_ in made] == ["v1"]  # a refused model gets none
    assert first.ready

    bucket.objects["models/toxicity/v2/model.skops"] = tampered
    assert await reloader.reconcile(force=True) is True
    second = made[1][2]
    assert slot.current.scorer is second
    assert (first.closed, second.ready) == (True, True)

    reloader.close()  # the replica stops
    assert second.closed
