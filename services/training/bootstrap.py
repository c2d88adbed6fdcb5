"""The training worker (`toxic serve training`): RetrainRequested in, a model run out.

Wiring only: the real adapters are built here from settings; tests build the same pieces with
fakes (see tests/unit/test_coalescer.py and tests/integration/test_training_pipeline.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Sequence

from contracts import Envelope, RetrainRequested, Source, TrainingFailed
from services.training.coalescer import Coalescer
from services.training.data import TrainingDataError
from services.training.feedback import feedback_texts, join_feedback, read_feedback
from services.training.pipeline import TrainingJob, run_training
from services.training.pipeline_ports import ModelKit
from services.training.registry import MlflowRegistry
from services.training.settings import TrainingSettings
from services.training.sources import download_from_kaggle, load_training_data
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.bus import DynamoIdempotencyStore, HandlerRegistry, Publisher, run_once
from shared.errors import ConfigurationError
from shared.infra import InfraSpec
from shared.lease import DynamoLease
from shared.logs import configure_logging, get_logger
from shared.worker import default_instance, run_worker

__all__ = ["build_handlers", "git_commit", "main"]

log = get_logger(__name__)

SERVICE = "training"


def git_commit() -> str:
    """The commit this code runs from: TOXIC_GIT_COMMIT (set in images), else git, else unknown."""
    if commit := os.environ.get("TOXIC_GIT_COMMIT"):
        return commit
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=os.path.dirname(__file__),
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def build_handlers(
    settings: TrainingSettings, clients: AwsClients, publisher: Publisher, kit: ModelKit
) -> HandlerRegistry:
    """The training worker's handlers, wired to real adapters."""
    if not settings.mlflow_tracking_uri:
        raise ConfigurationError("the training service needs MLFLOW_TRACKING_URI")
    spec = InfraSpec.for_prefix(settings.prefix)
    instance = settings.instance or default_instance()
    source = Source(service=SERVICE, instance=instance)
    job = TrainingJob(
        kit=kit,
        registry=MlflowRegistry(settings.mlflow_tracking_uri, settings.experiment),
        store=ArtifactStore(clients.s3, spec.bucket.name),
        source=source,
        model_name=settings.model_name,
        git_commit=git_commit(),
        mean_tolerance=settings.gate_mean_auc_tolerance,
        label_tolerance=settings.gate_label_auc_tolerance,
    )

    async def train(requests: Sequence[RetrainRequested]) -> Envelope:
        ids = [r.request_id for r in requests]
        try:
            base = await asyncio.to_thread(
                load_training_data,
                settings.data_paths,
                kaggle=download_from_kaggle if settings.use_kaggle else None,
            )
        except TrainingDataError as exc:
            return TrainingFailed(
                source=source,
                model_name=settings.model_name,
                request_ids=tuple(ids),
                stage="data",
                error=str(exc),
            )
        feedback = feedback_texts(
            await read_feedback(clients.dynamodb, spec.table("feedback").name)
        )
        rows = join_feedback(base.rows, feedback)
        name = f"{base.origin.value}+feedback" if len(feedback) else base.origin.value
        return await run_training(job, ids, rows, name, feedback_rows=len(feedback))

    lease = DynamoLease(
        clients.dynamodb, spec.table("leases").name, SERVICE, instance, settings.lease_seconds
    )
    coalescer = Coalescer(train, publisher, lease)
    # The marker's lock must outlive a run: a duplicate arriving mid-run waits for it.
    markers = DynamoIdempotencyStore(
        clients.dynamodb, spec.table("processed").name, lock_seconds=settings.lease_seconds
    )

    async def retrain(event: RetrainRequested) -> None:
        # Keyed on the request, not the delivery: a request covered once is never run again.
        key = f"{SERVICE}#request#{event.request_id}"
        await run_once(markers, key, lambda: coalescer.handle(event))

    return {"RetrainRequested": [retrain]}


def main() -> None:
    """Entry point of `toxic serve training`."""
    from services.training.kit import default_kit

    configure_logging()
    settings = TrainingSettings()
    kit = default_kit()

    def handlers(clients: AwsClients, publisher: Publisher) -> HandlerRegistry:
        return build_handlers(settings, clients, publisher, kit)

    asyncio.run(run_worker(settings, SERVICE, handlers))
