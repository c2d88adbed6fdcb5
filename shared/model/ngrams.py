"""Hashing every word and character n-gram of a batch of texts with vectorised numpy operations.

A batch becomes one array of lowercased code points, each text wrapped in one space on either
side, so that no n-gram spans two texts. Character n-grams roll forward with Horner's rule (one
multiply-add per order); word hashes come from prefix sums divided by the position's power, so a
word hashes the same wherever it stands. Fibonacci hashing turns each hash into a bucket.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["Scan", "char_ngrams", "word_ngrams"]

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_BASE = 1_000_003
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_GOLDEN = 0x9E3779B97F4A7C15
_WORD_SALT = 0x5BD1E9955BD1E995
_BMP = 0x10000

_OTHER, _SPACE, _WORD = 0, 1, 2


@cache
def _tables() -> tuple[NDArray[np.uint64], NDArray[np.uint8]]:
    """For every BMP code point: its lowercase code point + 1, and its kind (space, word, other).

    +1 so that no character hashes like an absent one.
    """
    codes = np.arange(1, _BMP + 1, dtype=np.uint64)
    kinds = np.zeros(_BMP, dtype=np.uint8)
    for code in range(_BMP):
        char = chr(code)
        folded = char.lower()
        if len(folded) == 1:
            codes[code] = ord(folded) + 1
        kinds[code] = _SPACE if char.isspace() else _WORD if char.isalnum() else _OTHER
    return codes, kinds


_powers_cache: list[tuple[NDArray[np.uint64], NDArray[np.uint64]]] = []


def _powers(size: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """BASE**k and BASE**-k (mod 2**64) for k < size, grown by doubling and kept."""
    # Read once and return what was read or built: another thread may swap the cache meanwhile.
    cached = _powers_cache[0] if _powers_cache else None
    if cached is None or len(cached[0]) < size:
        length = max(size, 2 * len(cached[0]) if cached is not None else 1 << 16)
        powers = np.full(length, _BASE, dtype=np.uint64)
        inverse = np.full(length, _BASE_INVERSE, dtype=np.uint64)
        powers[0] = inverse[0] = 1
        np.cumprod(powers, out=powers)
        np.cumprod(inverse, out=inverse)
        cached = (powers, inverse)
        _powers_cache[:] = [cached]
    return cached


@dataclass(frozen=True)
class Scan:
    """One batch: the code points of ``" " + text + " "`` for every text, back to back."""

    codes: NDArray[np.uint64]
    kinds: NDArray[np.uint8]
    doc: NDArray[np.int32]
    offsets: NDArray[np.intp]  # where each text's first character is

    @classmethod
    def of(cls, texts: Sequence[str]) -> Scan:
        code_table, kind_table = _tables()
        joined = "".join(f" {text} " for text in texts)
        points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        astral = points >= _BMP
        if astral.any():
            index = np.where(astral, 0, points)
            codes = np.where(astral, points.astype(np.uint64) + _U64(1), code_table[index])
            kinds = np.where(astral, np.uint8(_WORD), kind_table[index])
        else:
            codes, kinds = code_table[points], kind_table[points]
        lengths = np.fromiter((len(text) + 2 for text in texts), dtype=np.intp, count=len(texts))
        doc = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)
        offsets = np.cumsum(lengths) - lengths + 1
        return cls(codes, kinds, doc, offsets)


def _mix(hashes: NDArray[np.uint64], bits: int) -> NDArray[np.uint64]:
    """Fibonacci hashing, in place: the top ``bits`` bits of hash * golden ratio."""
    hashes *= _U64(_GOLDEN)
    hashes >>= _U64(64 - bits)
    return hashes


def char_ngrams(
    scan: Scan, orders: tuple[int, int], bits: int
) -> Iterator[tuple[NDArray[np.intp], int, NDArray[np.uint64]]]:
    """(start positions, n, buckets) for every character n-gram that stays inside one token.

    An n-gram may begin or end with the whitespace around a token but has none inside it, as in
    scikit-learn's ``char_wb``. Hashes roll forward (Horner), one multiply-add per order.
    """
    codes = scan.codes
    solid = scan.kinds != _SPACE
    size = len(codes)
    low, high = orders
    hashes = codes.copy()
    interior = solid
    for n in range(2, high + 1):
        count = size - n + 1
        if count <= 0:
            return
        hashes = hashes[:count]
        hashes *= _U64(_BASE)
        hashes += codes[n - 1 :]
        if n == 2:
            valid = solid[:count] | solid[1:]
        else:
            # positions 1 .. n-2 of the n-gram must not be whitespace
            interior = solid[1 : 1 + count] if n == 3 else interior[:count] & solid[n - 2 : -1]
            valid = interior
        if n >= low:
            starts = np.flatnonzero(valid)
            yield starts, n, _mix(hashes[starts], bits)


def word_ngrams(
    scan: Scan, orders: tuple[int, int], bits: int
) -> Iterator[tuple[NDArray[np.intp], NDArray[np.intp], int, NDArray[np.uint64]]]:
    """(start positions, end positions, n, buckets) for word n-grams within one text."""
    codes = scan.codes
    size = len(codes)
    inside = np.zeros(size + 2, dtype=np.bool_)
    inside[1:-1] = scan.kinds == _WORD
    starts = np.flatnonzero(inside[1:-1] & ~inside[:-2])
    ends = np.flatnonzero(inside[1:-1] & ~inside[2:]) + 1
    if len(starts) == 0:
        return
    powers, inverse = _powers(size)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.cumsum(codes * powers[:size], out=prefix[1:])
    # A word's hash does not depend on where it stands: divide by BASE**start.
    hashes = (prefix[ends] - prefix[starts]) * inverse[starts]
    low, high = orders
    doc = scan.doc[starts]
    combined = hashes
    for n in range(1, high + 1):
        count = len(starts) - n + 1
        if count <= 0:
            return
        if n > 1:
            combined = combined[:count] * _U64(_BASE) + hashes[n - 1 :]
        if n >= low:
            same_doc = np.flatnonzero(doc[:count] == doc[n - 1 :])
            salted = combined[same_doc] ^ _U64(_WORD_SALT * n & _MASK64)
            yield starts[same_doc], ends[same_doc + n - 1], n, _mix(salted, bits)
