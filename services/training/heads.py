"""First-stage heads and the stacking that mixes them: the fitting half of ``model.py``.

Each head kind gives one logistic regression per label, fitted on the rows that carry the label:

- ``plain``: on the TF-IDF features, classes balanced.
- ``nb``: on features scaled by the naive-Bayes log-count ratio of the label (NB-LR); strong
  where data is plentiful (toxic, obscene), weak for rare labels, which stacking sorts out.
- ``conditional``: only on rows labelled toxic, so it learns what tells a threat from other
  toxic comments; the toxic head, with every row, supplies the "is it toxic at all" part.

Stacking fits, per label, a logistic regression on the out-of-fold logits of every head (folds by
text hash). Every step is linear in the features, so the result folds into one weight matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from contracts.vocabulary import LABELS
from shared.model.toxicity import HEAD_KINDS

__all__ = ["fit_heads", "fit_stack", "logistic"]


Floats = NDArray[np.float64]
Mask = NDArray[np.bool_]

# Far from 0 and 1 so a label with one class gives a finite logit.
_PRIOR_CLIP = 1e-4
_NB_SMOOTHING = 1.0


def logistic(
    x: sp.csr_matrix | Floats, y: Floats, c: float, balanced: bool
) -> tuple[Floats, float]:
    """(weights, bias) of a logistic regression; a single-class ``y`` gives its clipped prior."""
    rate = float(np.clip(y.mean() if len(y) else 0.5, _PRIOR_CLIP, 1 - _PRIOR_CLIP))
    if len(np.unique(y)) < 2:
        return np.zeros(x.shape[1]), float(np.log(rate / (1 - rate)))
    head = LogisticRegression(
        C=c, solver="liblinear", class_weight="balanced" if balanced else None, max_iter=1000
    ).fit(x, y)
    return head.coef_[0].astype(np.float64), float(head.intercept_[0])


def _nb_logistic(x: sp.csr_matrix, y: Floats, c: float) -> tuple[Floats, float]:
    """NB-LR: scale features by the log-count ratio, fit, and fold the scale into the weights."""
    if len(np.unique(y)) < 2:
        return logistic(x, y, c, True)
    positive = np.asarray(x[y == 1].sum(axis=0)).ravel() + _NB_SMOOTHING
    negative = np.asarray(x[y == 0].sum(axis=0)).ravel() + _NB_SMOOTHING
    ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    weights, bias = logistic(x @ sp.diags(ratio.astype(np.float32)), y, c, True)
    return weights * ratio, bias


def fit_heads(
    kinds: Sequence[str],
    x: sp.csr_matrix,
    labels: Floats,
    rows: Mask,
    c: float,
    pool: ThreadPoolExecutor,
) -> tuple[Floats, Floats]:
    """Every head of every kind on ``rows``: weights (features, kinds * L) and bias (kinds * L,)."""
    toxic = labels[:, 0] == 1
    jobs: list[Future[tuple[Floats, float]]] = []
    for kind in kinds:
        for j in range(len(LABELS)):
            keep = rows & ~np.isnan(labels[:, j])
            if kind == "conditional":
                keep &= toxic
            if kind == "nb":
                jobs.append(pool.submit(_nb_logistic, x[keep], labels[keep, j], c))
            elif kind in HEAD_KINDS:
                jobs.append(pool.submit(logistic, x[keep], labels[keep, j], c, True))
            else:
                raise ValueError(f"unknown head kind {kind!r}; known: {', '.join(HEAD_KINDS)}")
    heads = [job.result() for job in jobs]
    return np.column_stack([w for w, _ in heads]), np.array([b for _, b in heads])


def fit_stack(
    kinds: Sequence[str],
    x: sp.csr_matrix,
    labels: Floats,
    fold: NDArray[np.intp],
    c: float,
    stack_c: float,
    pool: ThreadPoolExecutor,
) -> tuple[Floats, Floats]:
    """Per label, a logistic regression on out-of-fold logits of every head: (mixing, offset)."""
    width = len(kinds) * len(LABELS)
    out_of_fold = np.zeros((x.shape[0], width))
    for f in np.unique(fold):
        held = fold == f
        weights, bias = fit_heads(kinds, x, labels, ~held, c, pool)
        out_of_fold[held] = x[held] @ weights + bias
    mixing = np.zeros((width, len(LABELS)))
    offset = np.zeros(len(LABELS))
    for j in range(len(LABELS)):
        keep = ~np.isnan(labels[:, j])
        mixing[:, j], offset[j] = logistic(out_of_fold[keep], labels[keep, j], stack_c, False)
    return mixing, offset
