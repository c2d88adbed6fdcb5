"""Small real models, published the way the training service publishes a champion.

The API never needs MLflow: it reads the champion pointer, the manifest and the model file from
S3. These helpers write exactly those (with ``shared.artifacts``) for models fitted in a second or
two on the starter set, so API tests run without a training service.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from contracts import LABELS, ModelPublished, RowCounts, Source
from services.training.data import digest as data_digest
from services.training.data import read_csv
from services.training.model import fit_model
from services.training.quality import drift_baseline, label_metrics
from services.training.report import snapshot_csv
from services.training.splits import split
from shared.artifacts import ArtifactStore, ChampionPointer, Manifest
from shared.model.artifact import dumps, library_versions
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = ["Published", "publish_champion", "tiny_model"]

STARTER = Path(__file__).parents[2] / "services" / "training" / "starter" / "starter.csv"


@cache
def tiny_model(c: float = 4.0) -> ToxicityModel:
    """A real ToxicityModel fitted on the starter set; another ``c`` gives other scores."""
    parts = split(read_csv(STARTER))
    config = ModelConfig(
        name=f"tiny-c{c:g}",
        max_char_features=5_000,
        max_word_features=5_000,
        min_df=1,
        c=c,
        heads=("plain",),
        stacking=False,
    )
    return fit_model(config, parts.train, parts.validation)


class Published:
    """What publishing wrote: the manifest, the pointer, the file's bytes and the event."""

    def __init__(self, manifest: Manifest, pointer: ChampionPointer, data: bytes) -> None:
        self.manifest = manifest
        self.pointer = pointer
        self.data = data

    def event(self, store: ArtifactStore) -> ModelPublished:
        m = self.manifest
        return ModelPublished(
            source=Source(service="training", instance="test"),
            model_name=m.model_name,
            model_version=m.model_version,
            artifact_uri=store.uri(m.model_key),
            sha256=m.sha256,
            metrics=m.metrics,
            thresholds=m.thresholds,
            training_data_digest=m.training_data_digest,
            row_counts=m.row_counts,
            baseline=m.baseline,
        )


async def publish_champion(
    store: ArtifactStore,
    version: str,
    *,
    model: ToxicityModel | None = None,
    model_name: str = "toxicity",
    point: bool = True,
) -> Published:
    """Upload ``model`` as ``version`` (file, manifest, dataset); if ``point``, make it champion."""
    model = model or tiny_model()
    data = read_csv(STARTER)
    parts = split(data)
    model_bytes = dumps(model)
    model_key, sha = await store.put_model(model_name, version, model_bytes)
    digest = data_digest(data)
    dataset_key = await store.put_dataset(digest, snapshot_csv(data))
    manifest = Manifest(
        model_name=model_name,
        model_version=version,
        model_key=model_key,
        sha256=sha,
        labels=LABELS,
        thresholds=dict(zip(LABELS, model.thresholds.tolist(), strict=True)),
        metrics=label_metrics(model, parts.holdout),
        training_data_digest=digest,
        dataset_key=dataset_key,
        row_counts=RowCounts(
            train=len(parts.train), validation=len(parts.validation), holdout=len(parts.holdout)
        ),
        baseline=drift_baseline(model, parts.validation),
        library_versions=library_versions(),
    )
    manifest_key = await store.put_manifest(manifest, version)
    pointer = ChampionPointer(
        model_name=model_name, model_version=version, manifest_key=manifest_key, sha256=sha
    )
    if point:
        await store.write_champion(pointer)
    return Published(manifest, pointer, model_bytes)
