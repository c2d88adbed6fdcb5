"""The quality gate's two rules, at and around their limits."""

from __future__ import annotations

import pytest

from contracts import LABELS, Label
from services.training.gate import quality_gate

pytestmark = pytest.mark.unit


def aucs(value: float, **per_label: float) -> dict[Label, float]:
    return {label: per_label.get(label.value, value) for label in LABELS}


def test_the_first_model_passes_when_there_is_no_champion() -> None:
    assert quality_gate(aucs(0.5), None).passed


def test_a_candidate_within_the_mean_tolerance_passes() -> None:
    result = quality_gate(aucs(0.9485), aucs(0.95))

    assert result.passed


def test_a_candidate_whose_mean_falls_too_far_is_rejected_with_the_reason() -> None:
    result = quality_gate(aucs(0.947), aucs(0.95))

    assert not result.passed
    assert "mean ROC AUC 0.9470 is below the champion's 0.9500" in result.reasons[0]


def test_one_label_falling_more_than_its_tolerance_rejects_even_with_a_better_mean() -> None:
    result = quality_gate(aucs(0.97, threat=0.93), aucs(0.95))

    assert not result.passed
    assert result.reasons == ("threat ROC AUC fell by 0.0200 (0.9500 -> 0.9300), more than 0.01",)


def test_a_label_falling_exactly_by_its_tolerance_still_passes() -> None:
    assert quality_gate(aucs(0.96, insult=0.94), aucs(0.95, insult=0.95)).passed
