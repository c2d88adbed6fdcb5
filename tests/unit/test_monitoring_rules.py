"""Alert rules on a monitoring snapshot: boundaries, minimum volumes, retrain cooldown, settings."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.vocabulary import RetrainReason
from services.monitoring.rules import (
    RULE_NAMES,
    RULES,
    Firing,
    MonitoringSnapshot,
    RuleSettings,
    Severity,
    evaluate,
    retrain_reasons,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_alert_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults, whatever the machine's environment says.
    for name in list(os.environ):
        if name.startswith("TOXIC_ALERT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings() -> RuleSettings:
    return RuleSettings()


def snapshot(**overrides: Any) -> MonitoringSnapshot:
    """A healthy system: traffic, good accuracy, a calm toxic rate, no drift, little feedback."""
    fields: dict[str, Any] = {
        "now": NOW,
        "predictions_last_24h": 1_000,
        "feedback_accuracy": 0.95,
        "feedback_count": 100,
        "toxic_rate": 0.1,
        "toxic_rate_predictions": 1_000,
        "max_drift_psi": 0.01,
        "feedback_since_model": 10,
    }
    return MonitoringSnapshot(**(fields | overrides))


def fired(firings: list[Firing], rule: str) -> Firing | None:
    matching = [f for f in firings if f.rule == rule]
    assert len(matching) <= 1
    return matching[0] if matching else None


def test_a_healthy_system_fires_nothing(settings: RuleSettings) -> None:
    assert evaluate(snapshot(), settings) == []


@pytest.mark.parametrize(
    ("accuracy", "severity"),
    [
        (0.95, None),
        (0.9, None),
        (0.8999, Severity.WARNING),
        (0.8, Severity.WARNING),
        (0.7999, Severity.ERROR),
        (0.0, Severity.ERROR),
    ],
)
def test_feedback_accuracy_warns_below_point_nine_and_errs_below_point_eight(
    settings: RuleSettings, accuracy: float, severity: Severity | None
) -> None:
    firing = fired(evaluate(snapshot(feedback_accuracy=accuracy), settings), "feedback_accuracy")
    assert (firing and firing.severity) == severity


def test_an_accuracy_error_asks_for_an_accuracy_drop_retrain(settings: RuleSettings) -> None:
    firing = fired(evaluate(snapshot(feedback_accuracy=0.5), settings), "feedback_accuracy")
    assert firing is not None
    assert firing.retrain_reason is RetrainReason.ACCURACY_DROP
    assert firing.value == 0.5
    assert firing.threshold == 0.8


def test_an_accuracy_warning_does_not_ask_for_a_retrain(settings: RuleSettings) -> None:
    firing = fired(evaluate(snapshot(feedback_accuracy=0.85), settings), "feedback_accuracy")
    assert firing is not None
    assert firing.retrain_reason is None


def test_an_accuracy_error_can_be_kept_from_retraining() -> None:
    settings = RuleSettings(retrain_on_accuracy_error=False)
    firing = fired(evaluate(snapshot(feedback_accuracy=0.5), settings), "feedback_accuracy")
    assert firing is not None
    assert firing.severity is Severity.ERROR
    assert firing.retrain_reason is None


@pytest.mark.parametrize("count", [0, 1, 19])
def test_too_little_feedback_does_not_fire_the_accuracy_rule(
    settings: RuleSettings, count: int
) -> None:
    firings = evaluate(snapshot(feedback_accuracy=0.1, feedback_count=count), settings)
    assert fired(firings, "feedback_accuracy") is None


def test_exactly_the_minimum_feedback_fires_the_accuracy_rule(settings: RuleSettings) -> None:
    firings = evaluate(snapshot(feedback_accuracy=0.1, feedback_count=20), settings)
    assert fired(firings, "feedback_accuracy") is not None


def test_no_feedback_accuracy_fires_nothing(settings: RuleSettings) -> None:
    firings = evaluate(snapshot(feedback_accuracy=None, feedback_count=0), settings)
    assert fired(firings, "feedback_accuracy") is None


@pytest.mark.parametrize(("predictions", "fires"), [(0, True), (1, False), (50, False)])
def test_no_predictions_fires_only_when_the_last_day_had_none(
    settings: RuleSettings, predictions: int, fires: bool
) -> None:
    firings = evaluate(snapshot(predictions_last_24h=predictions), settings)
    firing = fired(firings, "no_predictions")
    assert (firing is not None) is fires
    if firing is not None:
        assert firing.severity is Severity.WARNING
        assert firing.retrain_reason is None


@pytest.mark.parametrize(("rate", "fires"), [(0.4999, False), (0.5, False), (0.5001, True)])
def test_toxic_rate_fires_only_above_one_half(
    settings: RuleSettings, rate: float, fires: bool
) -> None:
    firing = fired(evaluate(snapshot(toxic_rate=rate), settings), "toxic_rate")
    assert (firing is not None) is fires


@pytest.mark.parametrize(("predictions", "fires"), [(19, False), (20, True)])
def test_toxic_rate_needs_enough_predictions(
    settings: RuleSettings, predictions: int, fires: bool
) -> None:
    firings = evaluate(snapshot(toxic_rate=1.0, toxic_rate_predictions=predictions), settings)
    assert (fired(firings, "toxic_rate") is not None) is fires


@pytest.mark.parametrize(("psi", "fires"), [(None, False), (0.25, False), (0.2501, True)])
def test_drift_fires_only_above_its_threshold(
    settings: RuleSettings, psi: float | None, fires: bool
) -> None:
    firing = fired(evaluate(snapshot(max_drift_psi=psi), settings), "drift")
    assert (firing is not None) is fires
    if firing is not None:
        assert firing.retrain_reason is RetrainReason.DRIFT
        assert firing.threshold == 0.25


@pytest.mark.parametrize(("count", "fires"), [(0, False), (499, False), (500, True)])
def test_feedback_volume_fires_once_it_reaches_its_threshold(
    settings: RuleSettings, count: int, fires: bool
) -> None:
    firing = fired(evaluate(snapshot(feedback_since_model=count), settings), "feedback_volume")
    assert (firing is not None) is fires
    if firing is not None:
        assert firing.severity is Severity.INFO
        assert firing.retrain_reason is RetrainReason.FEEDBACK_VOLUME
        assert firing.value == 500.0


def test_cooldown_suppresses_a_second_retrain_within_the_window(settings: RuleSettings) -> None:
    last = NOW - timedelta(hours=5, minutes=59)
    firings = evaluate(
        snapshot(max_drift_psi=0.9, last_retrain={RetrainReason.DRIFT: last}), settings
    )
    firing = fired(firings, "drift")
    assert firing is not None
    assert firing.retrain_reason is None
    assert firing.retrain_suppressed_until == last + timedelta(hours=6)
    assert "next may follow" in firing.message
    assert retrain_reasons(firings) == ()


def test_cooldown_allows_a_retrain_once_the_window_has_passed(settings: RuleSettings) -> None:
    last = NOW - timedelta(hours=6)
    firings = evaluate(
        snapshot(max_drift_psi=0.9, last_retrain={RetrainReason.DRIFT: last}), settings
    )
    assert retrain_reasons(firings) == (RetrainReason.DRIFT,)


def test_cooldown_is_per_reason(settings: RuleSettings) -> None:
    recent = {RetrainReason.DRIFT: NOW - timedelta(minutes=1)}
    firings = evaluate(
        snapshot(max_drift_psi=0.9, feedback_since_model=1_000, last_retrain=recent), settings
    )
    assert retrain_reasons(firings) == (RetrainReason.FEEDBACK_VOLUME,)


def test_cooldown_length_is_configurable() -> None:
    last = NOW - timedelta(hours=2)
    settings = RuleSettings(retrain_cooldown_hours=1)
    firings = evaluate(
        snapshot(feedback_since_model=600, last_retrain={RetrainReason.FEEDBACK_VOLUME: last}),
        settings,
    )
    assert retrain_reasons(firings) == (RetrainReason.FEEDBACK_VOLUME,)


def test_every_retraining_rule_can_ask_at_once(settings: RuleSettings) -> None:
    firings = evaluate(
        snapshot(feedback_accuracy=0.5, max_drift_psi=0.9, feedback_since_model=1_000), settings
    )
    assert retrain_reasons(firings) == (
        RetrainReason.ACCURACY_DROP,
        RetrainReason.DRIFT,
        RetrainReason.FEEDBACK_VOLUME,
    )


def test_a_disabled_rule_does_not_fire() -> None:
    settings = RuleSettings(disabled=frozenset({"no_predictions"}))
    assert evaluate(snapshot(predictions_last_24h=0), settings) == []


def test_thresholds_come_from_toxic_alert_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIC_ALERT_ACCURACY_WARNING", "0.97")
    monkeypatch.setenv("TOXIC_ALERT_DRIFT_PSI", "0.1")
    monkeypatch.setenv("TOXIC_ALERT_DISABLED", '["toxic_rate"]')
    settings = RuleSettings()
    assert settings.accuracy_warning == 0.97
    assert settings.drift_psi == 0.1
    assert settings.disabled == frozenset({"toxic_rate"})
    firing = fired(evaluate(snapshot(feedback_accuracy=0.95), settings), "feedback_accuracy")
    assert firing is not None
    assert firing.severity is Severity.WARNING


def test_settings_refuse_an_error_threshold_above_the_warning() -> None:
    with pytest.raises(ValidationError, match="accuracy_error"):
        RuleSettings(accuracy_warning=0.7, accuracy_error=0.8)


def test_settings_refuse_an_unknown_rule_name() -> None:
    with pytest.raises(ValidationError, match="unknown rules"):
        RuleSettings(disabled=frozenset({"typo"}))


def test_the_rule_registry_names_every_rule() -> None:
    assert tuple(RULES) == RULE_NAMES


def test_a_snapshot_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        snapshot(now=datetime(2026, 11, 30, 12, 0))


@pytest.mark.parametrize(
    "overrides",
    [
        {"feedback_accuracy": 1.5},
        {"toxic_rate": -0.1},
        {"feedback_count": -1},
        {"max_drift_psi": -0.1},
    ],
)
def test_a_snapshot_refuses_impossible_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"cannot be negative|between 0 and 1"):
        snapshot(**overrides)
