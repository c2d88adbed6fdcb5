"""The multi-label toxicity model as it scores: one linear logit per label over n-gram TF-IDF.

The fitting lives with the training service (``services/training/model.py``); this half is what
every process that scores needs, and what a model file holds. How a model is fitted, on train
rows unless said otherwise:

1. :class:`~shared.model.features.NgramFeatures` (word 1-2-grams and character 2-4-grams).
2. Logistic-regression heads of a few kinds (``services/training/heads.py``), one per label and
   kind, each on the rows that carry that label only (a row from a toxic-only file trains the
   toxic heads alone).
3. Stacking: each label's final logit is a logistic regression on the logits of every head,
   fitted on out-of-fold logits (folds by text hash). The toxic head learns from every row (about
   four times the rows of the others), and its logit lifts the rare labels (threat, identity_hate)
   whose own heads saw few positives. Both stages are linear, so the stacked model folds into one
   weight matrix: scoring costs the same as one head, and explanations stay exact.
4. Platt calibration per label and the threshold with the best F1, both on validation rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray

from contracts.vocabulary import LABELS, Label
from shared.model.calibration import PlattCalibrator
from shared.model.features import NgramFeatures

__all__ = ["HEAD_KINDS", "Contribution", "ModelConfig", "ToxicityModel"]

HEAD_KINDS = ("plain", "nb", "conditional")

Floats = NDArray[np.float64]
Params = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class ModelConfig:
    """One candidate configuration; ``params()`` is what a tracking run logs."""

    name: str
    char_orders: tuple[int, int] = (2, 4)
    word_orders: tuple[int, int] = (1, 2)
    max_char_features: int = 100_000
    max_word_features: int = 100_000
    min_df: int = 2
    max_chars: int = 2_000
    c: float = 4.0
    heads: tuple[str, ...] = HEAD_KINDS
    stacking: bool = True
    folds: int = 4
    stack_c: float = 0.1

    def params(self) -> Params:
        flat: Params = {}
        for key, value in asdict(self).items():
            flat[key] = "-".join(map(str, value)) if isinstance(value, tuple) else value
        return flat

    def features(self) -> NgramFeatures:
        return NgramFeatures(
            char_orders=self.char_orders,
            word_orders=self.word_orders,
            max_char_features=self.max_char_features,
            max_word_features=self.max_word_features,
            min_df=self.min_df,
            max_chars=self.max_chars,
        )


@dataclass(frozen=True)
class Contribution:
    """An n-gram of the text (``text[start:end] == ngram``) and how much it raised a logit."""

    ngram: str
    start: int
    end: int
    weight: float


@dataclass
class ToxicityModel:
    """A fitted model: one linear logit per label, Platt-calibrated, with F1-best thresholds."""

    config: ModelConfig
    features: NgramFeatures
    weights: NDArray[np.float32] = field(repr=False)  # (n_features, labels)
    bias: Floats
    calibrator: PlattCalibrator
    thresholds: Floats
    labels: tuple[str, ...] = tuple(label.value for label in LABELS)
    # True after refit_model: the validation rows trained it too.
    fitted_on_validation: bool = False

    def decision_function(self, texts: Sequence[str]) -> Floats:
        """Uncalibrated logits, shape (n, labels)."""
        logits: Floats = np.asarray(self.features.transform(texts) @ self.weights, np.float64)
        return logits + self.bias

    def predict_proba(self, texts: Sequence[str]) -> Floats:
        """Calibrated probabilities, one row per text and one column per label (LABELS order)."""
        return self.calibrator.transform(self.decision_function(texts))

    def predict(self, texts: Sequence[str]) -> NDArray[np.bool_]:
        """Whether each label's probability reaches its threshold."""
        flagged: NDArray[np.bool_] = self.predict_proba(texts) >= self.thresholds
        return flagged

    def explain(self, text: str, top: int = 5) -> dict[Label, list[Contribution]]:
        """Per label, the n-grams of ``text`` that raised its score most (largest first).

        Character n-grams are credited to the whitespace-separated token they lie in, so the
        n-grams reported are tokens and word bigrams, with spans into the original ``text``.
        """
        found = self.features.occurrences(text)
        row = self.features.transform([text])
        value = np.zeros(self.features.n_features, dtype=np.float64)
        value[row.indices] = row.data
        repeats = np.bincount(found.columns, minlength=self.features.n_features)
        share = value[found.columns] / np.maximum(repeats[found.columns], 1)
        pushes = share[:, None] * self.weights[found.columns].astype(np.float64)

        starts, ends = _token_spans(text)
        if len(starts) == 0 or len(found.columns) == 0:
            return {label: [] for label in LABELS}
        # Word bigrams keep their own span; every other n-gram is credited to the token it lies
        # in (a character n-gram may include the space on either side of its token).
        token = np.searchsorted(starts, np.maximum(found.starts, 0), side="right") - 1
        before = (token < 0) | (ends[np.maximum(token, 0)] <= found.starts)
        token = np.clip(np.where(before, token + 1, token), 0, len(starts) - 1)
        bigram = found.is_word & (found.orders > 1)
        span_start = np.where(bigram, found.starts, starts[token])
        span_end = np.where(bigram, found.ends, ends[token])
        spans, which = np.unique(
            np.column_stack([span_start, span_end]), axis=0, return_inverse=True
        )
        totals = np.zeros((len(spans), len(LABELS)))
        np.add.at(totals, which.ravel(), pushes)

        explained: dict[Label, list[Contribution]] = {}
        for j, label in enumerate(LABELS):
            ranked = np.argsort(-totals[:, j], kind="stable")[:top]
            explained[label] = [
                Contribution(text[s:e], int(s), int(e), float(totals[k, j]))
                for k in ranked
                for s, e in [spans[k]]
                if totals[k, j] > 0
            ]
        return explained


def _token_spans(text: str) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and ends of the whitespace-separated tokens of ``text``."""
    starts: list[int] = []
    ends: list[int] = []
    inside = False
    for i, char in enumerate(text):
        if char.isspace() == inside:
            (ends if inside else starts).append(i)
            inside = not inside
    if inside:
        ends.append(len(text))
    return np.array(starts, dtype=np.intp), np.array(ends, dtype=np.intp)
