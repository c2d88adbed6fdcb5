"""A token bucket per caller: ``rate`` requests a second on average, up to ``burst`` at once.

Limits are per API replica (DESIGN §5): each replica keeps its own buckets in memory, so with N
replicas behind a balancer a caller may send up to N times the rate. The identity is any string:
the API uses the key's hash, or the client's address for anonymous callers.

Memory is bounded: at most ``max_entries`` buckets, least recently used dropped first. A bucket
idle long enough to have refilled is the same as no bucket, so those are dropped as calls go by;
dropping a bucket that is not yet full (only when ``max_entries`` is reached) forgives that
caller the rest of its wait, which errs on the side of serving. Each call does O(1) work. There
are no locks: asyncio runs one ``check`` at a time, and it never awaits.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["RateLimiter"]

# How many idle buckets one call may drop: more than one, so idle buckets drain faster than
# calls add new ones, and few enough that no call pays for a long sweep.
_EVICT_PER_CALL: Final = 2
# Tolerance for float rounding, so waiting exactly the returned delay is always enough.
_EPSILON: Final = 1e-9


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Per-identity token buckets; :meth:`check` says whether a request may go now."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_entries < 1:
            raise ValueError("rate must be > 0, burst >= 1 and max_entries >= 1")
        self.rate = rate
        self.burst = burst
        self._max_entries = max_entries
        self._clock = clock
        self._idle_after = burst / rate  # an untouched bucket is full again after this long
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """Buckets held now."""
        return len(self._buckets)

    def check(self, identity: str, cost: float = 1.0) -> float | None:
        """None when ``identity`` may spend ``cost`` tokens now (it then has), else seconds to wait.

        A refused call spends nothing. The HTTP layer rounds the wait up to whole seconds for
        Retry-After. ``cost`` above ``burst`` could never be allowed and raises ValueError.
        """
        if not 0 < cost <= self.burst:
            raise ValueError(f"cost must be in (0, {self.burst}], got {cost}")
        now = self._clock()
        self._evict_idle(now)
        bucket = self._buckets.get(identity)
        if bucket is None:
            bucket = self._buckets[identity] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self._max_entries:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(identity)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens + _EPSILON >= cost:
            bucket.tokens = max(0.0, bucket.tokens - cost)
            return None
        return (cost - bucket.tokens) / self.rate

    def _evict_idle(self, now: float) -> None:
        # The front is the least recently used bucket: if it is not idle, none is.
        for _ in range(_EVICT_PER_CALL):
            if not self._buckets:
                return
            identity, oldest = next(iter(self._buckets.items()))
            if now - oldest.updated < self._idle_after:
                return
            del self._buckets[identity]
