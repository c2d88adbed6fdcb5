"""`toxic up` as a person runs it: a real process, a real stand-in, Ctrl-C at the end."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable

import pytest

from shared.aws import open_clients
from shared.emulator import is_ready
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, toxic_command

pytestmark = pytest.mark.integration


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOXIC_"))}
    return {**env, **extra}


async def queue_names(url: str, prefix: str) -> set[str]:
    async with open_clients(AwsSettings(endpoint_url=url, prefix=prefix)) as clients:
        listed = await clients.sqs.list_queues(QueueNamePrefix=prefix)
    return {u.rsplit("/", 1)[-1] for u in listed.get("QueueUrls", [])}


async def test_up_starts_the_stand_in_with_the_infra_and_stops_it_on_ctrl_c(
    processes: Callable[..., ServiceProcess],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = processes(
        "up",
        toxic_command("up"),
        env=clean_env(TOXIC_EMULATOR_PORT=str(port), TOXIC_PREFIX="uptest"),
    )
    up.wait_until(lambda: "press Ctrl-C" in up.log(), 60, "running")

    assert is_ready(url)
    spec = InfraSpec.for_prefix("uptest")
    assert {q.name for q in spec.static_queues} <= await queue_names(url, "uptest")
    assert f"AWS_ENDPOINT_URL={url}" in up.log()

    up.signal(signal.SIGINT)
    assert await asyncio.to_thread(up.wait, 30) == 0
    assert not is_ready(url), "the stand-in outlived `toxic up`"
    assert "stopped" in up.log()


def test_up_on_a_busy_port_says_so_and_exits(processes: Callable[..., ServiceProcess]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = processes("up-busy", toxic_command("up"), env=clean_env(TOXIC_EMULATOR_PORT=str(port)))
        assert up.wait(60) == 1
    assert f"port {port} on 127.0.0.1 is busy" in up.log()
