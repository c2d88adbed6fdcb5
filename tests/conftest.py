"""Fixtures shared by every tier: the AWS stand-in as a real process, settings and clients."""

from __future__ import annotations

import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.aws import AwsClients, open_clients
from shared.emulator import EmulatorProcess, reset
from shared.infra import InfraSpec, ensure
from shared.settings import AwsSettings, EmulatorSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, http_ready
from tests.harness.proxy import TcpProxy

TIERS = ("unit", "integration", "e2e", "browser", "faults", "localstack")


# Only the localstack tier may be skipped in CI: it needs something answering on :4566.
SKIPPABLE_IN_CI = frozenset({"localstack"})

_tier_of: dict[str, str] = {}
_outcomes: dict[str, Counter[str]] = {tier: Counter() for tier in TIERS}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test sits in exactly one tier, so `make test` can say what ran and what could not."""
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t) is not None]
        if len(tiers) != 1:
            raise pytest.UsageError(f"{item.nodeid} needs exactly one tier marker, has {tiers}")
        _tier_of[item.nodeid] = tiers[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under xdist the controller collects nothing itself: a worker's report names the markers.
    tier = _tier_of.get(report.nodeid) or next((t for t in TIERS if t in report.keywords), None)
    if tier is None:
        return
    _tier_of[report.nodeid] = tier
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome: str = "failed" if report.failed else report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        _outcomes[tier][outcome] += 1


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    """One line per tier, and a loud banner for every tier that could not run here."""
    write = terminalreporter.write_line
    terminalreporter.section("tiers")
    collected = Counter(_tier_of.values())
    for tier in TIERS:
        counts = _outcomes[tier]
        if collected[tier] == 0:
            write(f"{tier:12} no tests yet")
            continue
        write(
            f"{tier:12} {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped (of {collected[tier]})"
        )
        if counts["skipped"]:
            write(f"!!! TIER {tier.upper()}: {counts['skipped']} TESTS DID NOT RUN (see -ra above)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped tier is a failure, except those that need a LocalStack to answer."""
    skipped = [t for t in TIERS if _outcomes[t]["skipped"] and t not in SKIPPABLE_IN_CI]
    if _in_ci() and skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        sys.stderr.write(f"CI: tiers {', '.join(skipped)} had skipped tests; none may skip here\n")


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Put back this process's ``__main__`` after each test.

    Streamlit's AppTest runs an app script as ``__main__`` and leaves it there; a process started
    later with multiprocessing's spawn (a replica's scoring process) imports the parent's
    ``__main__`` first, and would run the app script.
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


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
async def deployment(clients: AwsClients, aws_settings: AwsSettings) -> InfraSpec:
    """The test's deployment, with its infrastructure applied to the stand-in."""
    spec = InfraSpec.for_prefix(aws_settings.prefix)
    await ensure(clients, spec)
    return spec


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


MLFLOW_BUCKET = "mlflow-test-artifacts"


@pytest.fixture(scope="session")
def mlflow_server(
    emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real MLflow tracking server (SQLite, artifacts in the stand-in's S3); yields its URL."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    server = ServiceProcess(
        "mlflow",
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            f"s3://{MLFLOW_BUCKET}/mlflow",
        ],
        log_dir=folder,
        env={
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_S3_ENDPOINT_URL": emulator.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        ready=http_ready(f"http://127.0.0.1:{port}/health"),
    )
    server.start(timeout=120)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def mlflow_url(mlflow_server: str, clients: AwsClients) -> str:
    """The MLflow server, with its artifact bucket present (the stand-in is reset per test)."""
    buckets = {b["Name"] for b in (await clients.s3.list_buckets()).get("Buckets", [])}
    if MLFLOW_BUCKET not in buckets:
        await clients.s3.create_bucket(Bucket=MLFLOW_BUCKET)
    return mlflow_server
