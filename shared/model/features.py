"""Word and character n-gram TF-IDF features, hashed and counted with numpy, without Python loops.

Why not ``TfidfVectorizer``: its analyzers run a Python loop per token and per n-gram, which caps
scoring at a few thousand comments a second with character n-grams. Here a whole batch becomes one
array of code points, every n-gram gets a polynomial hash from a few vectorised operations, and a
lookup table maps hashes of the fitted vocabulary to columns. The cost is that the vocabulary holds
hash buckets, not strings; :meth:`NgramFeatures.occurrences` gives the spans of the original text
instead, which is what an explanation needs.

- character n-grams: lowercased code points of each whitespace-separated token, padded with the
  whitespace around it (like scikit-learn's ``char_wb``); punctuation and digits are kept, so
  ``f*ck`` and ``sh1t`` have n-grams of their own.
- word n-grams: runs of letters and digits (any script), lowercased; bigrams skip punctuation.
- weights: sublinear term frequency times smoothed idf, each row scaled to unit length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from shared.model.ngrams import Scan, char_ngrams, word_ngrams

__all__ = ["NgramFeatures", "Occurrences"]

_FIT_BATCH = 2_000
_CHUNK = 1 << 10
_COLUMN_BITS = 21

Int64s = NDArray[np.int64]


@dataclass(frozen=True)
class Occurrences:
    """Every n-gram of one text that is in the vocabulary: ``text[start:end]`` and its column."""

    starts: NDArray[np.intp]
    ends: NDArray[np.intp]
    columns: NDArray[np.intp]
    is_word: NDArray[np.bool_]
    orders: NDArray[np.intp]


class NgramFeatures:
    """Hashed word and character n-gram TF-IDF with a vocabulary chosen by document frequency."""

    def __init__(
        self,
        *,
        char_orders: tuple[int, int] = (2, 4),
        word_orders: tuple[int, int] = (1, 2),
        max_char_features: int = 100_000,
        max_word_features: int = 100_000,
        min_df: int = 2,
        max_chars: int = 2_000,
        bits: int = 22,
    ) -> None:
        self.char_orders = char_orders
        self.word_orders = word_orders
        self.max_char_features = max_char_features
        self.max_word_features = max_word_features
        self.min_df = min_df
        self.max_chars = max_chars
        self.bits = bits
        self.buckets_: Int64s = np.zeros(0, dtype=np.int64)
        self.idf_: NDArray[np.float32] = np.zeros(0, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        # The lookup table is 2**bits entries: rebuilt from buckets_ on first use, never stored.
        return {key: value for key, value in self.__dict__.items() if key != "_table"}

    @property
    def n_features(self) -> int:
        return len(self.buckets_)

    def _clip(self, texts: Sequence[str]) -> list[str]:
        # Long comments cost time in proportion to their length; their first characters decide.
        return [text[: self.max_chars] for text in texts]

    def _families(
        self, scan: Scan
    ) -> Iterator[tuple[bool, int, NDArray[np.intp], NDArray[np.intp], NDArray[np.uint64]]]:
        """(is_word, n, starts, ends, buckets) per family and order."""
        if self.char_orders[1] >= self.char_orders[0] >= 2:
            for starts, n, buckets in char_ngrams(scan, self.char_orders, self.bits):
                yield False, n, starts, starts + n, buckets
        if self.word_orders[1] >= self.word_orders[0] >= 1:
            for starts, ends, n, buckets in word_ngrams(scan, self.word_orders, self.bits):
                yield True, n, starts, ends, buckets

    def fit(self, texts: Sequence[str]) -> NgramFeatures:
        """Choose the most frequent n-grams (by document frequency, at least ``min_df``)."""
        size = 1 << self.bits
        frequency = {False: np.zeros(size, dtype=np.int64), True: np.zeros(size, dtype=np.int64)}
        clipped = self._clip(texts)
        for begin in range(0, len(clipped), _FIT_BATCH):
            scan = Scan.of(clipped[begin : begin + _FIT_BATCH])
            for is_word, _, starts, _, buckets in self._families(scan):
                pairs = np.unique(
                    scan.doc[starts].astype(np.int64) << self.bits | buckets.astype(np.int64)
                )
                frequency[is_word] += np.bincount(pairs & (size - 1), minlength=size)
        chosen: list[Int64s] = []
        for is_word, cap in ((False, self.max_char_features), (True, self.max_word_features)):
            counts = frequency[is_word]
            eligible = np.flatnonzero(counts >= self.min_df)
            keep = eligible[np.argsort(-counts[eligible], kind="stable")[:cap]]
            chosen.append(keep.astype(np.int64))
        selected = np.unique(np.concatenate(chosen))
        if len(selected) > 1 << _COLUMN_BITS:
            raise ValueError(f"at most {1 << _COLUMN_BITS} features, not {len(selected)}")
        df = np.maximum(frequency[False], frequency[True])[selected]
        # Columns in order of falling document frequency: the weights of the n-grams nearly
        # every comment has sit together in memory, which makes scoring cache-friendly.
        order = np.argsort(-df, kind="stable")
        selected, df = selected[order], df[order]
        self.buckets_ = selected
        self.idf_ = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        self.__dict__.pop("_table", None)
        return self

    def _lookup(self) -> NDArray[np.int32]:
        table: NDArray[np.int32] | None = self.__dict__.get("_table")
        if table is None:
            table = np.full(1 << self.bits, -1, dtype=np.int32)
            table[self.buckets_] = np.arange(len(self.buckets_), dtype=np.int32)
            self.__dict__["_table"] = table
        return table

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (float32, unit length) for ``texts``."""
        if len(texts) <= _CHUNK:
            return self._transform_chunk(texts)
        chunks = [
            self._transform_chunk(texts[begin : begin + _CHUNK])
            for begin in range(0, len(texts), _CHUNK)
        ]
        return sp.vstack(chunks, format="csr")

    def _transform_chunk(self, texts: Sequence[str]) -> sp.csr_matrix:
        table = self._lookup()
        scan = Scan.of(self._clip(texts))
        # (row << 21 | column) fits 32 bits for up to 1024 rows and 2**21 columns; sorting int32
        # keys is the cheapest way to count each n-gram per row. Unknown n-grams become -1.
        shifted = scan.doc << _COLUMN_BITS
        keys = [shifted[starts] | table[buckets] for *_, starts, _, buckets in self._families(scan)]
        key = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int32)
        key = key[np.searchsorted(key, 0) :]
        first = np.ones(len(key), dtype=np.bool_)
        np.not_equal(key[1:], key[:-1], out=first[1:])
        runs = np.flatnonzero(first)
        unique = key[runs]
        counts = np.diff(runs, append=len(key)).astype(np.float32)
        columns = unique & ((1 << _COLUMN_BITS) - 1)
        values = np.log(counts)
        values += 1
        values *= self.idf_[columns]
        rows = unique >> _COLUMN_BITS
        # Unit length per row; a row without entries keeps none (no division by its zero norm).
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        values /= norms[rows].astype(np.float32)
        indptr = np.zeros(len(texts) + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        return sp.csr_matrix((values, columns, indptr), shape=(len(texts), self.n_features))

    def occurrences(self, text: str) -> Occurrences:
        """Where each vocabulary n-gram of ``text`` is: spans index the original string."""
        table = self._lookup()
        scan = Scan.of(self._clip([text]))
        offset = scan.offsets[0]
        parts: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], bool, int]] = []
        for is_word, n, starts, ends, buckets in self._families(scan):
            found = table[buckets]
            known = found >= 0
            columns = found[known].astype(np.intp)
            parts.append((starts[known] - offset, ends[known] - offset, columns, is_word, n))
        if not parts:
            empty = np.zeros(0, dtype=np.intp)
            return Occurrences(empty, empty, empty, np.zeros(0, dtype=np.bool_), empty)
        return Occurrences(
            starts=np.concatenate([p[0] for p in parts]),
            ends=np.concatenate([p[1] for p in parts]),
            columns=np.concatenate([p[2] for p in parts]),
            is_word=np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
            orders=np.concatenate([np.full(len(p[0]), p[4], dtype=np.intp) for p in parts]),
        )
