"""Calibrated probabilities, their calibration error and per-label decision thresholds.

Calibration is Platt scaling (a logistic curve on the model's logit), fitted on validation rows.
Why not isotonic regression: it is a step function, and with the few positives the rare labels
have on validation (threat: about 20) its steps tie many held-out comments at one value, which
costs ranking quality (ROC AUC); the stacked model's logit is already close to calibrated, so a
two-parameter correction is enough to meet the calibration target.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

__all__ = [
    "ECE_BINS",
    "PlattCalibrator",
    "best_f1_threshold",
    "expected_calibration_error",
    "sigmoid",
]

ECE_BINS = 15
# Fewer positives or negatives than this on validation: keep the model's own probabilities and
# the 0.5 threshold instead of fitting on a handful of rows.
MIN_CLASS_ROWS = 3

Floats = NDArray[np.float64]


def sigmoid(z: Floats) -> Floats:
    out: Floats = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warnings for large |z|
    return out


def expected_calibration_error(y: Floats, p: Floats, bins: int = ECE_BINS) -> float:
    """Mean |observed rate - mean probability| over equal-width bins on [0, 1], by bin size."""
    if len(p) == 0:
        return 0.0
    index = np.minimum((np.asarray(p) * bins).astype(np.intp), bins - 1)
    observed = np.bincount(index, weights=y, minlength=bins)
    predicted = np.bincount(index, weights=p, minlength=bins)
    return float(np.abs(observed - predicted).sum() / len(p))


def _enough(y: Floats) -> bool:
    positives = int(y.sum())
    return positives >= MIN_CLASS_ROWS and len(y) - positives >= MIN_CLASS_ROWS


class PlattCalibrator:
    """p = sigmoid(slope * z + intercept), one (slope, intercept) per label."""

    def __init__(self, labels: int) -> None:
        self.slope: Floats = np.ones(labels)
        self.intercept: Floats = np.zeros(labels)

    def fit_label(self, j: int, z: Floats, y: Floats) -> None:
        """Fit label ``j`` on logits ``z`` and outcomes ``y``; too few of a class: identity."""
        if not _enough(y):
            self.slope[j], self.intercept[j] = 1.0, 0.0
            return
        # Nearly unregularised: two parameters on thousands of rows.
        curve = LogisticRegression(C=1e4, max_iter=1000).fit(z.reshape(-1, 1), y)
        self.slope[j] = float(curve.coef_[0, 0])
        self.intercept[j] = float(curve.intercept_[0])

    def transform(self, z: Floats) -> Floats:
        """Probabilities for logits ``z`` of shape (n, labels)."""
        return sigmoid(z * self.slope + self.intercept)


def best_f1_threshold(y: Floats, p: Floats) -> float:
    """The probability threshold (predict positive at ``p >= t``) with the highest F1 on (y, p)."""
    if not _enough(y):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1[:-1]))  # the last point (recall 0) has no threshold
    return float(thresholds[best])
