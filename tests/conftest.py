"""Fixtures shared by every tier: the AWS stand-in as a real process, settings and clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from shared.aws import AwsClients, open_clients
from shared.emulator import EmulatorProcess, reset
from shared.settings import AwsSettings, EmulatorSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess
from tests.harness.proxy import TcpProxy

TIERS = ("unit", "integration", "e2e", "browser", "faults", "localstack")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test sits in exactly one tier, so `make test` can say what ran and what could not."""
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t) is not None]
        if len(tiers) != 1:
            raise pytest.UsageError(
                f"{item.nodeid} must carry exactly one tier marker, has {tiers}"
            )


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """moto's server started through `toxic emulator` on a free port, for the whole session."""
    with EmulatorProcess(EmulatorSettings(port=free_port())) as process:
        yield process


@pytest.fixture
def aws_settings(emulator: EmulatorProcess) -> Iterator[AwsSettings]:
    """Settings aimed at the stand-in, with a fresh deployment prefix; state is reset after."""
    yield AwsSettings(
        prefix=f"t{uuid.uuid4().hex[:8]}",
        endpoint_url=emulator.url,
        region="us-east-1",
    )
    reset(emulator.url)


@pytest.fixture
async def clients(aws_settings: AwsSettings) -> AsyncIterator[AwsClients]:
    async with open_clients(aws_settings) as opened:
        yield opened


@pytest.fixture
def bus_proxy(emulator: EmulatorProcess) -> Iterator[TcpProxy]:
    """A cuttable TCP proxy in front of the stand-in."""
    with TcpProxy("127.0.0.1", emulator.settings.port) as proxy:
        yield proxy


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """`start(name, command, env=..., ready=...)` runs a real process; all stop after the test."""
    started: list[ServiceProcess] = []

    def start(
        name: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        timeout: float = 30.0,
    ) -> ServiceProcess:
        process = ServiceProcess(name, command, log_dir=tmp_path, env=env, ready=ready)
        started.append(process)
        return process.start(timeout)

    yield start
    for process in reversed(started):
        process.stop()
