"""The monitoring service's settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ConsumerSettings

__all__ = ["MonitoringSettings"]


class MonitoringSettings(ConsumerSettings):
    """How rollup writes are batched; AWS and the consumer come from the shared base."""

    # A handler waits for its batch's transaction, so the handlers in flight bound a batch's
    # size: more than the base's 16 lets one transaction carry most of its 100 items.
    concurrency: int = Field(
        default=64, ge=1, le=256, description="Handlers running at once (events per batch)."
    )

    batch_delay_ms: int = Field(
        default=50,
        ge=1,
        le=5_000,
        description="Longest an event waits for others to share its rollup transaction.",
    )
    batch_items: int = Field(
        default=100,
        ge=8,
        le=100,
        description="Most items (markers and counter updates) in one rollup transaction.",
    )

    evaluate_seconds: float = Field(
        default=60.0,
        gt=0.0,
        le=3_600.0,
        description="How often the alert rules are judged and the pipeline health measured.",
    )
    view_seconds: float = Field(
        default=30.0,
        gt=0.0,
        le=3_600.0,
        description="How often the dashboard's default view is built and stored (its freshness).",
    )
    model_name: str = Field(
        default="toxic-comment-classifier",
        description="Registered model whose versions the view compares (as the dashboard's).",
    )
    probe_timeout_seconds: float = Field(
        default=2.0, gt=0.0, le=60.0, description="How long a replica's /readyz may take."
    )
