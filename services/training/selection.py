"""Candidate configurations and the choice between them, made on validation rows only.

The held-out rows never take part: they judge the chosen model afterwards (and the champion, in
the quality gate). Every candidate's validation metrics are returned so that a tracking run can
log each one. The winner is then refitted on train and validation rows (more rows lift the rare
labels most); its calibration and thresholds stay those chosen on validation rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

from contracts.events import DriftBaseline, LabelMetrics
from contracts.vocabulary import Label
from services.training.model import fit_model, refit_model
from services.training.quality import drift_baseline, label_metrics, mean_auc
from services.training.splits import Splits
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = ["Selection", "candidates", "config_from_params", "select"]


def candidates() -> tuple[ModelConfig, ...]:
    """The configurations compared on every training run, the expected winner first."""
    return (
        ModelConfig(name="stacked-words-chars"),
        ModelConfig(name="words-chars", stacking=False),
        ModelConfig(name="stacked-words", char_orders=(0, 0), max_char_features=0),
    )


def config_from_params(name: str, params: Mapping[str, object]) -> ModelConfig:
    """The inverse of :meth:`ModelConfig.params` (as logged): rebuild a configuration."""
    values: dict[str, object] = {"name": name}
    for spec in fields(ModelConfig):
        if spec.name == "name" or spec.name not in params:
            continue
        raw = params[spec.name]
        default = getattr(ModelConfig, spec.name, None)
        if isinstance(default, tuple):
            parts = str(raw).split("-")
            numeric = all(isinstance(item, int) for item in default)
            values[spec.name] = tuple(int(p) for p in parts) if numeric else tuple(parts)
        elif isinstance(default, bool):
            values[spec.name] = raw if isinstance(raw, bool) else str(raw).lower() == "true"
        elif isinstance(default, int):
            values[spec.name] = int(str(raw))
        elif isinstance(default, float):
            values[spec.name] = float(str(raw))
    return ModelConfig(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Selection:
    """The chosen model and what every candidate scored on validation rows.

    ``model`` is the one to publish (refitted on train and validation rows unless asked not to);
    ``tuned`` is the chosen train-only fit, whose calibration and thresholds ``model`` carries;
    ``baseline`` is the drift baseline of ``tuned`` on validation rows, which it never trained on.
    """

    model: ToxicityModel
    tuned: ToxicityModel
    config: ModelConfig
    validation: dict[str, dict[Label, LabelMetrics]]
    baseline: DriftBaseline


def select(
    splits: Splits,
    configs: Sequence[ModelConfig] | None = None,
    on_candidate: Callable[[ModelConfig, dict[Label, LabelMetrics]], None] | None = None,
    *,
    refit: bool = True,
) -> Selection:
    """Fit every configuration on train rows, keep the best mean ROC AUC on validation rows.

    With ``refit``, the winner is then fitted again on train and validation rows together.
    """
    configs = candidates() if configs is None else configs
    if not configs:
        raise ValueError("no candidate configuration to choose from")
    scored: dict[str, dict[Label, LabelMetrics]] = {}
    best: tuple[float, ModelConfig, ToxicityModel] | None = None
    for config in configs:
        model = fit_model(config, splits.train, splits.validation)
        metrics = label_metrics(model, splits.validation)
        scored[config.name] = metrics
        if on_candidate is not None:
            on_candidate(config, metrics)
        if best is None or mean_auc(metrics) > best[0]:
            best = (mean_auc(metrics), config, model)
    assert best is not None
    _, config, tuned = best
    final = refit_model(tuned, splits.train, splits.validation) if refit else tuned
    return Selection(
        model=final,
        tuned=tuned,
        config=config,
        validation=scored,
        baseline=drift_baseline(tuned, splits.validation),
    )
