"""The training service's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import ConsumerSettings

__all__ = ["TrainingSettings"]


class TrainingSettings(ConsumerSettings):
    """Where the data, MLflow and the quality gate are; AWS comes from the shared base."""

    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "TOXIC_MLFLOW_TRACKING_URI"),
        description="The MLflow tracking server (http://host:port).",
    )
    experiment: str = Field(default="toxic-comment-classifier", min_length=1)
    model_name: str = Field(default="toxic-comment-classifier", min_length=1)
    data_paths: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="Jigsaw-format CSV files to train on, comma-separated (TOXIC_DATA_PATHS).",
    )
    use_kaggle: bool = Field(
        default=True, description="Try Kaggle (kagglehub) when no data paths are given."
    )
    lease_seconds: int = Field(default=600, ge=30, description="Training lease time-to-live.")
    gate_mean_auc_tolerance: float = Field(
        default=0.002,
        ge=0,
        le=0.1,
        description="How far the mean AUC may fall below the champion's.",
    )
    gate_label_auc_tolerance: float = Field(
        default=0.01, ge=0, le=0.2, description="How far any one label's AUC may fall."
    )

    @field_validator("data_paths", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(part.strip()) for part in value.split(",") if part.strip())
        return value
