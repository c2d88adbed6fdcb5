"""A worker process for tests of the consumer runtime: its handler takes its time.

Run as ``python -m tests.harness.slow_worker`` with the stand-in's settings in the environment.
It consumes the training queue; for each RetrainRequested it writes ``started <id>`` to the file
in ``SLOW_WORKER_LOG``, sleeps ``SLOW_WORKER_SECONDS`` and writes ``finished <id>``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from contracts import Event
from shared.aws import AwsClients
from shared.bus import HandlerRegistry, Publisher
from shared.logs import configure_logging
from shared.settings import ConsumerSettings
from shared.worker import run_worker


def build(log_path: Path, seconds: float) -> HandlerRegistry:
    async def take_time(event: Event) -> None:
        with log_path.open("a") as log:
            log.write(f"started {event.event_id}\n")
        await asyncio.sleep(seconds)
        with log_path.open("a") as log:
            log.write(f"finished {event.event_id}\n")

    return {"RetrainRequested": [take_time]}


def main() -> None:
    configure_logging()
    log_path = Path(os.environ["SLOW_WORKER_LOG"])
    seconds = float(os.environ.get("SLOW_WORKER_SECONDS", "2"))

    def handlers(clients: AwsClients, publisher: Publisher) -> HandlerRegistry:
        return build(log_path, seconds)

    asyncio.run(run_worker(ConsumerSettings(), "training", handlers))


if __name__ == "__main__":
    main()
