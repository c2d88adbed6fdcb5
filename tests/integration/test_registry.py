"""The MLflow adapter against a real tracking server with artifacts in the stand-in's S3."""

from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient

from services.training.registry import MlflowRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(mlflow_url: str) -> MlflowRegistry:
    return MlflowRegistry(mlflow_url, f"test-{uuid.uuid4().hex[:8]}")


def test_a_run_records_params_metrics_dataset_and_artifacts(
    registry: MlflowRegistry, mlflow_url: str
) -> None:
    parent = registry.start_run("train", tags={"git_commit": "abc"})
    child = registry.start_run("candidate-a", parent_run_id=parent)
    registry.log(child, params={"C": 4.0}, metrics={"toxic.roc_auc": 0.95})
    registry.log_dataset(parent, name="jigsaw", digest="d" * 64, source_uri="s3://b/datasets/d")
    registry.log_file(parent, "report.md", b"# evaluation\n", artifact_path="evaluation")
    registry.end_run(child)
    registry.end_run(parent)

    client = MlflowClient(mlflow_url)
    child_run = client.get_run(child)
    assert child_run.data.params == {"C": "4.0"}
    assert child_run.data.metrics == {"toxic.roc_auc": 0.95}
    assert child_run.data.tags["mlflow.parentRunId"] == parent
    parent_run = client.get_run(parent)
    assert parent_run.info.status == "FINISHED"
    assert parent_run.inputs is not None
    [dataset_input] = parent_run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "jigsaw"
    assert "s3://b/datasets/d" in dataset_input.dataset.source
    [artifact] = client.list_artifacts(parent, "evaluation")
    assert artifact.path == "evaluation/report.md"


def test_the_champion_alias_names_the_version_it_was_moved_to(registry: MlflowRegistry) -> None:
    name = f"model-{uuid.uuid4().hex[:8]}"
    run = registry.start_run("train")
    assert registry.champion(name) is None

    first = registry.register(name, source="s3://b/models/1", run_id=run)
    second = registry.register(name, source="s3://b/models/2", run_id=run)
    registry.set_champion(name, first)
    earlier = registry.champion(name)
    assert earlier is not None
    assert earlier.version == first

    registry.set_champion(name, second)

    champion = registry.champion(name)
    assert champion is not None
    assert (champion.version, champion.source, champion.run_id) == (second, "s3://b/models/2", run)
    assert int(second) == int(first) + 1
