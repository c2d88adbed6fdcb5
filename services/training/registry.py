"""MLflow: experiment runs (with child runs per candidate) and the model registry.

MLflow's client is synchronous; the training pipeline calls it from a worker thread. The
registry's alias ``champion`` is the authority on which model serves (DESIGN §4).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from services.training.pipeline_ports import ChampionVersion

__all__ = ["CHAMPION_ALIAS", "ChampionVersion", "MlflowRegistry"]

CHAMPION_ALIAS = "champion"
_PARENT_TAG = "mlflow.parentRunId"
# MLflow caps a param value's length; longer values are cut, not refused.
_MAX_PARAM = 6000


def _missing(exc: MlflowException) -> bool:
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


class MlflowRegistry:
    """Runs, metrics, datasets, artifacts and registered versions on one tracking server."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._experiment_name = experiment
        self._experiment_id: str | None = None

    def _experiment(self) -> str:
        if self._experiment_id is None:
            found = self._client.get_experiment_by_name(self._experiment_name)
            self._experiment_id = (
                found.experiment_id
                if found is not None
                else self._client.create_experiment(self._experiment_name)
            )
        return self._experiment_id

    def start_run(
        self, name: str, *, tags: Mapping[str, str] | None = None, parent_run_id: str | None = None
    ) -> str:
        """A new run (a child of ``parent_run_id`` when given); returns its id."""
        all_tags = dict(tags or {})
        if parent_run_id is not None:
            all_tags[_PARENT_TAG] = parent_run_id
        run = self._client.create_run(self._experiment(), tags=all_tags, run_name=name)
        return str(run.info.run_id)

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        now = int(time.time() * 1000)
        self._client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)[:_MAX_PARAM]) for k, v in (params or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        )

    def log_dataset(
        self, run_id: str, *, name: str, digest: str, source_uri: str, context: str = "training"
    ) -> None:
        """Record the training data as the run's input, by its digest and where it is stored."""
        dataset = Dataset(
            name=name,
            digest=digest[:36],
            source_type="s3" if source_uri.startswith("s3://") else "local",
            source=json.dumps({"uri": source_uri, "sha256": digest}),
        )
        self._client.log_inputs(
            run_id,
            datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])],
        )

    def log_file(
        self, run_id: str, name: str, data: bytes, artifact_path: str | None = None
    ) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            self._client.log_artifact(run_id, str(path), artifact_path)

    def end_run(self, run_id: str, *, failed: bool = False) -> None:
        self._client.set_terminated(run_id, "FAILED" if failed else "FINISHED")

    def register(
        self, name: str, *, source: str, run_id: str, tags: Mapping[str, str] | None = None
    ) -> str:
        """A new version of the registered model ``name``; returns its version number."""
        try:
            self._client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self._client.create_model_version(
            name, source=source, run_id=run_id, tags=dict(tags or {})
        )
        return str(version.version)

    def champion(self, name: str) -> ChampionVersion | None:
        try:
            version = self._client.get_model_version_by_alias(name, CHAMPION_ALIAS)
        except MlflowException as exc:
            if _missing(exc):
                return None
            raise
        return ChampionVersion(
            name=name,
            version=str(version.version),
            run_id=version.run_id,
            source=str(version.source),
            tags=dict(version.tags or {}),
        )

    def set_champion(self, name: str, version: str) -> None:
        self._client.set_registered_model_alias(name, CHAMPION_ALIAS, version)

    def tag_version(self, name: str, version: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_model_version_tag(name, version, key, value)
