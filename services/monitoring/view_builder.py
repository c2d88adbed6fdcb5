"""The dashboard's materialized view: read the rollups as the page shows them, store the result.

Every ``TOXIC_VIEW_SECONDS`` :func:`refresh_view` has a :class:`ViewBuilder` read the default
view (``shared.monitoring.view.read_view``, the dashboard's own live read), encode it and put it
as one item; the dashboard then reads one GetItem instead of ~2,000 rollup items per page view.
Each build after the first passes the previous view, so only the items that moved are read.
Competing monitoring processes each build: the newest build wins (``ViewStore.put_view``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from services.monitoring.repository import ViewStore
from shared.logs import get_logger
from shared.monitoring.records import ViewItem
from shared.monitoring.view import RollupReader, RollupView, read_view
from shared.monitoring.view_codec import encode_view

__all__ = ["ViewBuilder", "refresh_view"]

log = get_logger(__name__)


class ViewBuilder:
    """Builds and stores the view; keeps the last one so the next build reads less."""

    def __init__(
        self,
        reader: RollupReader,
        store: ViewStore,
        *,
        model_name: str,
        instance: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reader = reader
        self._store = store
        self._model_name = model_name
        self._instance = instance
        self._clock = clock
        self._previous: RollupView | None = None

    async def build(self) -> RollupView:
        """Read the view ending now (re-reading only what moved since the last build)."""
        view = await read_view(
            self._reader, self._clock(), model_name=self._model_name, previous=self._previous
        )
        self._previous = view
        return view

    async def build_and_store(self) -> ViewItem:
        """Build the view and store it; logs how long each part took and the encoded size."""
        started = time.perf_counter()
        view = await self.build()
        read = time.perf_counter()
        item = ViewItem(view=encode_view(view), built_at=view.built_at, built_by=self._instance)
        written = await self._store.put_view(item)
        log.info(
            "view_built",
            read_ms=round((read - started) * 1000, 1),
            total_ms=round((time.perf_counter() - started) * 1000, 1),
            encoded_bytes=len(item.view),
            counted_minutes=int(view.minutes.counted_rows.sum()),
            written=written,
        )
        return item


async def refresh_view(builder: ViewBuilder, every: float) -> None:
    """Build and store the view every ``every`` seconds until cancelled."""
    while True:
        try:
            await builder.build_and_store()
        except Exception as exc:
            log.exception("view_build_failed", error=str(exc))
        await asyncio.sleep(every)
