"""What ``ensure`` did to each resource, in a form both the CLI and tests read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["Action", "Change", "ResourceKind", "summarize"]

ResourceKind = Literal["topic", "queue", "subscription", "table", "index", "ttl", "bucket"]


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    # Differs from the spec in a way ensure will not fix in place (such as a changed index key);
    # reported so a person decides, never silently ignored.
    DRIFTED = "drifted"


@dataclass(frozen=True)
class Change:
    """One resource and what ensure did to it."""

    kind: ResourceKind
    name: str
    action: Action
    detail: str = ""

    def __str__(self) -> str:
        line = f"{self.action.value:<9}  {self.kind:<12}  {self.name}"
        return f"{line}  ({self.detail})" if self.detail else line


def summarize(changes: Iterable[Change]) -> str:
    """One line: how many resources were created, updated, left alone or found drifted."""
    counts = Counter(change.action for change in changes)
    total = sum(counts.values())
    if counts[Action.UNCHANGED] == total:
        return f"nothing to change: all {total} resources match the spec"
    parts = [f"{counts[action]} {action.value}" for action in Action if counts[action]]
    return ", ".join(parts)
