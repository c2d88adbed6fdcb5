"""A :class:`~shared.monitoring.view.RollupView` as bytes for one DynamoDB item, and back.

Zlib-compressed: a line of JSON (the format, the window, the compared versions, the baseline
and the two lists as their own JSON), then the rollup tables' int64 values, little-endian, one
table after another (minutes, hours, days, live hours, each compared version's days). The
window fixes every table's rows and the format its columns (``COUNTERS``, ``MINUTE_COUNTERS``),
so the numbers take the same room at any traffic and decode with one ``numpy.frombuffer``.
Before compression the values are split into byte planes (every value's lowest byte, then every
second byte, ...): counts are small, so most planes are zeros that compress to almost nothing.

A decoded view equals the one encoded (score sums are exact nano-unit integers). A DynamoDB item
holds at most 400 KB; the default view is far below that (``bench/dashboard.py`` prints its size).
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from contracts import DriftBaseline
from shared.items import FeedbackItem, ReviewItem
from shared.monitoring.rollups import COUNTERS
from shared.monitoring.table import Table
from shared.monitoring.view import MINUTE_COUNTERS, RollupView, Window

__all__ = ["FORMAT", "decode_view", "encode_view"]

FORMAT: Final = 2
"""Bumped when the layout changes: a reader refuses a view of another format (and reads live).

1 was JSON of the sparse rollup items."""

_VALUE: Final = np.dtype("<i8")


def _tables(view: RollupView) -> list[Table]:
    return [view.minutes, view.hours, view.days, view.live_hours, *view.version_days.values()]


def _empty_tables(window: Window, versions: int) -> list[Table]:
    """The tables of a view of ``window`` comparing ``versions``, in order, nothing counted."""
    return [
        window.table("minute", names=MINUTE_COUNTERS),
        window.table("hour"),
        window.table("day"),
        window.table("hour"),
        *(window.table("day") for _ in range(versions)),
    ]


def _layout(table: Table) -> tuple[str, str, tuple[str, ...], tuple[int, ...]]:
    return table.granularity, table.first, table.names, table.values.shape


def _planes(values: npt.NDArray[np.int64]) -> bytes:
    """The values' bytes, lowest byte of every value first, then the next byte of every value."""
    raw = values.astype(_VALUE).reshape(-1).view(np.uint8)
    return raw.reshape(-1, _VALUE.itemsize).T.tobytes()


def _values(planes: bytes) -> npt.NDArray[np.int64]:
    raw = np.frombuffer(planes, dtype=np.uint8).reshape(_VALUE.itemsize, -1)
    return raw.T.copy().view(_VALUE).reshape(-1).astype(np.int64, copy=False)


def encode_view(view: RollupView) -> bytes:
    """The view as one compressed header line and the tables' values."""
    header = {
        "format": FORMAT,
        "built_at": view.built_at.isoformat(),
        "window_hours": view.window_hours,
        "window_days": view.window_days,
        # The column layouts: a view written with other ones is refused, never misread.
        "counters": list(COUNTERS),
        "minute_counters": list(MINUTE_COUNTERS),
        "live_version": view.live_version,
        "versions": list(view.version_days),
        # Strings holding their own JSON: each is validated as its model reads it.
        "baseline": None if view.baseline is None else view.baseline.model_dump_json(),
        "feedback": [row.model_dump_json() for row in view.feedback],
        "reviews": [item.model_dump_json() for item in view.reviews],
    }
    tables = _tables(view)
    for table, empty in zip(
        tables, _empty_tables(view.window, len(view.version_days)), strict=True
    ):
        if _layout(table) != _layout(empty):
            raise ValueError(f"a {table.granularity} table from {table.first} is not the window's")
    values = np.concatenate([table.values.reshape(-1) for table in tables])
    # Header and values in one stream: the line ends where the values begin (JSON escapes
    # newlines inside strings, so the header has none of its own).
    return zlib.compress(json.dumps(header).encode() + b"\n" + _planes(values), 6)


def decode_view(data: bytes) -> RollupView:
    """The view :func:`encode_view` wrote; ValueError when it is not one (or of another format)."""
    try:
        head, _, body = zlib.decompress(data).partition(b"\n")
        header: dict[str, Any] = json.loads(head)
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"not an encoded view: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"view format {found} is not {FORMAT}")
    if (header["counters"], header["minute_counters"]) != (
        list(COUNTERS),
        list(MINUTE_COUNTERS),
    ):
        raise ValueError("the view's counters are not this version's")
    window = Window(
        now=datetime.fromisoformat(header["built_at"]),
        hours=int(header["window_hours"]),
        days=int(header["window_days"]),
    )
    versions = [str(v) for v in header["versions"]]
    shapes = _empty_tables(window, len(versions))
    if len(body) != _VALUE.itemsize * sum(empty.values.size for empty in shapes):
        raise ValueError("the view's values do not fill its tables")
    values = _values(body)
    tables: list[Table] = []
    at = 0
    for empty in shapes:
        size = empty.values.size
        rows = values[at : at + size].reshape(empty.values.shape)
        tables.append(Table(empty.granularity, empty.first, empty.names, rows))
        at += size
    minutes, hours, days, live_hours, *per_version = tables
    baseline = header["baseline"]
    return RollupView(
        built_at=window.now,
        window_hours=window.hours,
        window_days=window.days,
        minutes=minutes,
        hours=hours,
        days=days,
        live_hours=live_hours,
        live_version=header["live_version"],
        version_days=dict(zip(versions, per_version, strict=True)),
        baseline=None if baseline is None else DriftBaseline.model_validate_json(baseline),
        feedback=[FeedbackItem.model_validate_json(row) for row in header["feedback"]],
        reviews=[ReviewItem.model_validate_json(item) for item in header["reviews"]],
    )
