"""A tiny, transparent ModelKit for pipeline tests: per-label word weights, stored as JSON.

It implements our own port (``services.training.pipeline.ModelKit``) so that pipeline tests
exercise MLflow, S3, the gate and the events without waiting on the real model's training.
``strength=-1`` builds a deliberately worse model (its scores are inverted).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from contracts import LABELS, DriftBaseline, Histogram, Label, LabelMetrics
from services.training.data import LabelledTexts
from services.training.pipeline_ports import Candidate
from services.training.splits import Splits

_WORD = re.compile(r"\w+")
TRIGGERS = {
    Label.TOXIC: "awful",
    Label.SEVERE_TOXIC: "vile",
    Label.OBSCENE: "filthy",
    Label.THREAT: "hurt",
    Label.INSULT: "moron",
    Label.IDENTITY_HATE: "bigot",
}
BENIGN = [
    "the",
    "a",
    "thanks",
    "article",
    "edit",
    "page",
    "please",
    "source",
    "good",
    "idea",
    "agree",
    "sure",
    "table",
]


def synthetic_data(rows: int = 1200, seed: int = 7) -> LabelledTexts:
    """Comments made of benign words plus trigger words; a trigger sets its label (and toxic)."""
    rng = random.Random(seed)
    data = []
    for i in range(rows):
        words = [*rng.sample(BENIGN, 4), f"w{i}"]
        labels = dict.fromkeys(LABELS, False)
        for label, trigger in TRIGGERS.items():
            if rng.random() < 0.15:
                words.append(trigger)
                labels[label] = True
                labels[Label.TOXIC] = True
        # Some noise, so no label is perfectly separable.
        if rng.random() < 0.05:
            labels[Label.TOXIC] = not labels[Label.TOXIC]
        rng.shuffle(words)
        data.append((" ".join(words), labels))
    return LabelledTexts.of(data)


class WordModel:
    def __init__(self, weights: dict[str, dict[str, float]], strength: float) -> None:
        self.weights = weights
        self.strength = strength

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(LABELS)))
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for j, label in enumerate(LABELS):
                z = self.strength * sum(self.weights[label.value].get(w, 0.0) for w in words)
                out[i, j] = 1 / (1 + math.exp(-z))
        return out


class WordKit:
    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength

    def candidates(self) -> Sequence[Candidate]:
        return [
            Candidate("words-min1", {"min_count": 1}),
            Candidate("words-min3", {"min_count": 3}),
        ]

    def fit(self, candidate: Candidate, splits: Splits) -> WordModel:
        weights: dict[str, dict[str, float]] = {}
        train = splits.train
        for j, label in enumerate(LABELS):
            pos, neg = Counter[str](), Counter[str]()
            for text, value in zip(train.texts, train.labels[:, j], strict=True):
                if value != value:
                    continue
                (pos if value == 1 else neg).update(set(_WORD.findall(text.lower())))
            weights[label.value] = {
                w: math.log((pos[w] + 1) / (neg[w] + 1))
                for w in set(pos) | set(neg)
                if pos[w] + neg[w] >= candidate.params["min_count"]
            }
        return WordModel(weights, self.strength)

    def refit(self, model: WordModel, splits: Splits) -> WordModel:
        return model

    def evaluate(self, model: WordModel, data: LabelledTexts) -> dict[Label, LabelMetrics]:
        scores = model.predict_proba(data.texts)
        metrics = {}
        for j, label in enumerate(LABELS):
            known = ~np.isnan(data.labels[:, j])
            y, p = data.labels[known, j], scores[known, j]
            metrics[label] = LabelMetrics(
                roc_auc=float(roc_auc_score(y, p)),
                pr_auc=float(average_precision_score(y, p)),
                f1=float(f1_score(y, p >= 0.5)),
                ece=0.0,
            )
        return metrics

    def baseline(self, model: WordModel, data: LabelledTexts) -> DriftBaseline:
        scores = model.predict_proba(data.texts)
        edges = tuple(i / 10 for i in range(11))
        return DriftBaseline(
            score_histograms={
                label: Histogram(
                    edges=edges,
                    counts=tuple(int(c) for c in np.histogram(scores[:, j], bins=edges)[0]),
                )
                for j, label in enumerate(LABELS)
            },
            positive_rates={
                label: float((scores[:, j] >= 0.5).mean()) for j, label in enumerate(LABELS)
            },
            text_length_histogram=Histogram(edges=(0.0, 100.0, 1e6), counts=(len(data), 0)),
            rows=len(data),
        )

    def thresholds(self, model: WordModel) -> dict[Label, float]:
        return dict.fromkeys(LABELS, 0.5)

    def dump(self, model: WordModel) -> bytes:
        return json.dumps({"weights": model.weights, "strength": model.strength}).encode()

    def load(self, data: bytes, sha256: str) -> Any:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("sha256 mismatch")
        raw = json.loads(data)
        return WordModel(raw["weights"], raw["strength"])

    def library_versions(self) -> dict[str, str]:
        return {"tests.fakes": "1"}
