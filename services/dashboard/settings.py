"""The dashboard's settings: where it listens, where AWS is, the API the retrain button calls."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from shared.settings import AwsSettings

__all__ = ["DashboardSettings"]


class DashboardSettings(AwsSettings):
    """``toxic serve dashboard``: ``TOXIC_DASHBOARD_*`` plus the shared AWS variables."""

    dashboard_host: str = Field(default="127.0.0.1", description="Address Streamlit listens on.")
    dashboard_port: int = Field(
        default=8502, ge=1, le=65_535, description="Port Streamlit listens on."
    )
    dashboard_api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Root URL of `toxic serve api`, which the retrain button calls.",
    )
    dashboard_api_key: SecretStr | None = Field(
        default=None,
        description="Admin key the retrain button sends unless the user pastes another.",
    )
    dashboard_refresh_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=3_600.0,
        description="How long loaded page data is reused before the rollups are read again.",
    )
    dashboard_view_max_age_seconds: float = Field(
        default=90.0,
        ge=1.0,
        le=86_400.0,
        description="Oldest monitoring-built view the page shows before it reads the rollups live.",
    )
    dashboard_timeout_seconds: float = Field(
        default=10.0, gt=0.0, le=120.0, description="How long one page load or API call may take."
    )
    model_name: str = Field(
        default="toxic-comment-classifier",
        description="Registered model whose history the dashboard lists (as the training's).",
    )

    @field_validator("dashboard_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"dashboard_api_url must be an http(s) URL with a host, got {value!r}")
        return value.rstrip("/")

    @field_validator("dashboard_api_key")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # An exported-but-empty variable means "no key", not a key of zero characters.
        if value is not None and not value.get_secret_value().strip():
            return None
        return value
