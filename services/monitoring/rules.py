"""Alert rules over a snapshot of monitoring state; some of them ask for a retrain.

Pure functions, no I/O: the worker builds a :class:`MonitoringSnapshot` from its rollups, calls
:func:`evaluate`, records every :class:`Firing` and publishes ``RetrainRequested`` for each
:func:`retrain_reasons` entry. Comparisons are strict as the rules are worded ("below 0.9",
"above 0.5"), except the feedback volume, which fires once the count *reaches* its threshold.

A retraining rule keeps firing (so the alert stays visible) while its reason is in cooldown, but
then carries no ``retrain_reason``: at most one retrain per reason per cooldown, measured from the
last ``RetrainRequested`` with that reason, whoever sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.vocabulary import RetrainReason

__all__ = [
    "RULES",
    "RULE_NAMES",
    "Firing",
    "MonitoringSnapshot",
    "Rule",
    "RuleSettings",
    "Severity",
    "evaluate",
    "retrain_reasons",
]

RULE_NAMES: tuple[str, ...] = (
    "feedback_accuracy",
    "no_predictions",
    "toxic_rate",
    "drift",
    "feedback_volume",
)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class RuleSettings(BaseSettings):
    """Thresholds of the alert rules (``TOXIC_ALERT_ACCURACY_WARNING=0.85`` and so on)."""

    model_config = SettingsConfigDict(env_prefix="TOXIC_ALERT_", extra="ignore", frozen=True)

    accuracy_warning: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Feedback accuracy below this warns."
    )
    accuracy_error: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Feedback accuracy below this is an error."
    )
    min_feedback: int = Field(
        default=20, ge=1, description="Feedback rows in the window before accuracy is judged."
    )
    toxic_rate: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of flagged predictions above this warns."
    )
    min_predictions: int = Field(
        default=20, ge=1, description="Predictions in the window before the toxic rate is judged."
    )
    drift_psi: float = Field(
        default=0.25, ge=0.0, description="Largest per-label PSI above this asks for a retrain."
    )
    feedback_volume: int = Field(
        default=500, ge=1, description="Feedback rows since the last model that ask for a retrain."
    )
    retrain_on_accuracy_error: bool = Field(
        default=True, description="An accuracy error also asks for a retrain (accuracy_drop)."
    )
    retrain_cooldown_hours: float = Field(
        default=6.0, gt=0.0, description="Least time between two retrains for the same reason."
    )
    disabled: frozenset[str] = Field(
        default=frozenset(), description='Rules not evaluated, as JSON: ["toxic_rate"].'
    )

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; the rules are {list(RULE_NAMES)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.accuracy_error > self.accuracy_warning:
            raise ValueError("accuracy_error cannot be above accuracy_warning")
        return self

    @property
    def retrain_cooldown(self) -> timedelta:
        return timedelta(hours=self.retrain_cooldown_hours)


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _require_rate(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie between 0 and 1, not {value}")


@dataclass(frozen=True, slots=True)
class MonitoringSnapshot:
    """What the rules look at. A rate is None when its window holds nothing to compute it on."""

    now: datetime
    predictions_last_24h: int
    feedback_accuracy: float | None = None
    feedback_count: int = 0
    toxic_rate: float | None = None
    toxic_rate_predictions: int = 0
    max_drift_psi: float | None = None
    feedback_since_model: int = 0
    last_retrain: Mapping[RetrainReason, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware("now", self.now)
        for reason, moment in self.last_retrain.items():
            _require_aware(f"last_retrain[{reason}]", moment)
        _require_rate("feedback_accuracy", self.feedback_accuracy)
        _require_rate("toxic_rate", self.toxic_rate)
        counts = {
            "predictions_last_24h": self.predictions_last_24h,
            "feedback_count": self.feedback_count,
            "toxic_rate_predictions": self.toxic_rate_predictions,
            "feedback_since_model": self.feedback_since_model,
        }
        negative = [name for name, count in counts.items() if count < 0]
        if negative:
            raise ValueError(f"counts cannot be negative: {', '.join(negative)}")
        if self.max_drift_psi is not None and self.max_drift_psi < 0:
            raise ValueError("a PSI cannot be negative")


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule that fired; ``retrain_reason`` is set when it asks for a retrain now."""

    rule: str
    severity: Severity
    message: str
    value: float
    threshold: float
    retrain_reason: RetrainReason | None = None
    retrain_suppressed_until: datetime | None = None


Rule = Callable[[MonitoringSnapshot, RuleSettings], Firing | None]


