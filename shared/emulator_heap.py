"""The stand-in's heap kept out of the cyclic garbage collector's full passes.

moto holds every item, message and object as Python objects: at a million predictions' rollups
that is millions of tracked objects, and each full pass of the collector walks all of them while
the server's request threads wait. So every request is a little slower, and some much slower,
the more the stand-in holds, which DynamoDB, SQS and S3 are not. Measured on the dashboard
benchmark's stand-ins (README, Benchmarks): reads 10 to 15 % faster with the heap frozen, and the
difference between a stand-in holding 24,500 items and one holding 6,300 roughly halved.

Every ``freeze_seconds`` what is alive is moved out of the collector's sight (``gc.freeze``).
Garbage made of objects frozen earlier is only freed by reference counting, so a cycle among
them would stay; every ``collect_seconds`` the heap is unfrozen, collected whole once and frozen
again, which bounds that.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

__all__ = ["COLLECT_SECONDS", "FREEZE_SECONDS", "HeapFreezer"]

FREEZE_SECONDS = 2.0
COLLECT_SECONDS = 300.0


class HeapFreezer:
    """Freezes the heap every ``freeze_seconds``; a whole collection every ``collect_seconds``."""

    def __init__(
        self,
        freeze_seconds: float = FREEZE_SECONDS,
        collect_seconds: float = COLLECT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._freeze_seconds = freeze_seconds
        self._collect_seconds = collect_seconds
        self._clock = clock
        self._collected = clock()
        self.full_collections = 0

    def tick(self) -> None:
        """Freeze what is alive; first unfreeze and collect everything when that is due."""
        now = self._clock()
        if now - self._collected >= self._collect_seconds:
            gc.unfreeze()
            gc.collect()
            self._collected = now
            self.full_collections += 1
        gc.freeze()

    def start(self) -> threading.Thread:
        """Tick every ``freeze_seconds`` in a daemon thread, for the life of the process."""

        def loop() -> None:
            while True:
                time.sleep(self._freeze_seconds)
                self.tick()

        thread = threading.Thread(target=loop, name="heap-freezer", daemon=True)
        thread.start()
        return thread
