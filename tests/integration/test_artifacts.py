"""The artifact store against the stand-in's S3: models, manifests, snapshots, the pointer."""

from __future__ import annotations

import pytest

from contracts import LABELS, RowCounts
from shared.artifacts import ArtifactStore, ChampionPointer, Manifest, sha256_hex
from shared.aws import AwsClients
from shared.errors import NotFoundError
from shared.infra import InfraSpec
from tests import factories

pytestmark = pytest.mark.integration


@pytest.fixture
def store(clients: AwsClients, deployment: InfraSpec) -> ArtifactStore:
    return ArtifactStore(clients.s3, deployment.bucket.name)


def manifest(key: str, sha: str) -> Manifest:
    return Manifest(
        model_name="toxic-comment-classifier",
        model_version="3",
        model_key=key,
        sha256=sha,
        labels=LABELS,
        thresholds=dict.fromkeys(LABELS, 0.5),
        metrics=factories.label_metrics_by_label(),
        training_data_digest="d" * 64,
        row_counts=RowCounts(train=10, validation=2, holdout=2),
        baseline=factories.drift_baseline(),
        library_versions={"scikit-learn": "1.9.1"},
    )


async def test_a_model_and_its_manifest_round_trip(store: ArtifactStore) -> None:
    key, sha = await store.put_model("toxic-comment-classifier", "run1", b"model bytes")
    written = manifest(key, sha)

    manifest_key = await store.put_manifest(written, "run1")

    assert key == "models/toxic-comment-classifier/run1/model.skops"
    assert sha == sha256_hex(b"model bytes")
    assert await store.get_bytes(key) == b"model bytes"
    assert await store.get_manifest(manifest_key) == written


async def test_reading_the_champion_before_any_is_published_is_not_found(
    store: ArtifactStore,
) -> None:
    with pytest.raises(NotFoundError, match="no champion"):
        await store.read_champion()


async def test_the_champion_pointer_is_read_again_only_when_it_changed(
    store: ArtifactStore,
) -> None:
    first = ChampionPointer(
        model_name="m", model_version="1", manifest_key="models/m/a/manifest.json", sha256="a"
    )
    await store.write_champion(first)
    read = await store.read_champion()
    assert read.pointer == first

    unchanged = await store.read_champion(if_none_match=read.etag)
    assert unchanged.pointer is None

    second = first.model_copy(update={"model_version": "2"})
    await store.write_champion(second)
    changed = await store.read_champion(if_none_match=read.etag)
    assert changed.pointer == second
    assert changed.etag != read.etag


async def test_a_dataset_snapshot_is_stored_once_by_digest(store: ArtifactStore) -> None:
    key = await store.put_dataset("abc", b"first")
    again = await store.put_dataset("abc", b"second")

    assert key == again == "datasets/abc.csv.gz"
    assert await store.get_bytes(key) == b"first"


async def test_a_missing_object_is_not_found(store: ArtifactStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_bytes("models/nothing/here")