def feedback_accuracy(snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing | None:
    """Error below ``accuracy_error``, else warning below ``accuracy_warning``."""
    accuracy = snapshot.feedback_accuracy
    if accuracy is None or snapshot.feedback_count < settings.min_feedback:
        return None
    over = f"over {snapshot.feedback_count} feedback rows"
    if accuracy < settings.accuracy_error:
        reason = RetrainReason.ACCURACY_DROP if settings.retrain_on_accuracy_error else None
        return Firing(
            rule="feedback_accuracy",
            severity=Severity.ERROR,
            message=f"feedback accuracy {accuracy:.1%} {over} is below "
            f"{settings.accuracy_error:.1%}",
            value=accuracy,
            threshold=settings.accuracy_error,
            retrain_reason=reason,
        )
    if accuracy < settings.accuracy_warning:
        return Firing(
            rule="feedback_accuracy",
            severity=Severity.WARNING,
            message=f"feedback accuracy {accuracy:.1%} {over} is below "
            f"{settings.accuracy_warning:.1%}",
            value=accuracy,
            threshold=settings.accuracy_warning,
        )
    return None


def no_predictions(snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing | None:
    if snapshot.predictions_last_24h > 0:
        return None
    return Firing(
        rule="no_predictions",
        severity=Severity.WARNING,
        message="no predictions in the last 24 hours",
        value=0.0,
        threshold=0.0,
    )


def toxic_rate(snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing | None:
    rate = snapshot.toxic_rate
    if rate is None or snapshot.toxic_rate_predictions < settings.min_predictions:
        return None
    if rate <= settings.toxic_rate:
        return None
    return Firing(
        rule="toxic_rate",
        severity=Severity.WARNING,
        message=f"toxic rate {rate:.1%} over {snapshot.toxic_rate_predictions} predictions "
        f"is above {settings.toxic_rate:.1%}",
        value=rate,
        threshold=settings.toxic_rate,
    )


def drift(snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing | None:
    psi = snapshot.max_drift_psi
    if psi is None or psi <= settings.drift_psi:
        return None
    return Firing(
        rule="drift",
        severity=Severity.WARNING,
        message=f"score drift PSI {psi:.3f} is above {settings.drift_psi:.3f}",
        value=psi,
        threshold=settings.drift_psi,
        retrain_reason=RetrainReason.DRIFT,
    )


def feedback_volume(snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing | None:
    count = snapshot.feedback_since_model
    if count < settings.feedback_volume:
        return None
    return Firing(
        rule="feedback_volume",
        severity=Severity.INFO,
        message=f"{count} feedback rows since the last model "
        f"(threshold {settings.feedback_volume})",
        value=float(count),
        threshold=float(settings.feedback_volume),
        retrain_reason=RetrainReason.FEEDBACK_VOLUME,
    )


RULES: Mapping[str, Rule] = {
    "feedback_accuracy": feedback_accuracy,
    "no_predictions": no_predictions,
    "toxic_rate": toxic_rate,
    "drift": drift,
    "feedback_volume": feedback_volume,
}


def _cooled(firing: Firing, snapshot: MonitoringSnapshot, settings: RuleSettings) -> Firing:
    reason = firing.retrain_reason
    last = None if reason is None else snapshot.last_retrain.get(reason)
    if reason is None or last is None:
        return firing
    allowed_from = last + settings.retrain_cooldown
    if snapshot.now >= allowed_from:
        return firing
    return replace(
        firing,
        retrain_reason=None,
        retrain_suppressed_until=allowed_from,
        message=f"{firing.message}; a {reason} retrain was requested at {last.isoformat()}, "
        f"the next may follow from {allowed_from.isoformat()}",
    )


def evaluate(
    snapshot: MonitoringSnapshot,
    settings: RuleSettings,
    rules: Mapping[str, Rule] = RULES,
) -> list[Firing]:
    """Every enabled rule that fires, in rule order, with retrain asks held back in cooldown."""
    firings: list[Firing] = []
    for name, rule in rules.items():
        if name in settings.disabled:
            continue
        firing = rule(snapshot, settings)
        if firing is not None:
            firings.append(_cooled(firing, snapshot, settings))
    return firings


def retrain_reasons(firings: Sequence[Firing]) -> tuple[RetrainReason, ...]:
    """The distinct retrain reasons the firings ask for now, first come first."""
    return tuple(dict.fromkeys(f.retrain_reason for f in firings if f.retrain_reason is not None))
