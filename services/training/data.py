"""Labelled comments: reading Jigsaw-format CSV files, validating them and deduplicating them.

Labels are an ``(n, 6)`` float array in :data:`contracts.vocabulary.LABELS` order, holding 1.0,
0.0 or NaN for "this row does not say". A file with only the ``toxic`` column gives rows that train
the ``toxic`` head alone.

Every problem with a file raises :class:`TrainingDataError`, whose message names the file and the
problem (and the first bad row and column for label values).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from contracts.vocabulary import LABELS, Label
from shared.errors import PoisonError

__all__ = [
    "LABEL_NAMES",
    "TEXT_COLUMN",
    "LabelledTexts",
    "TrainingDataError",
    "deduplicate",
    "digest",
    "normalise",
    "read_csv",
    "read_files",
    "text_key",
]

TEXT_COLUMN = "comment_text"
LABEL_NAMES: tuple[str, ...] = tuple(label.value for label in LABELS)
_DIGEST_HEADER = ("toxic-training-data/v1\n" + ",".join(LABEL_NAMES) + "\n").encode()


class TrainingDataError(PoisonError, ValueError):
    """Training data that cannot be used: a bad file, a missing column, a label that is not 0/1.

    A ``PoisonError`` because retrying the same request against the same file cannot succeed (the
    consumer dead-letters the request, where it waits for the file to be fixed); a ``ValueError``
    because it is bad input, so a CLI can report it like any other invalid argument.
    """


def normalise(text: str) -> str:
    """Lowercased with every run of whitespace collapsed to one space (DESIGN §7)."""
    return " ".join(text.lower().split())


def text_key(text: str) -> str:
    """The sha256 (hex) of the normalised text: the identity of a comment for dedup and splits."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class LabelledTexts:
    """Comments and their labels; ``labels[i, j]`` is 1.0, 0.0 or NaN (not labelled)."""

    texts: tuple[str, ...]
    labels: NDArray[np.float64] = field(repr=False)

    def __post_init__(self) -> None:
        if self.labels.shape != (len(self.texts), len(LABELS)):
            raise ValueError(
                f"labels must have shape ({len(self.texts)}, {len(LABELS)}), "
                f"not {self.labels.shape}"
            )

    @classmethod
    def of(cls, rows: Iterable[tuple[str, dict[Label, bool]]]) -> LabelledTexts:
        """Build from ``(text, {label: value})`` pairs; labels not named are not labelled."""
        texts: list[str] = []
        values: list[list[float]] = []
        for text, given in rows:
            texts.append(text)
            values.append([float(given[label]) if label in given else np.nan for label in LABELS])
        labels = np.array(values, dtype=np.float64).reshape(len(texts), len(LABELS))
        return cls(tuple(texts), labels)

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The :func:`text_key` of every row."""
        return tuple(text_key(text) for text in self.texts)

    def subset(self, rows: NDArray[np.bool_] | NDArray[np.intp]) -> LabelledTexts:
        """The rows selected by a boolean mask or an index array, in that order."""
        index = np.flatnonzero(rows) if rows.dtype == np.bool_ else rows
        return LabelledTexts(tuple(self.texts[i] for i in index), self.labels[index])

    def labelled(self, label: Label) -> NDArray[np.bool_]:
        """Which rows say something about ``label``."""
        return ~np.isnan(self.labels[:, LABELS.index(label)])


def _open_error(path: Path, exc: OSError) -> TrainingDataError:
    if isinstance(exc, FileNotFoundError):
        return TrainingDataError(f"{path}: the file does not exist")
    if isinstance(exc, IsADirectoryError):
        return TrainingDataError(f"{path}: is a directory, not a CSV file")
    if isinstance(exc, PermissionError):
        return TrainingDataError(f"{path}: the file cannot be read (permission denied)")
    return TrainingDataError(f"{path}: the file cannot be read ({exc})")


def _label_value(path: Path, row: int, column: str, value: str | None) -> float:
    cell = (value or "").strip()
    if cell in {"0", "1"}:
        return float(cell)
    raise TrainingDataError(
        f"{path}: row {row}, column {column!r}: label values must be 0 or 1, found {value!r}"
    )


def read_csv(path: Path | str) -> LabelledTexts:
    """Read one Jigsaw-format CSV: ``comment_text`` and any of the six label columns.

    Other columns (such as ``id``) are ignored; rows with blank text are dropped. Raises
    :class:`TrainingDataError` for a file that is missing, unreadable, not UTF-8, not CSV, empty,
    without the text column, or with a label value other than 0/1.
    """
    path = Path(path)
    texts: list[str] = []
    values: list[list[float]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise TrainingDataError(f"{path}: the file is empty")
            names = [cell.strip() for cell in header]
            if TEXT_COLUMN not in names:
                raise TrainingDataError(
                    f"{path}: no {TEXT_COLUMN!r} column (the header has: {', '.join(names)})"
                )
            text_at = names.index(TEXT_COLUMN)
            label_at = {name: names.index(name) for name in LABEL_NAMES if name in names}
            for row_number, row in enumerate(reader, start=1):
                if len(row) != len(names):
                    if not any(cell.strip() for cell in row):
                        continue  # a blank line
                    raise TrainingDataError(
                        f"{path}: row {row_number} (line {reader.line_num}) has {len(row)} "
                        f"fields, the header has {len(names)}: not a valid CSV file"
                    )
                if not row[text_at].strip():
                    continue
                if "\x00" in row[text_at]:
                    raise TrainingDataError(
                        f"{path}: row {row_number} contains NUL bytes: a binary file, not CSV"
                    )
                texts.append(row[text_at])
                values.append(
                    [
                        _label_value(path, row_number, name, row[label_at[name]])
                        if name in label_at
                        else np.nan
                        for name in LABEL_NAMES
                    ]
                )
    except OSError as exc:
        raise _open_error(path, exc) from exc
    except UnicodeDecodeError as exc:
        raise TrainingDataError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}): not a CSV file, "
            "or one saved in another encoding"
        ) from exc
    except csv.Error as exc:
        raise TrainingDataError(f"{path}: not a valid CSV file ({exc})") from exc
    if not texts:
        raise TrainingDataError(f"{path}: the file has a header but no rows with text")
    labels = np.array(values, dtype=np.float64).reshape(len(texts), len(LABELS))
    return LabelledTexts(tuple(texts), labels)


def _merge_label(current: float, new: float) -> float:
    if np.isnan(current):
        return new
    if np.isnan(new):
        return current
    return max(current, new)


def deduplicate(parts: Sequence[LabelledTexts]) -> LabelledTexts:
    """One row per normalised text across ``parts``, in a canonical order.

    Labels merge: a label any copy gives is kept; when copies disagree the positive wins (someone
    judged the comment toxic, and a missed positive costs more than a false alarm). The text kept
    is the smallest of the copies, and rows are ordered by :func:`text_key`, so the result does not
    depend on the order of files or rows.
    """
    merged: dict[str, tuple[str, list[float]]] = {}
    for part in parts:
        for key, text, row in zip(part.keys, part.texts, part.labels.tolist(), strict=True):
            seen = merged.get(key)
            if seen is None:
                merged[key] = (text, row)
                continue
            kept, known = seen
            merged[key] = (
                min(kept, text),
                [_merge_label(a, b) for a, b in zip(known, row, strict=True)],
            )
    ordered = sorted(merged)
    texts = tuple(merged[key][0] for key in ordered)
    labels = np.array([merged[key][1] for key in ordered], dtype=np.float64)
    result = LabelledTexts(texts, labels.reshape(len(texts), len(LABELS)))
    result.__dict__["keys"] = tuple(ordered)  # already computed: spare the cached property
    return result


def read_files(paths: Sequence[Path | str]) -> LabelledTexts:
    """Read every file (each validated) and deduplicate across them."""
    if not paths:
        raise TrainingDataError("no training data files were given")
    return deduplicate([read_csv(path) for path in paths])


def digest(data: LabelledTexts) -> str:
    """sha256 (hex) over the canonical rows: the same comments and labels give the same digest."""
    canonical = deduplicate([data])
    hasher = hashlib.sha256(_DIGEST_HEADER)
    marks = {0.0: b"0", 1.0: b"1"}
    for text, row in zip(canonical.texts, canonical.labels.tolist(), strict=True):
        encoded = text.encode("utf-8")
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
        hasher.update(b"".join(marks.get(value, b"-") for value in row))
    return hasher.hexdigest()
