"""The frontend's settings: where it listens, which API it talks to, and its upload limits."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["API_BATCH_LIMIT", "FrontendSettings"]

API_BATCH_LIMIT = 1_000
"""The API's default ``TOXIC_MAX_BATCH``: no batch call sends more comments than this."""


class FrontendSettings(BaseSettings):
    """``toxic serve frontend``; every field is also a ``TOXIC_FRONTEND_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="TOXIC_FRONTEND_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address Streamlit listens on.")
    port: int = Field(default=8501, ge=1, le=65_535, description="Port Streamlit listens on.")
    api_url: str = Field(
        default="http://127.0.0.1:8000", description="Root URL of `toxic serve api`."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key sent with every call unless the user pastes another; the review queue needs a "
            "moderator (or admin) key."
        ),
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0.0, le=600.0, description="How long one API call may take."
    )
    max_upload_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most comments one CSV upload may hold."
    )
    max_upload_mb: int = Field(
        default=20, ge=1, le=1_000, description="Largest CSV upload, in megabytes."
    )
    batch_size: int = Field(
        default=API_BATCH_LIMIT,
        ge=1,
        le=API_BATCH_LIMIT,
        description="Comments per batch call (at most the API's limit of 1,000).",
    )
    review_page_size: int = Field(
        default=50, ge=1, le=500, description="Pending reviews shown at once (the API's max: 500)."
    )

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"api_url must be an http(s) URL with a host, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_key")
    @classmethod
    def _blank_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # An exported-but-empty variable means "no key", not a key of zero characters.
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
