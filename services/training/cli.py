"""``toxic train`` and ``toxic score``: training and scoring from the command line.

Both work with no service running: ``toxic train --no-publish`` trains in this process only, and
``toxic score --model DIR`` reads a local model folder. Publishing needs MLflow and AWS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from contracts import (
    LABELS,
    Envelope,
    Label,
    LabelMetrics,
    ModelPublished,
    ModelRejected,
    Source,
    TrainingFailed,
)
from services.training.data import LabelledTexts, TrainingDataError
from services.training.local import read_artifact, train_local, write_artifact
from services.training.pipeline_ports import ModelKit
from services.training.scoring import Scorer, score_csv
from services.training.settings import TrainingSettings
from services.training.sources import download_from_kaggle, load_training_data
from shared.artifacts import ArtifactStore, Manifest
from shared.errors import NotFoundError, PlatformError
from shared.infra import InfraSpec

__all__ = ["score_command", "train_command"]


def _table(
    candidate: Mapping[Label, LabelMetrics], champion: Mapping[Label, LabelMetrics] | None
) -> str:
    head = f"{'label':14} {'ROC AUC':>8} {'PR AUC':>8} {'F1':>8} {'ECE':>8}"
    head += f" {'champion AUC':>13}" if champion else ""
    lines = [head]
    for label in LABELS:
        m = candidate[label]
        line = f"{label.value:14} {m.roc_auc:8.4f} {m.pr_auc:8.4f} {m.f1:8.4f} {m.ece:8.4f}"
        if champion:
            line += f" {champion[label].roc_auc:13.4f}"
        lines.append(line)
    mean = sum(m.roc_auc for m in candidate.values()) / len(candidate)
    footer = f"{'mean':14} {mean:8.4f}"
    if champion:
        footer += " " * 27 + f" {sum(m.roc_auc for m in champion.values()) / len(champion):13.4f}"
    lines.append(footer)
    return "\n".join(lines)


class _Stages:
    """Prints each stage as it starts and how long the one before it took."""

    def __init__(self) -> None:
        self._current: tuple[str, float] | None = None

    def __call__(self, stage: str) -> None:
        self.done()
        typer.echo(f"  … {stage}")
        self._current = (stage, time.monotonic())

    def done(self) -> None:
        if self._current is not None:
            name, started = self._current
            typer.echo(f"  ✓ {name} ({time.monotonic() - started:.1f} s)")
            self._current = None


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(1)


def train_command(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="A Jigsaw-format CSV file; repeat for several."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Also write model.skops and manifest.json here.")
    ] = None,
    publish: Annotated[
        bool,
        typer.Option(
            "--publish/--no-publish",
            help="Register in MLflow, store in S3 and announce the model (needs both); "
            "--no-publish trains in this process only.",
        ),
    ] = True,
) -> None:
    """Train a model, print its metrics on held-out rows, and publish it if it passes the gate."""
    from services.training.kit import default_kit

    settings = TrainingSettings()
    paths = tuple(data or settings.data_paths)
    kit = default_kit()
    stages = _Stages()
    try:
        stages("data")
        loaded = load_training_data(
            paths, kaggle=download_from_kaggle if settings.use_kaggle else None
        )
        typer.echo(
            f"    {len(loaded.rows)} comments from {loaded.origin.value} "
            f"({', '.join(map(str, loaded.files))}), digest {loaded.digest[:12]}"
        )
        if not publish:
            stages("training")
            local = train_local(kit, loaded.rows, settings.model_name)
            stages.done()
            typer.echo(_table(local.holdout_metrics, None))
            if output is not None:
                write_artifact(output, local.model_bytes, local.manifest)
                typer.echo(f"model written to {output} (sha256 {local.manifest.sha256[:12]})")
            return
        stages.done()
        compared: dict[str, Mapping[Label, LabelMetrics] | None] = {}
        outcome = asyncio.run(
            _publish(settings, kit, loaded.rows, loaded.origin.value, stages, compared)
        )
    except (TrainingDataError, PlatformError) as exc:
        stages.done()
        raise _fail(str(exc)) from None
    stages.done()
    if isinstance(outcome, TrainingFailed):
        raise _fail(f"training failed at {outcome.stage}: {outcome.error}")
    if isinstance(outcome, ModelRejected):
        typer.echo(_table(outcome.candidate_metrics, outcome.champion_metrics))
        typer.echo(f"version {outcome.candidate_version} REJECTED: " + "; ".join(outcome.reasons))
        raise typer.Exit(3)
    assert isinstance(outcome, ModelPublished)
    typer.echo(_table(outcome.metrics, compared.get("champion")))
    typer.echo(f"version {outcome.model_version} published as champion ({outcome.artifact_uri})")


async def _publish(
    settings: TrainingSettings,
    kit: ModelKit,
    rows: LabelledTexts,
    origin: str,
    stages: _Stages,
    compared: dict[str, Mapping[Label, LabelMetrics] | None],
) -> Envelope:
    # Imported here: MLflow and aiobotocore take seconds to import, which --no-publish need not pay.
    from services.training.bootstrap import SERVICE, git_commit
    from services.training.pipeline import TrainingJob, run_training
    from services.training.registry import MlflowRegistry
    from shared.aws import open_clients
    from shared.worker import default_instance, open_publisher

    if not settings.mlflow_tracking_uri:
        raise _fail("publishing needs MLFLOW_TRACKING_URI (or use --no-publish)")
    spec = InfraSpec.for_prefix(settings.prefix)
    async with open_clients(settings) as clients:
        job = TrainingJob(
            kit=kit,
            registry=MlflowRegistry(settings.mlflow_tracking_uri, settings.experiment),
            store=ArtifactStore(clients.s3, spec.bucket.name),
            source=Source(service=SERVICE, instance=f"cli-{default_instance()}"),
            model_name=settings.model_name,
            git_commit=git_commit(),
            mean_tolerance=settings.gate_mean_auc_tolerance,
            label_tolerance=settings.gate_label_auc_tolerance,
            on_stage=stages,
            on_evaluated=lambda _, champion: compared.update(champion=champion),
        )
        outcome = await run_training(job, [], rows, origin)
        publisher = await open_publisher(clients, spec)
        await publisher.publish([outcome])
        return outcome


def score_command(
    source: Annotated[Path, typer.Argument(help="CSV with a comment_text column.")],
    target: Annotated[Path, typer.Argument(help="Where to write the scored CSV.")],
    model: Annotated[
        Path | None,
        typer.Option(help="A model folder (from `toxic train --output`); default: the champion."),
    ] = None,
) -> None:
    """Score every comment of a CSV: the input rows, in order, with a probability per label."""
    from services.training.kit import default_kit

    kit = default_kit()
    try:
        if model is not None:
            scorer, manifest = read_artifact(model, kit)
        else:
            scorer, manifest = asyncio.run(_champion(kit))
        started = time.monotonic()
        rows = score_csv(scorer, source, target)
    except (TrainingDataError, PlatformError, ValueError) as exc:
        raise _fail(str(exc)) from None
    seconds = time.monotonic() - started
    typer.echo(
        f"scored {rows} comments with {manifest.model_name} {manifest.model_version} "
        f"in {seconds:.1f} s; wrote {target}"
    )


async def _champion(kit: ModelKit) -> tuple[Scorer, Manifest]:
    """The champion's model from S3, refused unless its sha256 matches its manifest."""
    from shared.aws import open_clients

    settings = TrainingSettings()
    spec = InfraSpec.for_prefix(settings.prefix)
    async with open_clients(settings) as clients:
        store = ArtifactStore(clients.s3, spec.bucket.name)
        pointer = (await store.read_champion()).pointer
        if pointer is None:
            raise NotFoundError("the champion pointer could not be read")
        manifest = await store.get_manifest(pointer.manifest_key)
        data = await store.get_bytes(manifest.model_key)
    return kit.load(data, manifest.sha256), manifest
