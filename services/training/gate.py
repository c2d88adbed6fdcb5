"""The quality gate: a candidate replaces the champion only if it is not worse on held-out data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts import LABELS, Label

__all__ = ["GateResult", "quality_gate"]

# AUCs are floats: a drop of exactly the tolerance must not fail on rounding.
_EPSILON = 1e-9


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]


def _mean(aucs: Mapping[Label, float]) -> float:
    return sum(aucs[label] for label in LABELS) / len(LABELS)


def quality_gate(
    candidate: Mapping[Label, float],
    champion: Mapping[Label, float] | None,
    *,
    mean_tolerance: float = 0.002,
    label_tolerance: float = 0.01,
) -> GateResult:
    """Pass when the candidate's mean AUC >= the champion's - ``mean_tolerance`` and no label's
    AUC is down by more than ``label_tolerance``; both scored on the same held-out rows."""
    if champion is None:
        return GateResult(True, ("no champion yet",))
    reasons: list[str] = []
    new_mean, old_mean = _mean(candidate), _mean(champion)
    if new_mean < old_mean - mean_tolerance - _EPSILON:
        reasons.append(
            f"mean ROC AUC {new_mean:.4f} is below the champion's {old_mean:.4f} "
            f"by more than {mean_tolerance}"
        )
    for label in LABELS:
        drop = champion[label] - candidate[label]
        if drop > label_tolerance + _EPSILON:
            reasons.append(
                f"{label.value} ROC AUC fell by {drop:.4f} "
                f"({champion[label]:.4f} -> {candidate[label]:.4f}), more than {label_tolerance}"
            )
    if reasons:
        return GateResult(False, tuple(reasons))
    return GateResult(True, (f"mean ROC AUC {new_mean:.4f} vs champion {old_mean:.4f}",))
