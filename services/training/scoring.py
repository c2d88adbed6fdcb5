"""``toxic score``: score a CSV of comments with a model, keeping every input row in order."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from contracts import LABELS
from services.training.data import TEXT_COLUMN, TrainingDataError

__all__ = ["Scorer", "score_csv"]

# Large enough to amortise vectorisation, small enough to keep memory flat on big files.
BATCH_ROWS = 2_000


class Scorer(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Probabilities, one row per text and one column per label in LABELS order."""
        ...


def _batches(reader: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    batch: list[dict[str, str]] = []
    for row in reader:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_csv(scorer: Scorer, source: Path, target: Path) -> int:
    """Write ``source``'s rows to ``target`` with a probability column per label; returns rows.

    Input columns named after a label are replaced by the model's probability; the others are
    kept as they are, in their order, and missing label columns are added at the end.
    """
    csv.field_size_limit(sys.maxsize)
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TrainingDataError(f"{source}: cannot be read ({exc.strerror})") from None
    with handle, target.open("w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        if TEXT_COLUMN not in header:
            raise TrainingDataError(f"{source}: has no {TEXT_COLUMN!r} column (found {header})")
        columns = header + [label.value for label in LABELS if label.value not in header]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        written = 0
        try:
            for batch in _batches(reader, BATCH_ROWS):
                scores = scorer.predict_proba([row[TEXT_COLUMN] or "" for row in batch])
                for row, row_scores in zip(batch, scores.tolist(), strict=True):
                    for label, score in zip(LABELS, row_scores, strict=True):
                        row[label.value] = f"{score:.6f}"
                    writer.writerow(row)
                written += len(batch)
        except UnicodeDecodeError as exc:
            raise TrainingDataError(f"{source}: is not UTF-8 text ({exc.reason})") from None
    return written
