"""How ``toxic up`` runs each process: its command, environment and health check."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from services.up.settings import UpSettings
from services.up.state import StateFolder
from services.up.supervisor import ChildSpec
from shared.settings import AwsSettings

__all__ = ["available", "aws_env", "mlflow", "service", "stand_in", "train"]

# Each consumer logs this once it has found its queue and starts receiving.
CONSUMER_READY = '"consumer_started"'
_MODULES = {
    "api": "services.api.bootstrap",
    "logger": "services.logger.bootstrap",
    "monitoring": "services.monitoring.bootstrap",
    "training": "services.training.bootstrap",
    "frontend": "services.frontend.bootstrap",
    "dashboard": "services.dashboard.bootstrap",
}


def toxic(*args: str) -> list[str]:
    """The `toxic` CLI run by this interpreter (the same environment as `toxic up`)."""
    return [sys.executable, "-m", "services.cli", *args]


def available(name: str) -> bool:
    """Whether this checkout has the service's code (the platform grows a service at a time)."""
    try:
        return importlib.util.find_spec(_MODULES[name]) is not None
    except ModuleNotFoundError:
        return False


def aws_env(aws: AwsSettings) -> dict[str, str]:
    """What every child needs to find the deployment."""
    env = {"TOXIC_PREFIX": aws.prefix, "AWS_REGION": aws.region}
    if aws.endpoint_url:
        env["AWS_ENDPOINT_URL"] = aws.endpoint_url
    for name, value in aws.credentials().items():
        env[name.upper()] = str(value)
    return env


def stand_in(settings: UpSettings, state: StateFolder) -> ChildSpec:
    url = settings.url(settings.emulator_port)
    return ChildSpec(
        "stand-in",
        toxic(
            "emulator",
            "--host",
            settings.host,
            "--port",
            str(settings.emulator_port),
            "--state-dir",
            str(state.stand_in),
        ),
        health_url=f"{url}/moto-api/",
        essential=True,
        stop_timeout=settings.stop_timeout_seconds,
    )


def mlflow(settings: UpSettings, state: StateFolder, aws: AwsSettings) -> ChildSpec:
    """MLflow's server: runs and the registry in SQLite, artifacts in the deployment's bucket."""
    from shared.infra import InfraSpec

    bucket = InfraSpec.for_prefix(aws.prefix).bucket.name
    env = {
        **aws_env(aws),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "AWS_DEFAULT_REGION": aws.region,
    }
    s3 = aws.endpoint_for("s3")
    if s3:
        env["MLFLOW_S3_ENDPOINT_URL"] = s3
    return ChildSpec(
        "mlflow",
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            settings.host,
            "--port",
            str(settings.mlflow_port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{state.mlflow_db}",
            "--artifacts-destination",
            f"s3://{bucket}/mlflow",
        ],
        env=env,
        health_url=f"{settings.url(settings.mlflow_port)}/health",
        essential=True,
        stop_timeout=settings.stop_timeout_seconds,
    )


def train(settings: UpSettings, aws: AwsSettings, data: tuple[Path, ...]) -> ChildSpec:
    """``toxic train`` once, to publish a first champion."""
    options = [part for path in data for part in ("--data", str(path))]
    return ChildSpec(
        "train",
        toxic("train", *options),
        env={**aws_env(aws), "MLFLOW_TRACKING_URI": settings.url(settings.mlflow_port)},
        stop_timeout=settings.stop_timeout_seconds,
    )


def service(
    name: str,
    settings: UpSettings,
    state: StateFolder,
    aws: AwsSettings,
    keys: dict[str, str],
    data: tuple[Path, ...],
) -> ChildSpec:
    """``toxic serve NAME`` with what it needs to find the rest."""
    env = aws_env(aws)
    api_url = settings.url(settings.api_port)
    mlflow_url = settings.url(settings.mlflow_port)
    health_url: str | None = None
    ready_line: str | None = None
    if name == "api":
        env |= {
            "TOXIC_HOST": settings.host,
            "TOXIC_PORT": str(settings.api_port),
            "TOXIC_OUTBOX_PATH": str(state.outbox),
        }
        health_url = f"{api_url}/readyz"
    elif name == "frontend":
        env |= {
            "TOXIC_FRONTEND_HOST": settings.host,
            "TOXIC_FRONTEND_PORT": str(settings.frontend_port),
            "TOXIC_FRONTEND_API_URL": api_url,
            "TOXIC_FRONTEND_API_KEY": keys["moderator"],
        }
        health_url = f"{settings.url(settings.frontend_port)}/_stcore/health"
    elif name == "dashboard":
        env |= {
            "TOXIC_DASHBOARD_HOST": settings.host,
            "TOXIC_DASHBOARD_PORT": str(settings.dashboard_port),
            "TOXIC_DASHBOARD_API_URL": api_url,
            "TOXIC_DASHBOARD_API_KEY": keys["admin"],
            "MLFLOW_TRACKING_URI": mlflow_url,
        }
        health_url = f"{settings.url(settings.dashboard_port)}/_stcore/health"
    else:
        ready_line = CONSUMER_READY
        if name == "training":
            env["MLFLOW_TRACKING_URI"] = mlflow_url
            if data:
                # Retrains start from the data the first model was trained on.
                env["TOXIC_DATA_PATHS"] = ",".join(str(path) for path in data)
    return ChildSpec(
        name,
        toxic("serve", name),
        env=env,
        health_url=health_url,
        ready_line=ready_line,
        stop_timeout=settings.stop_timeout_seconds,
    )
