"""Model quality against the seed configuration, on the same held-out rows of the shared data.

    uv run python -m bench.model_quality [--data PATH ...] [--candidate NAME]

Reads the Jigsaw files (default: every CSV in ../shared/data/jigsaw/), deduplicates them and
splits them by text hash (DESIGN §7). Trains:

- the seed configuration: TF-IDF (10k word 1-2-grams, English stop words, text lowercased and
  stripped to ASCII letters) with one balanced logistic regression per label, on every row that
  is not held out (train + validation: it has no use for a validation split);
- ours: every candidate of ``services.training.selection.candidates()`` fitted on train rows,
  the best chosen on validation rows (``--candidate`` fits just one), then refitted on train +
  validation rows with the calibration and thresholds chosen on validation rows.

For reference it also reports the seed fitted on train rows only and our chosen model before the
refit (train rows only).

Then prints, on the held-out rows (for labels other than toxic: the rows that carry them), the
per-label ROC AUC of both, their means and the difference, the mean 15-bin calibration error,
the fit time, and in-process scoring speed: ``predict_proba`` on 4,000 held-out comments in
batches of 1,000, the median of three passes after a warm-up.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bench.results import Figure, write
from contracts.vocabulary import LABELS
from services.training.data import LabelledTexts, deduplicate, read_files
from services.training.quality import mean_auc
from services.training.selection import candidates, select
from services.training.splits import split
from shared.model.calibration import expected_calibration_error

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jigsaw"
SPEED_ROWS = 4_000
BATCH = 1_000
NOT_LETTERS = re.compile(r"[^a-z ]")


class SeedModel:
    """The seed configuration, one head per label on the rows that carry it."""

    def __init__(self) -> None:
        self.vectorizer = TfidfVectorizer(
            max_features=10000,
            ngram_range=(1, 2),
            min_df=2,
            max_df=0.95,
            stop_words="english",
            strip_accents="ascii",
        )
        self.heads: list[LogisticRegression] = []

    @staticmethod
    def clean(texts: Sequence[str]) -> list[str]:
        return [NOT_LETTERS.sub(" ", text.lower()) for text in texts]

    def fit(self, data: LabelledTexts) -> SeedModel:
        x = self.vectorizer.fit_transform(self.clean(data.texts))
        for j in range(len(LABELS)):
            keep = ~np.isnan(data.labels[:, j])
            head = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
            self.heads.append(head.fit(x[keep], data.labels[keep, j]))
        return self

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        x = self.vectorizer.transform(self.clean(texts))
        return np.column_stack([head.predict_proba(x)[:, 1] for head in self.heads])


def per_label(
    data: LabelledTexts, scores: NDArray[np.float64]
) -> tuple[list[float], list[float], list[int]]:
    """ROC AUC, calibration error and number of rows per label, on the rows that carry it."""
    aucs, eces, rows = [], [], []
    for j in range(len(LABELS)):
        keep = ~np.isnan(data.labels[:, j])
        y, p = data.labels[keep, j], scores[keep, j]
        aucs.append(float(roc_auc_score(y, p)))
        eces.append(expected_calibration_error(y, p))
        rows.append(int(keep.sum()))
    return aucs, eces, rows


class Scorer(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]: ...


def comments_per_second(model: Scorer, texts: Sequence[str]) -> float:
    predict = model.predict_proba
    predict(texts[:BATCH])  # warm-up: lookup tables, caches
    passes = []
    for _ in range(3):
        began = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            predict(texts[start : start + BATCH])
        passes.append(len(texts) / (time.perf_counter() - began))
    return statistics.median(passes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, help="Jigsaw-format CSV files")
    parser.add_argument("--candidate", help="fit only this candidate (skip the choice)")
    parser.add_argument("--json", type=Path, help="also write the headline figures here")
    args = parser.parse_args(argv)
    paths = args.data or sorted(DEFAULT_DATA.glob("*.csv"))

    began = time.perf_counter()
    data = read_files(paths)
    splits = split(data)
    print(f"data: {', '.join(str(p) for p in paths)}")
    print(
        f"rows after dedup: {len(data):,} | train {len(splits.train):,} | "
        f"validation {len(splits.validation):,} | held-out {len(splits.holdout):,} "
        f"(read and split in {time.perf_counter() - began:.1f}s)"
    )

    began = time.perf_counter()
    seed = SeedModel().fit(deduplicate([splits.train, splits.validation]))
    seed_fit = time.perf_counter() - began
    seed_train_only = SeedModel().fit(splits.train)

    configs = candidates()
    if args.candidate:
        configs = tuple(c for c in configs if c.name == args.candidate)
        if not configs:
            parser.error(f"no candidate named {args.candidate!r}")
    began = time.perf_counter()
    chosen = select(splits, configs)
    ours_fit = time.perf_counter() - began

    print("\ncandidates on VALIDATION rows (the choice is made here):")
    for name, metrics in chosen.validation.items():
        mark = "  <- chosen" if name == chosen.config.name else ""
        print(f"  {name:22s} mean ROC AUC {mean_auc(metrics):.4f}{mark}")

    holdout = splits.holdout
    seed_auc, seed_ece, rows = per_label(holdout, seed.predict_proba(holdout.texts))
    ours_auc, ours_ece, _ = per_label(holdout, chosen.model.predict_proba(holdout.texts))
    speed_texts = list(holdout.texts[:SPEED_ROWS])
    seed_speed = comments_per_second(seed, speed_texts)
    ours_speed = comments_per_second(chosen.model, speed_texts)

    print(f"\nHELD-OUT rows: seed configuration vs ours ({chosen.config.name})")
    print(f"{'label':14s} {'rows':>6s} {'seed AUC':>9s} {'ours AUC':>9s} {'diff':>8s}")
    for j, label in enumerate(LABELS):
        diff = ours_auc[j] - seed_auc[j]
        print(f"{label.value:14s} {rows[j]:6d} {seed_auc[j]:9.4f} {ours_auc[j]:9.4f} {diff:+8.4f}")
    seed_mean, ours_mean = float(np.mean(seed_auc)), float(np.mean(ours_auc))
    print(f"{'mean':14s} {'':6s} {seed_mean:9.4f} {ours_mean:9.4f} {ours_mean - seed_mean:+8.4f}")
    print()
    print(f"{'':34s} {'seed':>12s} {'ours':>12s}")
    ece = "ECE (15 bins, mean over labels)"
    print(f"{ece:34s} {np.mean(seed_ece):12.4f} {np.mean(ours_ece):12.4f}")
    print(f"{'fit time (s)':34s} {seed_fit:12.1f} {ours_fit:12.1f}")
    print(f"{'comments/s (batches of 1,000)':34s} {seed_speed:12,.0f} {ours_speed:12,.0f}")
    reference_seed, _, _ = per_label(holdout, seed_train_only.predict_proba(holdout.texts))
    reference_ours, _, _ = per_label(holdout, chosen.tuned.predict_proba(holdout.texts))
    print(
        "\nseed: fitted on train + validation rows. ours: candidates fitted on train rows and "
        "chosen,\ncalibrated and thresholded on validation rows, the winner refitted on train + "
        f"validation rows;\nits fit time covers all {len(configs)} candidates and the refit."
    )
    print(
        f"reference, held-out mean ROC AUC: seed fitted on train rows only "
        f"{np.mean(reference_seed):.4f}; ours before the refit {np.mean(reference_ours):.4f}"
    )
    targets = [
        ("mean ROC AUC >= seed + 0.02", ours_mean - seed_mean >= 0.02),
        ("ECE <= 0.03", float(np.mean(ours_ece)) <= 0.03),
        ("comments/s >= 10,000", ours_speed >= 10_000),
    ]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in targets))
    ours_ece_mean = float(np.mean(ours_ece))
    write(
        args.json,
        "model_quality",
        [
            Figure("held-out mean ROC AUC, seed configuration", seed_mean, ""),
            Figure(
                "held-out mean ROC AUC, ours",
                ours_mean,
                "",
                f">= seed + 0.02 ({seed_mean + 0.02:.4f})",
                targets[0][1],
            ),
            Figure(
                "ECE (15 bins, mean over labels), ours", ours_ece_mean, "", "<= 0.03", targets[1][1]
            ),
            Figure(
                "in-process scoring, batches of 1,000, ours",
                ours_speed,
                "comments/s",
                ">= 10,000",
                targets[2][1],
            ),
            Figure("fit time, seed configuration", seed_fit, "s"),
            Figure(
                "training time on the shared data, ours",
                ours_fit,
                "s",
                note=f"{len(configs)} candidates compared and the winner refitted",
            ),
        ],
    )


if __name__ == "__main__":
    main()
