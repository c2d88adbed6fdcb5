"""The logger's store in memory, with the conditions of its DynamoDB adapter.

Items are kept in their DynamoDB form (``to_item()``) and read back with ``from_item()``, so a
shape that would not survive the trip to DynamoDB fails here too. ``fail_next`` makes the next
writes raise RetryableError, as a throttled table would.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from services.logger.repository import Resolution, ResolveOutcome
from shared.errors import RetryableError
from shared.items import ReviewItem, ReviewStatus, StoredItem

__all__ = ["InMemoryLoggerStore"]

Item = TypeVar("Item", bound=StoredItem)


def _key(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


class InMemoryLoggerStore:
    def __init__(self) -> None:
        # table (without prefix) -> key -> item in DynamoDB form
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.fail_next = 0
        self.writes = 0

    def _write(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RetryableError("the fake table is throttling")
        self.writes += 1

    async def insert(self, item: StoredItem) -> bool:
        self._write()
        table = self.tables.setdefault(item.TABLE, {})
        key = _key(item.key())
        if key in table:
            return False
        table[key] = item.to_item()
        return True

    async def resolve_review(self, resolution: Resolution) -> ResolveOutcome:
        self._write()
        table = self.tables.setdefault(ReviewItem.TABLE, {})
        key = _key({ReviewItem.HASH_KEY: {"S": str(resolution.prediction_id)}})
        if key not in table:
            return ResolveOutcome.NOT_FOUND
        current = ReviewItem.from_item(table[key])
        if current.status is ReviewStatus.REVIEWED and (
            current.resolved_at is None or current.resolved_at >= resolution.resolved_at
        ):
            return ResolveOutcome.UNCHANGED
        resolved = ReviewItem.model_validate(
            current.model_dump()
            | {
                "status": ReviewStatus.REVIEWED,
                "resolved_at": resolution.resolved_at,
                "resolved_by": resolution.resolved_by,
                "moderator_action": resolution.moderator_action,
                "true_labels": dict(resolution.true_labels),
                "feedback_id": resolution.feedback_id,
            }
        )
        table[key] = resolved.to_item()
        return ResolveOutcome.RESOLVED

    # --- for assertions -------------------------------------------------------------------

    def items(self, shape: type[Item]) -> list[Item]:
        """Every stored item of ``shape``'s table."""
        return [shape.from_item(raw) for raw in self.tables.get(shape.TABLE, {}).values()]

    def get(self, shape: type[Item], key: dict[str, Any]) -> Item | None:
        raw = self.tables.get(shape.TABLE, {}).get(_key(key))
        return None if raw is None else shape.from_item(raw)
