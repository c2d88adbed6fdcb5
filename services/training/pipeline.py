"""One training run, start to finish: data in, a published, rejected or failed model out.

1. split the data (held-out rows by text hash, DESIGN §7) and snapshot it to S3 by its digest;
2. one MLflow child run per candidate configuration, picked on validation rows only;
3. the chosen model and the current champion both scored now on the same held-out rows;
4. the model file and its manifest to S3, a new registered version in MLflow;
5. the quality gate; if it passes, the ``champion`` alias moves, then the S3 pointer follows.

The result is the event that says how it ended; the caller publishes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from contracts import (
    LABELS,
    Envelope,
    Label,
    LabelMetrics,
    ModelPublished,
    ModelRejected,
    RowCounts,
    Source,
    TrainingFailed,
)
from services.training.data import LabelledTexts, digest
from services.training.gate import quality_gate
from services.training.local import finish
from services.training.pipeline_ports import Candidate, ChampionVersion, ModelKit, Registry
from services.training.report import aucs, evaluation_report, flat_metrics, snapshot_csv
from services.training.splits import split
from shared.artifacts import MANIFEST_FILE, MODEL_FILE, ArtifactStore, ChampionPointer, Manifest
from shared.logs import get_logger

__all__ = ["Candidate", "ModelKit", "Registry", "TrainingJob", "run_training"]

log = get_logger(__name__)

MANIFEST_TAG = "manifest_key"
SHA256_TAG = "sha256"


@dataclass
class TrainingJob:
    """Everything a run needs, wired by the service's bootstrap (or a test)."""

    kit: ModelKit
    registry: Registry
    store: ArtifactStore
    source: Source
    model_name: str
    git_commit: str
    mean_tolerance: float = 0.002
    label_tolerance: float = 0.01
    # Told the name of each stage as it starts (the CLI shows progress with it).
    on_stage: Callable[[str], None] = lambda stage: None
    # Told the held-out metrics of the chosen model and of the champion (None without one).
    on_evaluated: Callable[
        [Mapping[Label, LabelMetrics], Mapping[Label, LabelMetrics] | None], None
    ] = lambda candidate, champion: None


async def _champion_metrics(
    job: TrainingJob, champion: ChampionVersion | None, holdout: LabelledTexts
) -> dict[Label, LabelMetrics] | None:
    """The champion scored now on the same held-out rows, from its verified artifact."""
    if champion is None or MANIFEST_TAG not in champion.tags:
        return None
    manifest = await job.store.get_manifest(champion.tags[MANIFEST_TAG])
    model_bytes = await job.store.get_bytes(manifest.model_key)
    model = await asyncio.to_thread(job.kit.load, model_bytes, manifest.sha256)
    return await asyncio.to_thread(job.kit.evaluate, model, holdout)


