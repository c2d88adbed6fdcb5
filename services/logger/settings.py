"""The logger service's settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ConsumerSettings

__all__ = ["LoggerSettings"]

_DAY_SECONDS = 24 * 3600


class LoggerSettings(ConsumerSettings):
    """How long predictions are kept; AWS and the consumer come from the shared base."""

    prediction_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days a prediction stays in the predictions table before its TTL expires.",
    )

    @property
    def prediction_retention_seconds(self) -> int:
        return self.prediction_retention_days * _DAY_SECONDS
