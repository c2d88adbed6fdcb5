"""The ports a training run depends on: the model code and the MLflow registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from contracts import DriftBaseline, Label, LabelMetrics
from services.training.data import LabelledTexts
from services.training.splits import Splits

__all__ = ["Candidate", "ChampionVersion", "ModelKit", "Registry"]


@dataclass(frozen=True)
class ChampionVersion:
    """The version the ``champion`` alias points at, and where its artifacts are."""

    name: str
    version: str
    run_id: str | None
    source: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Candidate:
    """One configuration to try; ``params`` are logged to its MLflow child run."""

    name: str
    params: Mapping[str, Any]


class ModelKit(Protocol):
    """What the pipeline needs from the model code: fit, judge, store and load models."""

    def candidates(self) -> Sequence[Candidate]: ...

    def fit(self, candidate: Candidate, splits: Splits) -> Any:
        """A calibrated model with thresholds, fitted on train and tuned on validation rows."""
        ...

    def refit(self, model: Any, splits: Splits) -> Any:
        """The chosen model refitted on train + validation rows, keeping its calibration and
        thresholds (chosen on validation rows before the refit)."""
        ...

    def evaluate(self, model: Any, data: LabelledTexts) -> dict[Label, LabelMetrics]: ...

    def baseline(self, model: Any, data: LabelledTexts) -> DriftBaseline: ...

    def thresholds(self, model: Any) -> dict[Label, float]: ...

    def dump(self, model: Any) -> bytes:
        """The model as a skops file."""
        ...

    def load(self, data: bytes, sha256: str) -> Any:
        """A model from a skops file whose sha256 must match."""
        ...

    def library_versions(self) -> dict[str, str]: ...


class Registry(Protocol):
    """The MLflow operations a run uses (see ``services.training.registry.MlflowRegistry``)."""

    def start_run(
        self, name: str, *, tags: Mapping[str, str] | None = None, parent_run_id: str | None = None
    ) -> str: ...

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None: ...

    def log_dataset(
        self, run_id: str, *, name: str, digest: str, source_uri: str, context: str = "training"
    ) -> None: ...

    def log_file(
        self, run_id: str, name: str, data: bytes, artifact_path: str | None = None
    ) -> None: ...

    def end_run(self, run_id: str, *, failed: bool = False) -> None: ...

    def register(
        self, name: str, *, source: str, run_id: str, tags: Mapping[str, str] | None = None
    ) -> str: ...

    def champion(self, name: str) -> ChampionVersion | None: ...

    def set_champion(self, name: str, version: str) -> None: ...

    def tag_version(self, name: str, version: str, tags: Mapping[str, str]) -> None: ...
