"""The fixed splits: held-out (DESIGN §7), validation and train, all decided by the text's hash.

A comment's side depends on nothing but its normalised text, so the same comment lands on the same
side in every run, in every file, before or after more data is added; deduplicate first
(:func:`services.training.data.deduplicate`) so that no text is counted twice on one side.

- held-out: the last hex digit of :func:`~services.training.data.text_key` is below ``2`` (1 in 8).
  Only ever used to judge a finished model.
- validation: of the other rows, those whose second-to-last hex digit is below ``4`` (1 in 4 of
  them, about 22% of all). Model selection, calibration, thresholds and the drift baseline use it.
- train: the rest (about 66%).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from services.training.data import LabelledTexts

__all__ = ["Part", "Splits", "part_of", "split"]

_HOLDOUT_BELOW = 2
_VALIDATION_BELOW = 4


class Part(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    HOLDOUT = "holdout"


def part_of(key: str) -> Part:
    """The side of a comment, from its :func:`~services.training.data.text_key`."""
    if int(key[-1], 16) < _HOLDOUT_BELOW:
        return Part.HOLDOUT
    if int(key[-2], 16) < _VALIDATION_BELOW:
        return Part.VALIDATION
    return Part.TRAIN


@dataclass(frozen=True)
class Splits:
    train: LabelledTexts
    validation: LabelledTexts
    holdout: LabelledTexts


def split(data: LabelledTexts) -> Splits:
    """Divide deduplicated rows into train, validation and held-out by their text hash."""
    parts = np.array([part_of(key) for key in data.keys])
    return Splits(
        train=data.subset(parts == Part.TRAIN),
        validation=data.subset(parts == Part.VALIDATION),
        holdout=data.subset(parts == Part.HOLDOUT),
    )
