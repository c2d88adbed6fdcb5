"""What ``toxic up`` starts and where: ports, the state folder, the services, the snapshot pace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Final

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["SERVICE_NAMES", "UpSettings", "default_state_dir"]

# The services `toxic up` runs, in start order: consumers first, so nothing the API publishes
# waits long in a queue; the Streamlit apps last, as they call the API.
SERVICE_NAMES: Final = ("logger", "monitoring", "training", "api", "frontend", "dashboard")


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/toxic/up``, else ``~/.local/state/toxic/up``."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "toxic" / "up"


class UpSettings(BaseSettings):
    """``toxic up``'s own settings; each is also an option of the command."""

    model_config = SettingsConfigDict(
        env_prefix="TOXIC_UP_", extra="ignore", frozen=True, validate_by_name=True
    )

    state_dir: Path = Field(
        default_factory=default_state_dir,
        description="Where the stand-in's snapshots, MLflow's database and the keys are kept.",
    )
    services: Annotated[tuple[str, ...], NoDecode] = Field(
        default=SERVICE_NAMES, description="Which services to run, comma-separated."
    )
    host: str = Field(default="127.0.0.1", description="Address every process listens on.")
    api_port: int = Field(
        default=8000, ge=1, le=65_535, validation_alias=AliasChoices("api_port", "TOXIC_PORT")
    )
    frontend_port: int = Field(
        default=8501,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("frontend_port", "TOXIC_FRONTEND_PORT"),
    )
    dashboard_port: int = Field(
        default=8502,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("dashboard_port", "TOXIC_DASHBOARD_PORT"),
    )
    mlflow_port: int = Field(
        default=5000,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("mlflow_port", "TOXIC_MLFLOW_PORT"),
    )
    emulator_port: int = Field(
        default=4566,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("emulator_port", "TOXIC_EMULATOR_PORT"),
    )
    snapshot_seconds: float = Field(
        default=5.0,
        gt=0,
        le=10,
        description="Seconds between snapshots of the stand-in (what a hard kill may lose).",
    )
    health_timeout_seconds: float = Field(
        default=180.0, gt=0, description="How long start-up waits for every service's health."
    )
    stop_timeout_seconds: float = Field(
        default=20.0, gt=0, description="How long a stop waits for a process before SIGKILL."
    )

    @field_validator("services", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("services")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SERVICE_NAMES))
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}"
            )
        if not value:
            raise ValueError("choose at least one service")
        return tuple(name for name in SERVICE_NAMES if name in value)

    @model_validator(mode="after")
    def _distinct_ports(self) -> UpSettings:
        ports = {
            "api": self.api_port,
            "frontend": self.frontend_port,
            "dashboard": self.dashboard_port,
            "MLflow": self.mlflow_port,
            "stand-in": self.emulator_port,
        }
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ValueError(f"{seen[port]} and {name} are both given port {port}")
            seen[port] = name
        return self

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"
