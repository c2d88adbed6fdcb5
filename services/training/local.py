"""Training without MLflow or S3: the candidate choice, and model artifacts in a local folder.

A local artifact folder holds ``model.skops`` and ``manifest.json``, the same two files a
published model has in S3, so ``toxic score --model DIR`` reads either kind the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import LABELS, Label, LabelMetrics, RowCounts
from services.training.data import LabelledTexts, digest
from services.training.pipeline_ports import Candidate, ModelKit
from services.training.report import flat_metrics
from services.training.splits import Splits, split
from shared.artifacts import MANIFEST_FILE, MODEL_FILE, Manifest
from shared.errors import ConfigurationError
from shared.logs import get_logger

__all__ = [
    "Chosen",
    "LocalModel",
    "choose",
    "finish",
    "read_artifact",
    "train_local",
    "write_artifact",
]

log = get_logger(__name__)

# Told each candidate and its validation metrics as soon as it is scored.
OnCandidate = Callable[[Candidate, Mapping[str, float]], None]


def choose(
    kit: ModelKit, splits: Splits, on_candidate: OnCandidate | None = None
) -> tuple[Candidate, Any]:
    """Fit every candidate and keep the best by mean ROC AUC on validation rows (never held-out)."""
    best: tuple[float, Candidate, Any] | None = None
    for candidate in kit.candidates():
        model = kit.fit(candidate, splits)
        scored = flat_metrics(kit.evaluate(model, splits.validation), "validation.")
        if on_candidate is not None:
            on_candidate(candidate, scored)
        mean = scored["validation.mean.roc_auc"]
        log.info("candidate_scored", candidate=candidate.name, validation_mean_auc=mean)
        if best is None or mean > best[0]:
            best = (mean, candidate, model)
    if best is None:
        raise ConfigurationError("the model kit offered no candidate configuration")
    return best[1], best[2]


def finish(kit: ModelKit, splits: Splits, on_candidate: OnCandidate | None = None) -> Chosen:
    """Choose on validation rows, then refit the winner on train + validation rows."""
    candidate, tuned = choose(kit, splits, on_candidate)
    return Chosen(candidate, tuned, kit.refit(tuned, splits))


@dataclass(frozen=True)
class Chosen:
    """The winning configuration, its model as tuned on validation rows, and the final model.

    The drift baseline comes from ``tuned``: ``final`` has trained on the validation rows.
    """

    candidate: Candidate
    tuned: Any
    final: Any


@dataclass(frozen=True)
class LocalModel:
    model: Any
    manifest: Manifest
    model_bytes: bytes
    holdout_metrics: dict[Label, LabelMetrics]


def train_local(kit: ModelKit, data: LabelledTexts, model_name: str) -> LocalModel:
    """Choose, fit and judge a model on ``data``; nothing leaves this process."""
    splits = split(data)
    chosen = finish(kit, splits)
    model = chosen.final
    metrics = kit.evaluate(model, splits.holdout)
    model_bytes = kit.dump(model)
    manifest = Manifest(
        model_name=model_name,
        model_version=f"local-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        model_key=MODEL_FILE,
        sha256=hashlib.sha256(model_bytes).hexdigest(),
        labels=LABELS,
        thresholds=kit.thresholds(model),
        metrics=metrics,
        training_data_digest=digest(data),
        row_counts=RowCounts(
            train=len(splits.train), validation=len(splits.validation), holdout=len(splits.holdout)
        ),
        baseline=kit.baseline(chosen.tuned, splits.validation),
        library_versions=kit.library_versions(),
        config={
            "candidate": chosen.candidate.name,
            **{k: str(v) for k, v in chosen.candidate.params.items()},
        },
    )
    return LocalModel(model, manifest, model_bytes, metrics)


def write_artifact(folder: Path, model_bytes: bytes, manifest: Manifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(model_bytes)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def read_artifact(folder: Path, kit: ModelKit) -> tuple[Any, Manifest]:
    """A model from a local artifact folder, refused unless its sha256 matches the manifest."""
    try:
        manifest = Manifest.model_validate_json((folder / MANIFEST_FILE).read_bytes())
        model_bytes = (folder / MODEL_FILE).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{folder} is not a model folder ({exc.strerror}: {exc.filename})"
        ) from None
    return kit.load(model_bytes, manifest.sha256), manifest
