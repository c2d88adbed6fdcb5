"""Running API replicas (`toxic serve api`) against the stand-in, for integration tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.settings import AwsSettings
from tests.harness.ports import free_port

__all__ = ["ReplicaConfig", "api_env"]


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
    aws: AwsSettings, tmp_path: Path, name: str = "api-1", **extra: str
) -> tuple[ReplicaConfig, dict[str, str]]:
    """A replica's settings as environment variables; ``extra`` adds ``TOXIC_*`` overrides."""
    replica = ReplicaConfig(name, free_port(), tmp_path / f"{name}.outbox.sqlite3")
    env = {
        "AWS_ENDPOINT_URL": str(aws.endpoint_url),
        "TOXIC_PREFIX": aws.prefix,
        "TOXIC_PORT": str(replica.port),
        "TOXIC_INSTANCE": name,
        "TOXIC_OUTBOX_PATH": str(replica.outbox),
        "TOXIC_RECONCILE_SECONDS": "30",
        **{f"TOXIC_{key.upper()}": value for key, value in extra.items()},
    }
    return replica, env
