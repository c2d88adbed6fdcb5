"""Event-bus throughput and publish-to-handle latency through the AWS stand-in, at steady state.

    uv run python -m bench.bus [--rate 50 100 200] [--seconds 20] [--endpoint URL]

Starts moto's server (unless --endpoint names a running stand-in) and applies the infra spec
under a fresh prefix. For each offered rate it publishes PredictionMade events in batches of 10,
paced to that rate, while two consumers drain the logger and monitoring queues (both receive
PredictionMade, as in the real topology). The first quarter of each run is warm-up and is not
measured. Prints, per rate: events/second published and handled per queue, the p50/p95/p99
publish-to-handle latency (handle time minus the event's ``occurred_at``), and the deepest
backlog seen. A rate the bus sustains shows handled = offered and a backlog that stays small;
past that, the backlog and the latency grow for as long as the run lasts.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.results import Figure, write
from contracts import Event
from shared.aws import AwsClients, open_clients
from shared.bus import Consumer, Handler, Publisher
from shared.emulator import EmulatorProcess
from shared.infra import InfraSpec, ensure
from shared.logs import configure_logging
from shared.settings import AwsSettings, EmulatorSettings
from shared.worker import open_publisher, open_queue
from tests import factories
from tests.harness.ports import free_port

ROLES = ("logger", "monitoring")
BATCH = 10


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Tally:
    """What one queue's consumer saw during the measured window."""

    latencies_ms: list[float] = field(default_factory=list)
    handled: int = 0


async def backlog(clients: AwsClients, urls: list[str]) -> int:
    total = 0
    for url in urls:
        attributes = await clients.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        total += sum(int(v) for v in attributes["Attributes"].values())
    return total


async def publish_paced(
    publisher: Publisher, rate: float, seconds: float, measured: set[uuid.UUID], warmup: float
) -> int:
    """Publish batches of 10 at ``rate`` events/s for ``seconds``; returns events published."""
    began = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - began) < seconds:
        due = int(elapsed * rate) + BATCH - sent
        if due < BATCH:
            await asyncio.sleep(BATCH / rate / 4)
            continue
        batch = [factories.prediction_made() for _ in range(BATCH)]
        if elapsed >= warmup:
            measured.update(e.event_id for e in batch)
        await publisher.publish(batch)
        sent += BATCH
    return sent


@dataclass(frozen=True)
class RateResult:
    """What one offered rate gave: the printed line and its headline figures."""

    line: str
    offered: float
    handled: dict[str, float]
    p50_ms: dict[str, float]
    p95_ms: dict[str, float]
    p99_ms: dict[str, float]
    deepest: int


async def one_rate(clients: AwsClients, spec: InfraSpec, rate: float, seconds: float) -> RateResult:
    publisher = await open_publisher(clients, spec)
    measured: set[uuid.UUID] = set()
    tallies = {role: Tally() for role in ROLES}

    def recorder(tally: Tally) -> Handler:
        async def record(event: Event) -> None:
            if event.event_id in measured:
                tally.handled += 1
                tally.latencies_ms.append((time.time() - event.occurred_at.timestamp()) * 1000)

        return record

    stop = asyncio.Event()
    consumers = [
        Consumer(
            await open_queue(clients, spec, role),
            {"PredictionMade": [recorder(tallies[role])]},
            concurrency=32,
            wait_seconds=1,
        )
        for role in ROLES
    ]
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    urls = [
        (await clients.sqs.get_queue_url(QueueName=spec.queue(r).name))["QueueUrl"] for r in ROLES
    ]
    deepest = 0

    async def watch() -> None:
        nonlocal deepest
        while not stop.is_set():
            deepest = max(deepest, await backlog(clients, urls))
            await asyncio.sleep(2)

    watcher = asyncio.create_task(watch())
    warmup = seconds / 4
    began = time.monotonic()
    await publish_paced(publisher, rate, seconds, measured, warmup)
    published_window = seconds - warmup
    # Let the tail drain, then stop; what is not handled by then counts as not handled.
    deadline = time.monotonic() + 30
    while any(t.handled < len(measured) for t in tallies.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    drained = time.monotonic() - began - warmup
    stop.set()
    await asyncio.gather(*tasks, watcher)

    offered = len(measured) / published_window
    parts = [f"offered {rate:6.0f}/s  published {offered:6.0f}/s"]
    handled = {r: t.handled / max(drained, published_window) for r, t in tallies.items()}
    p50, p95, p99 = (
        {r: percentile(t.latencies_ms, q) for r, t in tallies.items()} for q in (0.5, 0.95, 0.99)
    )
    for role, tally in tallies.items():
        parts.append(
            f"{role}: handled {handled[role]:6.0f}/s "
            f"({tally.handled}/{len(measured)}) p50 {p50[role]:6.1f} ms "
            f"p95 {p95[role]:6.1f} ms p99 {p99[role]:6.1f} ms"
        )
    parts.append(f"deepest backlog {deepest}")
    return RateResult("\n    ".join(parts), offered, handled, p50, p95, p99, deepest)


def figures(rate: float, result: RateResult) -> list[Figure]:
    """The headline figures of one offered rate: the slower queue's throughput and latency."""
    slowest = min(result.handled, key=lambda role: result.handled[role])
    note = (
        f"{slowest} queue (the slower); published {result.offered:.0f}/s; "
        f"deepest backlog {result.deepest}"
    )
    return [
        Figure(
            f"pipeline throughput at {rate:.0f}/s offered",
            result.handled[slowest],
            "events/s",
            note=note,
        ),
        Figure(f"publish-to-handle p50 at {rate:.0f}/s", result.p50_ms[slowest], "ms", note=note),
        Figure(f"publish-to-handle p95 at {rate:.0f}/s", result.p95_ms[slowest], "ms", note=note),
        Figure(f"publish-to-handle p99 at {rate:.0f}/s", result.p99_ms[slowest], "ms", note=note),
    ]


async def run(endpoint: str, rates: list[float], seconds: float) -> list[Figure]:
    settings = AwsSettings(prefix=f"bench{uuid.uuid4().hex[:6]}", endpoint_url=endpoint)
    spec = InfraSpec.for_prefix(settings.prefix)
    async with open_clients(settings) as clients:
        await ensure(clients, spec)
        print(f"stand-in {endpoint}; PredictionMade in batches of {BATCH}, {seconds:.0f} s per")
        print("rate (first quarter warm-up); consumers: logger and monitoring, concurrency 32")
        found: list[Figure] = []
        for rate in rates:
            result = await one_rate(clients, spec, rate, seconds)
            print(result.line, flush=True)
            found += figures(rate, result)
        return found


def main() -> None:
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--endpoint", help="a running stand-in (default: start one)")
    parser.add_argument("--json", type=Path, help="also write the headline figures here")
    args = parser.parse_args()
    with ExitStack() as stack:
        endpoint = args.endpoint
        if endpoint is None:
            emulator = stack.enter_context(EmulatorProcess(EmulatorSettings(port=free_port())))
            endpoint = emulator.url
        write(args.json, "bus", asyncio.run(run(endpoint, args.rate, args.seconds)))


if __name__ == "__main__":
    main()
