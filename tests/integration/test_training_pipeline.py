"""A training run against a real MLflow server and the stand-in's S3."""

from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient

from contracts import ModelPublished, ModelRejected, Source, TrainingFailed
from services.training.pipeline import TrainingJob, run_training
from services.training.registry import MlflowRegistry
from shared.artifacts import ArtifactStore, sha256_hex
from shared.aws import AwsClients
from shared.infra import InfraSpec
from tests.fakes.model_kit import WordKit, synthetic_data

pytestmark = pytest.mark.integration


@pytest.fixture
def store(clients: AwsClients, deployment: InfraSpec) -> ArtifactStore:
    return ArtifactStore(clients.s3, deployment.bucket.name)


def job(kit: WordKit, registry: MlflowRegistry, store: ArtifactStore, name: str) -> TrainingJob:
    return TrainingJob(
        kit=kit,
        registry=registry,
        store=store,
        source=Source(service="training", instance="test"),
        model_name=name,
        git_commit="test",
    )


async def test_a_good_model_is_published_and_a_worse_one_rejected(
    mlflow_url: str, store: ArtifactStore
) -> None:
    name = f"model-{uuid.uuid4().hex[:8]}"
    registry = MlflowRegistry(mlflow_url, f"exp-{uuid.uuid4().hex[:8]}")
    data = synthetic_data()
    request = uuid.uuid4()

    published = await run_training(
        job(WordKit(), registry, store, name), [request], data, "synthetic"
    )

    assert isinstance(published, ModelPublished), published
    assert published.request_ids == (request,)
    champion = registry.champion(name)
    assert champion is not None
    assert champion.version == published.model_version
    pointer = (await store.read_champion()).pointer
    assert pointer is not None
    assert (pointer.model_version, pointer.sha256) == (published.model_version, published.sha256)
    manifest = await store.get_manifest(pointer.manifest_key)
    assert (
        sha256_hex(await store.get_bytes(manifest.model_key)) == manifest.sha256 == published.sha256
    )
    assert manifest.dataset_key is not None
    assert await store.get_bytes(manifest.dataset_key)
    client = MlflowClient(mlflow_url)
    run = client.get_run(published.mlflow_run_id or "")
    assert run.data.params["chosen"] in {"words-min1", "words-min3"}
    assert "holdout.mean.roc_auc" in run.data.metrics
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == ["words-min1", "words-min3"]
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert logged == {"model/model.skops", "model/manifest.json"}
    assert "evaluation.md" in {a.path for a in client.list_artifacts(run.info.run_id)}

    rejected = await run_training(
        job(WordKit(strength=-1), registry, store, name), [uuid.uuid4()], data, "synthetic"
    )

    assert isinstance(rejected, ModelRejected), rejected
    assert rejected.champion_version == published.model_version
    assert int(rejected.candidate_version) == int(published.model_version) + 1
    still = registry.champion(name)
    assert still is not None
    assert still.version == published.model_version
    pointer_after = (await store.read_champion()).pointer
    assert pointer_after == pointer


async def test_a_run_that_breaks_reports_training_failed_with_its_stage(
    mlflow_url: str, store: ArtifactStore
) -> None:
    class BrokenKit(WordKit):
        def fit(self, candidate, splits):
            raise MemoryError("no room")

    registry = MlflowRegistry(mlflow_url, f"exp-{uuid.uuid4().hex[:8]}")
    name = f"model-{uuid.uuid4().hex[:8]}"

    failed = await run_training(job(BrokenKit(), registry, store, name), [], synthetic_data(), "s")

    assert isinstance(failed, TrainingFailed)
    assert failed.stage == "candidates"
    assert "MemoryError: no room" in failed.error
    assert registry.champion(name) is None
