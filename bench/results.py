"""What a benchmark measured, as data: the report (``bench.report``) collects these.

Every benchmark prints its own tables for a person and, given ``--json PATH``, also writes the
headline figures there: each a :class:`Figure` with its value, unit and, when an issue set one,
the target and whether it was met. The report never parses printed text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Figure", "load", "write"]


@dataclass(frozen=True)
class Figure:
    """One measured number. ``target`` reads as a condition (``<= 10 ms``); ``met`` judges it."""

    name: str
    value: float | None
    unit: str
    target: str | None = None
    met: bool | None = None
    note: str = ""


def write(path: Path | None, bench: str, figures: list[Figure]) -> None:
    """Write ``figures`` to ``path`` as JSON, when a path was given."""
    if path is None:
        return
    payload = {"bench": bench, "figures": [asdict(f) for f in figures]}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def load(path: Path) -> tuple[str, list[Figure]]:
    """The bench name and figures a benchmark wrote to ``path``."""
    payload = json.loads(path.read_text())
    return str(payload["bench"]), [Figure(**f) for f in payload["figures"]]
