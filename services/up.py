"""``toxic up``: the whole system on this machine, no Docker and no AWS account needed.

It grows with the platform. Today it starts the AWS stand-in (unless AWS endpoints are
configured), applies the infrastructure spec, prints what runs where, and on Ctrl-C stops
everything it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType

from shared.aws import open_clients
from shared.emulator import EmulatorProcess
from shared.errors import ConfigurationError
from shared.infra import InfraSpec, ensure, summarize
from shared.settings import AwsSettings, EmulatorSettings

__all__ = ["run_up"]


async def _apply(settings: AwsSettings) -> str:
    async with open_clients(settings) as clients:
        changes = await ensure(clients, InfraSpec.for_prefix(settings.prefix))
    return summarize(changes)


def _wait_for_signal(alive: Callable[[], bool]) -> str:
    """Block until SIGINT/SIGTERM (returns its name) or until ``alive()`` turns false."""
    stopped = threading.Event()
    received: list[str] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stopped.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopped.wait(0.5):
            if not alive():
                return "child-exited"
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return received[0]


def run_up(emulator: EmulatorSettings, echo: Callable[[str], None] = print) -> int:
    """Start what exists, print where it is, and stop it all on Ctrl-C; returns an exit code."""
    with ExitStack() as stack:
        aws = AwsSettings()
        stand_in: EmulatorProcess | None = None
        if aws.endpoint_url is None:
            stand_in = stack.enter_context(EmulatorProcess(emulator))
            os.environ["AWS_ENDPOINT_URL"] = stand_in.url
            aws = AwsSettings()
            echo(f"AWS stand-in (moto) started at {stand_in.url}; it keeps state in memory only")
        else:
            echo(f"using the AWS endpoint configured in AWS_ENDPOINT_URL: {aws.endpoint_url}")
        echo(f"infrastructure ({aws.prefix}): {asyncio.run(_apply(aws))}")

        rows = [("AWS endpoint", aws.endpoint_url or f"AWS {aws.region}")]
        width = max(len(name) for name, _ in rows)
        echo("")
        for name, where in rows:
            echo(f"  {name:<{width}}  {where}")
        echo("")
        echo(f"export AWS_ENDPOINT_URL={aws.endpoint_url} TOXIC_PREFIX={aws.prefix} to reach it")
        echo("running; press Ctrl-C to stop")

        def alive() -> bool:
            return stand_in is None or stand_in.running

        why = _wait_for_signal(alive)
        if why == "child-exited":
            echo("error: the AWS stand-in exited unexpectedly; stopping")
            return 1
        echo(f"{why}: stopping")
    echo("stopped")
    return 0


def main(emulator: EmulatorSettings) -> int:
    try:
        return run_up(emulator)
    except ConfigurationError as exc:
        print(f"error: {exc}")
        return 1
