"""What the API's outbox costs on the request path: single-event puts, as a scoring request makes.

    uv run python -m bench.outbox [--events 20000] [--dir DIR]

Each put stores one PredictionMade (its comment text stored, about 0.7 KiB of JSON) in a fresh
outbox file under DIR (default: the system's temporary directory), with the relay running as in
the API, and the loop yields once between puts as a request handler would. Two phases:

- bus up: the publisher accepts at once, so the relay publishes and deletes between puts;
- bus down: the publisher always fails, so the backlog grows on disk, as in an outage.

For each it prints puts/s (puts over the time spent inside ``put``, and over wall-clock time with
the relay's share included), the p50/p99/p99.9/max latency of ``put`` itself and how many puts
took over 1 ms: those are mostly the puts that ran one of SQLite's WAL checkpoints (about one per
1000 pages written, with an fsync or two), so they follow the disk. For comparison it prints what
merely handing a no-op to a worker thread costs (``asyncio.to_thread``): the price a put would
pay on top if it did not call SQLite on the event loop's thread.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.results import Figure, write
from contracts import Envelope, encode
from services.api.outbox import Outbox
from shared.errors import RetryableError
from shared.logs import configure_logging
from tests import factories


class AcceptingBus:
    async def publish(self, events: Sequence[Envelope]) -> None:
        await asyncio.sleep(0)


class DownBus:
    async def publish(self, events: Sequence[Envelope]) -> None:
        raise RetryableError("bus down (benchmark)")


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], wall: float, extra: str = "") -> list[Figure]:
    ordered = sorted(latencies)
    us = [1e6 * percentile(ordered, q) for q in (0.5, 0.99, 0.999)]
    print(
        f"{name:10} {len(ordered)} puts: {len(ordered) / sum(ordered):>9,.0f} puts/s in put, "
        f"{len(ordered) / wall:>7,.0f} puts/s wall | "
        f"p50 {us[0]:6.1f} µs  p99 {us[1]:6.1f} µs  p99.9 {us[2]:7.1f} µs  "
        f"max {1e6 * ordered[-1]:8.1f} µs  over 1 ms {sum(t > 1e-3 for t in ordered)}{extra}"
    )
    return [
        Figure(f"put p50, {name}", us[0], "µs", note=f"{len(ordered)} single-event puts"),
        Figure(f"put p99, {name}", us[1], "µs", note=f"{len(ordered)} single-event puts"),
    ]


async def phase(path: Path, publisher: AcceptingBus | DownBus, count: int) -> list[Figure]:
    events = [factories.prediction_made() for _ in range(count)]
    latencies: list[float] = []
    async with Outbox(path, publisher, capacity=count) as outbox:
        began = time.perf_counter()
        for event in events:
            start = time.perf_counter()
            outbox.put([event])
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0)
        wall = time.perf_counter() - began
        depth = outbox.depth
        await outbox.close(drain_timeout=0)
    name = "bus up" if isinstance(publisher, AcceptingBus) else "bus down"
    return report(name, latencies, wall, f" | depth at end {depth}")


async def thread_hop(count: int) -> None:
    latencies: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        await asyncio.to_thread(lambda: None)
        latencies.append(time.perf_counter() - start)
    ordered = sorted(latencies)
    print(
        f"{'to_thread':10} {count} no-op hops: p50 {1e6 * percentile(ordered, 0.5):6.1f} µs  "
        f"p99 {1e6 * percentile(ordered, 0.99):6.1f} µs (a cost put does not pay)"
    )


async def main(count: int, folder: str | None) -> list[Figure]:
    with tempfile.TemporaryDirectory(dir=folder, prefix="bench-outbox-") as scratch:
        size = len(encode(factories.prediction_made()).encode())
        print(f"outbox files in {scratch}; one PredictionMade per put, {size} bytes of JSON")
        figures = await phase(Path(scratch) / "up.db", AcceptingBus(), count)
        figures += await phase(Path(scratch) / "down.db", DownBus(), count)
    await thread_hop(min(count, 5000))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--dir", default=None, help="where the outbox files go")
    parser.add_argument("--json", type=Path, help="also write the headline figures here")
    args = parser.parse_args()
    configure_logging("ERROR")  # the outage phase warns on every retry, as it should
    write(args.json, "outbox", asyncio.run(main(args.events, args.dir)))
