"""Running API replicas (`toxic serve api`) against the stand-in, for integration tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared.settings import AwsSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, http_ready, toxic_command

__all__ = [
    "ReplicaConfig",
    "Start",
    "api_env",
    "logger_env",
    "run_replica",
    "start_api",
    "start_logger",
]

Start = Callable[..., ServiceProcess]


@dataclass(frozen=True)
class ReplicaConfig:
    """Where a replica listens and keeps its outbox."""

    name: str
    port: int
    outbox: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def api_env(
    aws: AwsSettings,
    tmp_path: Path,
    name: str = "api-1",
    *,
    sns_endpoint: str | None = None,
    scoring_processes: int = 0,
    **extra: str,
) -> tuple[ReplicaConfig, dict[str, str]]:
    """A replica's settings as environment variables; ``extra`` adds ``TOXIC_*`` overrides.

    ``sns_endpoint`` sends its publishing elsewhere (a cuttable proxy), one attempt per call.
    ``scoring_processes``: none unless asked (the default deployment has one): a child costs a
    replica seconds of CPU to start, and the suite starts dozens of replicas on two cores.
    """
    replica = ReplicaConfig(name, free_port(), tmp_path / f"{name}.outbox.sqlite3")
    env = {
        "AWS_ENDPOINT_URL": str(aws.endpoint_url),
        "TOXIC_PREFIX": aws.prefix,
        "TOXIC_PORT": str(replica.port),
        "TOXIC_INSTANCE": name,
        "TOXIC_OUTBOX_PATH": str(replica.outbox),
        "TOXIC_RECONCILE_SECONDS": "30",
        "TOXIC_SCORING_PROCESSES": str(scoring_processes),
        **{f"TOXIC_{key.upper()}": value for key, value in extra.items()},
    }
    if sns_endpoint is not None:
        env.update({"AWS_ENDPOINT_URL_SNS": sns_endpoint, "AWS_MAX_ATTEMPTS": "1"})
    return replica, env


def start_api(
    processes: Start,
    aws: AwsSettings,
    tmp_path: Path,
    name: str = "api-1",
    *,
    scoring_processes: int = 0,
    **extra: str,
) -> tuple[ReplicaConfig, ServiceProcess]:
    """`toxic serve api` through the ``processes`` fixture, once ``/readyz`` answers 200."""
    replica, env = api_env(aws, tmp_path, name, scoring_processes=scoring_processes, **extra)
    return replica, run_replica(processes, replica, env)


def run_replica(
    processes: Start, replica: ReplicaConfig, env: dict[str, str], process_name: str = ""
) -> ServiceProcess:
    """`toxic serve api` with ``env``, once its ``/readyz`` answers 200."""
    return processes(
        process_name or replica.name,
        toxic_command("serve", "api"),
        env=env,
        ready=http_ready(f"{replica.url}/readyz"),
        timeout=60,
    )


def logger_env(aws: AwsSettings) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": str(aws.endpoint_url),
        "TOXIC_PREFIX": aws.prefix,
        "TOXIC_WAIT_TIME_SECONDS": "1",
    }


def start_logger(processes: Start, aws: AwsSettings) -> ServiceProcess:
    """`toxic serve logger` through the ``processes`` fixture."""
    return processes("logger", toxic_command("serve", "logger"), env=logger_env(aws))
