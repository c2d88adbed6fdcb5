"""A :class:`~shared.monitoring.view.RollupView` as bytes for one DynamoDB item, and back.

JSON, zlib-compressed: counters are written as plain JSON numbers from their Decimals (never
through float: score sums keep nine decimals) and read back as Decimals, so a decoded view
equals the one encoded. A DynamoDB item holds at most 400 KB; at a million predictions a month
the encoded view is far below that (``bench/dashboard.py`` prints its size).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from contracts import DriftBaseline
from shared.items import FeedbackItem, ReviewItem
from shared.monitoring.view import Rollup, RollupView

__all__ = ["FORMAT", "decode_view", "encode_view"]

FORMAT: Final = 1
"""Bumped when the layout changes: a reader refuses a view of another format (and reads live)."""


def _number(value: Decimal) -> str:
    # "f" keeps every digit and never writes an exponent, which JSON would take but "0E-9" is ugly.
    return format(value, "f")


def _counters(counters: dict[str, Decimal]) -> str:
    return "{" + ",".join(f"{json.dumps(n)}:{_number(v)}" for n, v in counters.items()) + "}"


def _rollups(items: Iterable[Rollup]) -> str:
    return "[" + ",".join(f"[{json.dumps(b)},{_counters(c)}]" for b, c in items) + "]"


def encode_view(view: RollupView) -> bytes:
    """The view as compressed JSON."""
    versions = ",".join(f"{json.dumps(v)}:{_rollups(r)}" for v, r in view.version_days.items())
    # A string holding the baseline's own JSON: it is validated as the contract reads it.
    baseline = "null" if view.baseline is None else json.dumps(view.baseline.model_dump_json())
    feedback = ",".join(json.dumps(row.model_dump_json()) for row in view.feedback)
    reviews = ",".join(json.dumps(item.model_dump_json()) for item in view.reviews)
    text = (
        f'{{"format":{FORMAT},"built_at":{json.dumps(view.built_at.isoformat())},'
        f'"window_hours":{view.window_hours},"window_days":{view.window_days},'
        f'"minutes":{_rollups(view.minutes)},"hours":{_rollups(view.hours)},'
        f'"days":{_rollups(view.days)},"version_days":{{{versions}}},'
        f'"baseline":{baseline},"live_hours":{_rollups(view.live_hours)},'
        f'"feedback":[{feedback}],"reviews":[{reviews}]}}'
    )
    return zlib.compress(text.encode(), 6)


def _decoded(raw: Any) -> list[Rollup]:
    return [(str(bucket), dict(counters)) for bucket, counters in raw]


def decode_view(data: bytes) -> RollupView:
    """The view :func:`encode_view` wrote; ValueError when it is not one (or of another format)."""
    try:
        raw = json.loads(zlib.decompress(data), parse_float=Decimal, parse_int=Decimal)
    except (zlib.error, ValueError) as exc:
        raise ValueError(f"not an encoded view: {exc}") from exc
    if raw.get("format") != FORMAT:
        raise ValueError(f"view format {raw.get('format')} is not {FORMAT}")
    baseline = raw["baseline"]
    return RollupView(
        built_at=datetime.fromisoformat(raw["built_at"]),
        window_hours=int(raw["window_hours"]),
        window_days=int(raw["window_days"]),
        minutes=_decoded(raw["minutes"]),
        hours=_decoded(raw["hours"]),
        days=_decoded(raw["days"]),
        version_days={str(v): _decoded(r) for v, r in raw["version_days"].items()},
        baseline=None if baseline is None else DriftBaseline.model_validate_json(baseline),
        live_hours=_decoded(raw["live_hours"]),
        feedback=[FeedbackItem.model_validate_json(row) for row in raw["feedback"]],
        reviews=[ReviewItem.model_validate_json(item) for item in raw["reviews"]],
    )
