"""Rollups of a time range as one dense table: every bucket by every counter, zeros included.

The dashboard's view (``shared.monitoring.view``) holds its rollups this way so that its size,
and the work to decode and sum it, depend on the window alone and not on how much was counted.
Rollup items are sparse (a counter never added to is absent, a bucket with nothing counted has
no item), so a busy month's items carry more than twice the values of a quiet one's.

Values are int64: counts as they are, score sums (nine decimals, ``shared.monitoring.rollups``)
in nano-units, so every counter is held exactly and sums of columns are integer sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from shared.monitoring.rollups import Counters

__all__ = ["Rollup", "Table", "scale_of"]

Rollup = tuple[str, Counters]

# numpy's unit per granularity: its datetime64 text of a bucket is the rollups' bucket text
# ("2026-11-30T04:58", "2026-11-30T04", "2026-11-30").
_UNITS: Final[dict[str, Literal["m", "h", "D"]]] = {"minute": "m", "hour": "h", "day": "D"}
_SCORE_SUM_DECIMALS = 9


def scale_of(name: str) -> int:
    """Decimal digits a counter keeps: a table holds ``value * 10**scale`` as an integer."""
    return _SCORE_SUM_DECIMALS if name.startswith("score_sum_") else 0


def _fixed(name: str, value: Decimal | int) -> int:
    exact = Decimal(value).scaleb(scale_of(name))
    whole = int(exact)
    if whole != exact:
        raise ValueError(f"{name} = {value} has more decimals than a table keeps")
    return whole


def _stored(name: str, value: int) -> Decimal:
    scale = scale_of(name)
    return Decimal(value).scaleb(-scale) if scale else Decimal(value)


def _start(granularity: str, bucket: str) -> np.datetime64:
    return np.datetime64(bucket, _UNITS[granularity])


@dataclass(frozen=True, eq=False)
class Table:
    """Counters ``names`` of every bucket of ``granularity`` from ``first``, one row each."""

    granularity: str
    first: str
    names: tuple[str, ...]
    values: npt.NDArray[np.int64]
    """Shape (buckets, names): zero where nothing was counted."""

    def __post_init__(self) -> None:
        if self.values.dtype != np.int64 or self.values.ndim != 2:
            raise ValueError("a table's values are a 2-d int64 array")
        if self.values.shape[1] != len(self.names):
            raise ValueError(f"{self.values.shape[1]} columns for {len(self.names)} counters")

    @classmethod
    def of(
        cls,
        granularity: str,
        first: str,
        last: str,
        names: Sequence[str],
        items: Iterable[Rollup] = (),
    ) -> Table:
        """The table of buckets ``first`` to ``last`` (inclusive) holding ``items``' counters.

        Counters not in ``names`` and items outside the range are left out.
        """
        start, end = _start(granularity, first), _start(granularity, last)
        rows = max(int((end - start).astype(np.int64)) + 1, 0)
        column = {name: j for j, name in enumerate(names)}
        values = np.zeros((rows, len(names)), dtype=np.int64)
        for bucket, counters in items:
            i = int((_start(granularity, bucket) - start).astype(np.int64))
            if not 0 <= i < rows:
                continue
            for name, value in counters.items():
                j = column.get(name)
                if j is not None:
                    values[i, j] = _fixed(name, value)
        return cls(granularity, first, tuple(names), values)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return (self.granularity, self.first, self.names) == (
            other.granularity,
            other.first,
            other.names,
        ) and bool(np.array_equal(self.values, other.values))

    @property
    def _starts64(self) -> npt.NDArray[np.datetime64]:
        start = _start(self.granularity, self.first)
        return np.arange(start, start + len(self))

    @property
    def buckets(self) -> list[str]:
        """Every bucket's text, in time order."""
        texts: list[str] = self._starts64.astype(str).tolist()
        return texts

    @property
    def starts(self) -> list[datetime]:
        """Every bucket's start (UTC), in time order."""
        return [at.replace(tzinfo=UTC) for at in self._starts64.astype("datetime64[s]").tolist()]

    @property
    def counted(self) -> bool:
        """Anything was counted in any bucket."""
        return bool(self.values.any())

    @property
    def counted_rows(self) -> npt.NDArray[np.bool_]:
        """Per bucket: anything was counted (a rollup item exists)."""
        counted: npt.NDArray[np.bool_] = np.asarray(self.values.any(axis=1))
        return counted

    def column(self, name: str) -> npt.NDArray[np.int64]:
        """One counter per bucket (in nano-units for score sums); zeros when not held."""
        if name not in self.names:
            return np.zeros(len(self), dtype=np.int64)
        return self.values[:, self.names.index(name)]

    def columns(self, names: Sequence[str]) -> npt.NDArray[np.int64]:
        """Several counters per bucket, shape (buckets, names), as :meth:`column` reads them."""
        return np.stack([self.column(name) for name in names], axis=1)

    def total(self) -> Counters:
        """Every counter summed over the buckets, as rollup counters (zeros included)."""
        sums = self.values.sum(axis=0).tolist()
        return {name: _stored(name, value) for name, value in zip(self.names, sums, strict=True)}

    def items(self) -> list[Rollup]:
        """The rollup items the table holds: counted buckets, their non-zero counters."""
        found: list[Rollup] = []
        for bucket, row in zip(self.buckets, self.values.tolist(), strict=True):
            counters = {n: _stored(n, v) for n, v in zip(self.names, row, strict=True) if v}
            if counters:
                found.append((bucket, counters))
        return found
