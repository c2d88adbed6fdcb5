"""The production ModelKit: the stacked word and character n-gram model of ``model.py``."""

from __future__ import annotations

from collections.abc import Sequence

from contracts import LABELS, DriftBaseline, Label, LabelMetrics
from services.training.data import LabelledTexts
from services.training.model import fit_model, refit_model
from services.training.pipeline_ports import Candidate
from services.training.quality import drift_baseline, label_metrics
from services.training.selection import candidates
from services.training.splits import Splits
from shared.model.artifact import dumps, library_versions, loads
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = ["ToxicityKit", "default_kit"]


class ToxicityKit:
    """Fits, judges, stores and loads :class:`ToxicityModel` for the training pipeline."""

    def __init__(self, configs: Sequence[ModelConfig] | None = None) -> None:
        chosen = candidates() if configs is None else tuple(configs)
        self._configs = {config.name: config for config in chosen}

    def candidates(self) -> Sequence[Candidate]:
        return [Candidate(name, config.params()) for name, config in self._configs.items()]

    def fit(self, candidate: Candidate, splits: Splits) -> ToxicityModel:
        return fit_model(self._configs[candidate.name], splits.train, splits.validation)

    def refit(self, model: ToxicityModel, splits: Splits) -> ToxicityModel:
        return refit_model(model, splits.train, splits.validation)

    def evaluate(self, model: ToxicityModel, data: LabelledTexts) -> dict[Label, LabelMetrics]:
        return label_metrics(model, data)

    def baseline(self, model: ToxicityModel, data: LabelledTexts) -> DriftBaseline:
        return drift_baseline(model, data)

    def thresholds(self, model: ToxicityModel) -> dict[Label, float]:
        return {label: float(t) for label, t in zip(LABELS, model.thresholds, strict=True)}

    def dump(self, model: ToxicityModel) -> bytes:
        return dumps(model)

    def load(self, data: bytes, sha256: str) -> ToxicityModel:
        return loads(data, sha256)

    def library_versions(self) -> dict[str, str]:
        return library_versions()


def default_kit() -> ToxicityKit:
    return ToxicityKit()
