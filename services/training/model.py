"""Fitting the toxicity model (:class:`~shared.model.toxicity.ToxicityModel`): see its docstring."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from contracts.vocabulary import LABELS
from services.training.data import LabelledTexts, deduplicate
from services.training.heads import fit_heads, fit_stack
from shared.model.calibration import PlattCalibrator, best_f1_threshold
from shared.model.features import NgramFeatures
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = ["fit_model", "refit_model"]

Floats = NDArray[np.float64]


def _fold_of(keys: Sequence[str], folds: int) -> NDArray[np.intp]:
    # The third-to-last hex digit: the last two decide the held-out and validation splits.
    return np.array([int(key[-3], 16) % folds for key in keys], dtype=np.intp)


def _fit_linear(
    config: ModelConfig, data: LabelledTexts
) -> tuple[NgramFeatures, NDArray[np.float32], Floats]:
    """Features, then heads (stacked if configured) folded into one (weights, bias)."""
    features = config.features().fit(data.texts)
    x = features.transform(data.texts)
    everyone = np.ones(len(data), dtype=np.bool_)
    kinds = config.heads if config.stacking else config.heads[:1]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        weights, bias = fit_heads(kinds, x, data.labels, everyone, config.c, pool)
        if config.stacking:
            fold = _fold_of(data.keys, config.folds)
            mixing, offset = fit_stack(kinds, x, data.labels, fold, config.c, config.stack_c, pool)
            weights, bias = weights @ mixing, bias @ mixing + offset
    return features, weights.astype(np.float32), bias


def fit_model(
    config: ModelConfig, train: LabelledTexts, validation: LabelledTexts
) -> ToxicityModel:
    """Fit on ``train``; calibrate and choose thresholds on ``validation``."""
    features, weights, bias = _fit_linear(config, train)
    model = ToxicityModel(
        config=config,
        features=features,
        weights=weights,
        bias=bias,
        calibrator=PlattCalibrator(len(LABELS)),
        thresholds=np.full(len(LABELS), 0.5),
    )
    logits = model.decision_function(validation.texts)
    for j in range(len(LABELS)):
        keep = ~np.isnan(validation.labels[:, j])
        model.calibrator.fit_label(j, logits[keep, j], validation.labels[keep, j])
    probabilities = model.calibrator.transform(logits)
    for j in range(len(LABELS)):
        keep = ~np.isnan(validation.labels[:, j])
        model.thresholds[j] = best_f1_threshold(validation.labels[keep, j], probabilities[keep, j])
    return model


def refit_model(
    model: ToxicityModel, train: LabelledTexts, validation: LabelledTexts
) -> ToxicityModel:
    """``model``'s configuration fitted again on train and validation rows together.

    The calibration and thresholds stay those chosen on validation rows with the train-only fit
    (the refitted model has no unseen rows left to choose them on). Call it after the choice
    between candidates, which must compare train-only fits on validation rows.
    """
    features, weights, bias = _fit_linear(model.config, deduplicate([train, validation]))
    calibrator = PlattCalibrator(len(LABELS))
    calibrator.slope, calibrator.intercept = (
        model.calibrator.slope.copy(),
        model.calibrator.intercept.copy(),
    )
    return ToxicityModel(
        config=model.config,
        features=features,
        weights=weights,
        bias=bias,
        calibrator=calibrator,
        thresholds=model.thresholds.copy(),
        fitted_on_validation=True,
    )
