"""How good a model is and what its inputs looked like, as the contract objects events carry.

- :func:`label_metrics`: per-label ROC AUC, PR AUC, F1 at the model's threshold and calibration
  error, on the rows that carry each label.
- :func:`drift_baseline`: per-label score histograms and flagged rates, and a text-length
  histogram, on the validation rows, for monitoring to compare live traffic against.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from contracts.events import DriftBaseline, Histogram, LabelMetrics
from contracts.vocabulary import LABELS, Label
from services.training.data import LabelledTexts
from shared.model.calibration import expected_calibration_error
from shared.model.toxicity import ToxicityModel

__all__ = [
    "LENGTH_EDGES",
    "SCORE_EDGES",
    "drift_baseline",
    "label_metrics",
    "mean_auc",
    "metrics_from_scores",
]

SCORE_EDGES: tuple[float, ...] = tuple(i / 10 for i in range(11))
# Characters; the last edge is above the longest text a contract accepts (100,000).
LENGTH_EDGES: tuple[float, ...] = (0, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 100_001)

Floats = NDArray[np.float64]


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def metrics_from_scores(
    labels: Floats, scores: Floats, thresholds: Floats
) -> dict[Label, LabelMetrics]:
    """Metrics per label from (n, 6) truths (NaN: not labelled) and probabilities.

    A label whose rows hold one class only has no ROC AUC: it reports 0.5 (no information), and
    its PR AUC is the positive rate.
    """
    metrics: dict[Label, LabelMetrics] = {}
    for j, label in enumerate(LABELS):
        known = ~np.isnan(labels[:, j])
        y, p = labels[known, j], scores[known, j]
        both = 0 < y.sum() < len(y)
        metrics[label] = LabelMetrics(
            roc_auc=_clip(roc_auc_score(y, p)) if both else 0.5,
            pr_auc=_clip(average_precision_score(y, p))
            if both
            else _clip(y.mean() if len(y) else 0),
            f1=_clip(f1_score(y, p >= thresholds[j], zero_division=0.0)),
            ece=_clip(expected_calibration_error(y, p)),
        )
    return metrics


def label_metrics(model: ToxicityModel, data: LabelledTexts) -> dict[Label, LabelMetrics]:
    """The model's metrics on ``data`` (for a published model: the held-out rows)."""
    return metrics_from_scores(data.labels, model.predict_proba(data.texts), model.thresholds)


def mean_auc(metrics: dict[Label, LabelMetrics]) -> float:
    return float(np.mean([m.roc_auc for m in metrics.values()]))


def _histogram(values: Floats, edges: tuple[float, ...]) -> Histogram:
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=np.array(edges))
    return Histogram(edges=edges, counts=tuple(int(c) for c in counts))


def drift_baseline(model: ToxicityModel, data: LabelledTexts) -> DriftBaseline:
    """Score and length distributions of ``data`` (the validation rows) under ``model``."""
    if len(data) == 0:
        raise ValueError("a drift baseline needs at least one validation row")
    scores = model.predict_proba(data.texts)
    flagged = scores >= model.thresholds
    lengths = np.array([len(text) for text in data.texts], dtype=np.float64)
    return DriftBaseline(
        score_histograms={
            label: _histogram(scores[:, j], SCORE_EDGES) for j, label in enumerate(LABELS)
        },
        positive_rates={label: float(flagged[:, j].mean()) for j, label in enumerate(LABELS)},
        text_length_histogram=_histogram(lengths, LENGTH_EDGES),
        rows=len(data),
    )