async def run_training(
    job: TrainingJob,
    requests: Sequence[UUID],
    data: LabelledTexts,
    data_name: str,
    *,
    feedback_rows: int = 0,
) -> Envelope:
    """Train, judge and maybe publish; returns the event that reports the outcome."""

    def enter(name: str) -> str:
        job.on_stage(name)
        return name

    stage = enter("split")
    parent: str | None = None

    try:
        splits = split(data)
        data_digest = digest(data)
        stage = enter("snapshot")
        dataset_key = await job.store.put_dataset(data_digest, snapshot_csv(data))
        stage = enter("tracking")
        parent = await asyncio.to_thread(
            job.registry.start_run,
            "train",
            tags={"git_commit": job.git_commit, "requests": ",".join(map(str, requests))},
        )
        await asyncio.to_thread(
            job.registry.log_dataset,
            parent,
            name=data_name,
            digest=data_digest,
            source_uri=job.store.uri(dataset_key),
        )
        counts = RowCounts(
            train=len(splits.train),
            validation=len(splits.validation),
            holdout=len(splits.holdout),
            feedback=feedback_rows,
        )
        await asyncio.to_thread(
            job.registry.log, parent, params={**counts.model_dump(), "data": data_name}
        )

        stage = enter("candidates")
        run_id = parent

        def child_run(candidate: Candidate, scored: Mapping[str, float]) -> None:
            # Runs in choose()'s worker thread, so the synchronous MLflow calls are fine here.
            child = job.registry.start_run(candidate.name, parent_run_id=run_id)
            job.registry.log(child, params=candidate.params, metrics=scored)
            job.registry.end_run(child)

        picked = await asyncio.to_thread(finish, job.kit, splits, child_run)
        chosen, model = picked.candidate, picked.final

        stage = enter("evaluation")
        metrics = await asyncio.to_thread(job.kit.evaluate, model, splits.holdout)
        champion = await asyncio.to_thread(job.registry.champion, job.model_name)
        champion_metrics = await _champion_metrics(job, champion, splits.holdout)
        gate = quality_gate(
            aucs(metrics),
            aucs(champion_metrics) if champion_metrics else None,
            mean_tolerance=job.mean_tolerance,
            label_tolerance=job.label_tolerance,
        )
        job.on_evaluated(metrics, champion_metrics)
        baseline = await asyncio.to_thread(job.kit.baseline, picked.tuned, splits.validation)
        await asyncio.to_thread(
            job.registry.log,
            parent,
            params={"chosen": chosen.name, **chosen.params},
            metrics=flat_metrics(metrics, "holdout."),
            tags={"gate": "passed" if gate.passed else "rejected"},
        )
        await asyncio.to_thread(
            job.registry.log_file,
            parent,
            "evaluation.md",
            evaluation_report(chosen.name, metrics, champion_metrics, gate.reasons),
        )

        stage = enter("artifacts")
        model_bytes = await asyncio.to_thread(job.kit.dump, model)
        model_key, sha = await job.store.put_model(job.model_name, parent, model_bytes)
        version = await asyncio.to_thread(
            job.registry.register,
            job.model_name,
            source=job.store.uri(ArtifactStore.model_prefix(job.model_name, parent)),
            run_id=parent,
            tags={SHA256_TAG: sha},
        )
        manifest = Manifest(
            model_name=job.model_name,
            model_version=version,
            model_key=model_key,
            sha256=sha,
            labels=LABELS,
            thresholds=job.kit.thresholds(model),
            metrics=metrics,
            training_data_digest=data_digest,
            dataset_key=dataset_key,
            row_counts=counts,
            baseline=baseline,
            library_versions=job.kit.library_versions(),
            mlflow_run_id=parent,
            config={"candidate": chosen.name, **{k: str(v) for k, v in chosen.params.items()}},
        )
        manifest_key = await job.store.put_manifest(manifest, parent)
        for name, content in (
            (MODEL_FILE, model_bytes),
            (MANIFEST_FILE, manifest.model_dump_json(indent=2).encode()),
        ):
            await asyncio.to_thread(job.registry.log_file, parent, name, content, "model")
        await asyncio.to_thread(
            job.registry.tag_version, job.model_name, version, {MANIFEST_TAG: manifest_key}
        )

        if not gate.passed:
            await asyncio.to_thread(job.registry.end_run, parent)
            return ModelRejected(
                source=job.source,
                model_name=job.model_name,
                request_ids=tuple(requests),
                candidate_version=version,
                champion_version=champion.version if champion else None,
                candidate_metrics=metrics,
                champion_metrics=champion_metrics or metrics,
                reasons=gate.reasons,
                mlflow_run_id=parent,
            )

        stage = enter("promotion")
        # The alias is the authority; the pointer mirrors it, so it is written second.
        await asyncio.to_thread(job.registry.set_champion, job.model_name, version)
        await job.store.write_champion(
            ChampionPointer(
                model_name=job.model_name,
                model_version=version,
                manifest_key=manifest_key,
                sha256=sha,
            )
        )
        await asyncio.to_thread(job.registry.end_run, parent)
        return ModelPublished(
            source=job.source,
            model_name=job.model_name,
            request_ids=tuple(requests),
            model_version=version,
            artifact_uri=job.store.uri(model_key),
            sha256=sha,
            metrics=metrics,
            thresholds=manifest.thresholds,
            training_data_digest=data_digest,
            row_counts=counts,
            mlflow_run_id=parent,
            baseline=baseline,
        )
    except Exception as exc:
        log.error("training_failed", stage=stage, error=str(exc), exc_info=True)
        if parent is not None:
            try:
                await asyncio.to_thread(job.registry.end_run, parent, failed=True)
            except Exception as end_exc:  # the failure event matters more than the run's status
                log.warning("mlflow_end_run_failed", error=str(end_exc))
        return TrainingFailed(
            source=job.source,
            model_name=job.model_name,
            request_ids=tuple(requests),
            stage=stage,
            error=f"{type(exc).__name__}: {exc}"[:4000],
        )
