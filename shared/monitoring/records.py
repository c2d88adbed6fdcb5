"""The monitoring's small records, written by ``toxic serve monitoring``, read by the dashboard.

Rollup counters are in ``shared.monitoring.rollups``; these are the rest, one shape per record:

    rollups table   baseline#<version> / baseline        a published version's drift baseline
                    model#current / current              the newest published version seen
                    view#default / current               the dashboard's default view, built
                                                         every TOXIC_VIEW_SECONDS (encoded by
                                                         shared.monitoring.view_codec)
    alerts table    active / <rule>                      a rule firing now (deleted when it stops)
                    firings / <at>#<rule>                history: a rule started firing, changed
                                                         severity, or asked for a retrain
                    retrain / <reason>                   the last RetrainRequested per reason: the
                                                         claim that enforces the cooldown across
                                                         competing monitoring consumers
                    health / pipeline                    the last pipeline-health reading
    models table    model#<name> / <at>#<outcome>#<id>   rejected candidates and failed runs,
                                                         beside the logger's published models
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, TypeAdapter, computed_field

from contracts import Label, LabelMetrics, ModelPublished, ModelRejected, TrainingFailed
from shared.dynamo import iso_utc, to_attribute_map
from shared.items import StoredItem, UtcTime

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "ActiveAlert",
    "BaselineItem",
    "CurrentModel",
    "FiringRecord",
    "PipelineHealth",
    "QueueDepth",
    "ReplicaHealth",
    "RetrainClaim",
    "TrainingOutcomeItem",
    "ViewItem",
]


class _Keyed(StoredItem):
    """An item of a table keyed ``pk`` + ``sk`` (each subclass computes both)."""

    HASH_KEY: ClassVar[str] = "pk"
    RANGE_KEY: ClassVar[str | None] = "sk"


class BaselineItem(_Keyed):
    """A model version's drift baseline, in the rollups table under ``baseline#<version>``."""

    TABLE: ClassVar[str] = "rollups"

    model_name: str
    model_version: str
    published_at: UtcTime
    event_id: UUID
    baseline_json: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return f"baseline#{self.model_version}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return "baseline"

    @classmethod
    def from_event(cls, event: ModelPublished) -> BaselineItem:
        return cls(
            model_name=event.model_name,
            model_version=event.model_version,
            published_at=event.occurred_at,
            event_id=event.event_id,
            baseline_json=event.baseline.model_dump_json(),
        )


class CurrentModel(_Keyed):
    """The newest published version the monitoring has seen (rules and drift judge it)."""

    TABLE: ClassVar[str] = "rollups"

    model_name: str
    model_version: str
    published_at: UtcTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "model#current"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return "current"


class ViewItem(_Keyed):
    """The dashboard's default view as the monitoring last built it (a materialized view)."""

    TABLE: ClassVar[str] = "rollups"

    view: bytes
    """``shared.monitoring.view_codec.encode_view``'s bytes, stored as a binary attribute."""
    built_at: UtcTime
    built_by: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "view#default"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return "current"

    def to_item(self) -> dict[str, AttributeValueTypeDef]:
        # JSON mode would write the bytes as text; DynamoDB keeps them as they are in a "B".
        item = to_attribute_map(self.model_dump(mode="json", exclude={"view"}))
        item["view"] = {"B": self.view}
        return item


class _Alert(_Keyed):
    TABLE: ClassVar[str] = "alerts"

    rule: str
    severity: Literal["info", "warning", "error"]
    message: str
    value: float
    threshold: float


class ActiveAlert(_Alert):
    """A rule firing now; ``since`` is when it started, ``seen_at`` its latest evaluation."""

    since: UtcTime
    seen_at: UtcTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "active"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return self.rule


class FiringRecord(_Alert):
    """One entry of the alert history; ``retrain_request_id`` when it asked for a retrain."""

    at: UtcTime
    retrain_reason: str | None = None
    retrain_request_id: UUID | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "firings"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return f"{iso_utc(self.at)}#{self.rule}"


class RetrainClaim(_Keyed):
    """The last retrain asked for with ``reason``: one claim per reason per cooldown."""

    TABLE: ClassVar[str] = "alerts"

    reason: str
    requested_at: UtcTime
    request_id: UUID
    rule: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "retrain"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return self.reason


class QueueDepth(BaseModel):
    """One queue's message counts; the oldest message's age comes from CloudWatch on AWS only."""

    model_config = ConfigDict(frozen=True)

    name: str
    dead_letter: bool
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float | None = None


class ReplicaHealth(BaseModel):
    """An API replica as its ``/readyz`` answered (``error`` when it did not)."""

    model_config = ConfigDict(frozen=True)

    instance: str
    endpoint: str | None
    ready: bool | None = None
    outbox_depth: int | None = None
    model_version: str | None = None
    error: str | None = None


class PipelineHealth(_Keyed):
    """The pipeline as the monitoring last measured it."""

    TABLE: ClassVar[str] = "alerts"

    measured_at: UtcTime
    measured_by: str
    queues: tuple[QueueDepth, ...]
    replicas: tuple[ReplicaHealth, ...]
    consumer_lag_seconds: float | None = None
    """Now minus ``occurred_at`` of the newest event this monitoring instance handled."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return "health"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return "pipeline"


class TrainingOutcomeItem(_Keyed):
    """A rejected candidate or a failed run, in the models table beside the published ones."""

    TABLE: ClassVar[str] = "models"

    model_name: str
    outcome: Literal["rejected", "failed"]
    occurred_at: UtcTime
    event_id: UUID
    candidate_version: str | None = None
    champion_version: str | None = None
    reasons: tuple[str, ...] = ()
    candidate_metrics_json: str | None = None
    champion_metrics_json: str | None = None
    stage: str | None = None
    error: str | None = None
    mlflow_run_id: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return f"model#{self.model_name}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return f"{iso_utc(self.occurred_at)}#{self.outcome}#{self.event_id}"

    @classmethod
    def from_event(cls, event: ModelRejected | TrainingFailed) -> TrainingOutcomeItem:
        if isinstance(event, ModelRejected):
            return cls(
                model_name=event.model_name,
                outcome="rejected",
                occurred_at=event.occurred_at,
                event_id=event.event_id,
                candidate_version=event.candidate_version,
                champion_version=event.champion_version,
                reasons=event.reasons,
                candidate_metrics_json=_metrics_json(event.candidate_metrics),
                champion_metrics_json=_metrics_json(event.champion_metrics),
                mlflow_run_id=event.mlflow_run_id,
            )
        return cls(
            model_name=event.model_name,
            outcome="failed",
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            stage=event.stage,
            error=event.error,
        )


_METRICS: Final = TypeAdapter(dict[Label, LabelMetrics])


def _metrics_json(metrics: dict[Label, LabelMetrics]) -> str:
    return _METRICS.dump_json(metrics).decode()
