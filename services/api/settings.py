"""The API's settings: where it listens, its limits, moderation thresholds, keys and reloads.

Every limit a request can hit is named here, with the defaults the README documents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shared.settings import AwsSettings

__all__ = ["ApiSettings"]

MIB = 1024 * 1024


class ApiSettings(AwsSettings):
    """``toxic serve api``; every field is also a ``TOXIC_<NAME>`` environment variable."""

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8000, ge=1, le=65_535)
    instance: str | None = Field(
        default=None, description="Replica name in events, logs and its queue (default: host-pid)."
    )
    public_url: str | None = Field(
        default=None,
        description="Root URL clients use (discovery document); default: taken from the request.",
    )

    # Limits of a request.
    max_text_chars: int = Field(default=10_000, ge=1, description="Longest comment accepted.")
    max_batch: int = Field(default=1_000, ge=1, description="Most comments in one batch call.")
    max_body_bytes: int = Field(default=2 * MIB, ge=1_024, description="Largest request body.")

    # Moderation, as the seed had it: reject at a top score >= 0.9, allow at <= 0.1.
    reject_at: float = Field(default=0.9, gt=0.0, le=1.0)
    allow_at: float = Field(default=0.1, ge=0.0, lt=1.0)
    high_priority_at: float = Field(default=0.8, ge=0.0, le=1.0)
    medium_priority_at: float = Field(default=0.5, ge=0.0, le=1.0)

    # Keys and rate limits (per replica).
    require_client_key: bool = Field(
        default=False,
        description="Whether scoring and feedback need a key (moderation always does).",
    )
    rate_limit_per_second: float = Field(
        default=100.0, ge=0.0, description="Requests per second per key (or address); 0: no limit."
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="Requests a key may send at once.")
    key_cache_seconds: float = Field(
        default=30.0, ge=0.0, description="How long a key lookup holds."
    )

    # The outbox of events waiting for the bus.
    outbox_path: Path | None = Field(
        default=None,
        description="SQLite file of the outbox (default: under ~/.local/state/toxic/).",
    )
    outbox_capacity: int = Field(default=100_000, ge=1, description="Most events it holds.")
    drain_seconds: float = Field(default=10.0, ge=0.0, description="How long a stop drains it.")

    # The model.
    reconcile_seconds: float = Field(
        default=30.0, gt=0.0, description="How often the champion pointer is checked (by ETag)."
    )
    explain_top: int = Field(default=5, ge=1, le=50, description="N-grams per label explained.")
    scoring_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Child processes that score batches beside the event loop (0: a thread).",
    )

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Self:
        if self.allow_at >= self.reject_at:
            raise ValueError(
                f"TOXIC_ALLOW_AT ({self.allow_at}) must be below TOXIC_REJECT_AT ({self.reject_at})"
            )
        if self.medium_priority_at > self.high_priority_at:
            raise ValueError("TOXIC_MEDIUM_PRIORITY_AT must not exceed TOXIC_HIGH_PRIORITY_AT")
        return self
