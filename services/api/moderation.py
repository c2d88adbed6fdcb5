"""The moderation decision for a scored comment: allow, review or reject, and why.

The decision follows the highest of the six scores (the seed's rule): reject at or above
``reject_at``, allow at or below ``allow_at``, review in between. A review carries a priority from
the same top score. Confidence says how far the top score is from flipping the decision: 1.0 at
the extremes (0 or 1) or in the middle of the review band, 0.0 right on a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts import Decision, Label, ReviewPriority

__all__ = ["Moderation", "ModerationPolicy"]

# Labels named in the reasoning, highest first.
_REASONS = 3


@dataclass(frozen=True)
class Moderation:
    decision: Decision
    confidence: float
    reasoning: str
    priority: ReviewPriority | None = None
    drivers: tuple[Label, ...] = ()


@dataclass(frozen=True)
class ModerationPolicy:
    reject_at: float = 0.9
    allow_at: float = 0.1
    high_priority_at: float = 0.8
    medium_priority_at: float = 0.5

    def decide(self, scores: Mapping[Label, float]) -> Moderation:
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        top = ranked[0][1] if ranked else 0.0
        if top >= self.reject_at:
            drivers = tuple(label for label, score in ranked if score >= self.reject_at)
            confidence = _share(top - self.reject_at, 1.0 - self.reject_at)
            return Moderation(
                Decision.REJECT,
                confidence,
                f"rejected: {_named(ranked, drivers)} at or above {self.reject_at:g}",
                drivers=drivers[:_REASONS],
            )
        if top <= self.allow_at:
            confidence = _share(self.allow_at - top, self.allow_at)
            return Moderation(
                Decision.ALLOW,
                confidence,
                f"allowed: every label at or below {self.allow_at:g} (highest {_pair(ranked[0])})"
                if ranked
                else "allowed: nothing scored",
            )
        drivers = tuple(label for label, score in ranked if score > self.allow_at)[:_REASONS]
        half = (self.reject_at - self.allow_at) / 2
        confidence = _share(min(top - self.allow_at, self.reject_at - top), half)
        priority = (
            ReviewPriority.HIGH
            if top >= self.high_priority_at
            else ReviewPriority.MEDIUM
            if top >= self.medium_priority_at
            else ReviewPriority.LOW
        )
        return Moderation(
            Decision.REVIEW,
            confidence,
            f"review ({priority} priority): {_named(ranked, drivers)} between "
            f"{self.allow_at:g} and {self.reject_at:g}",
            priority=priority,
            drivers=drivers,
        )


def _share(distance: float, span: float) -> float:
    if span <= 0:
        return 1.0
    return round(max(0.0, min(1.0, distance / span)), 4)


def _pair(item: tuple[Label, float]) -> str:
    return f"{item[0]} {item[1]:.2f}"


def _named(ranked: list[tuple[Label, float]], drivers: tuple[Label, ...]) -> str:
    chosen = [item for item in ranked if item[0] in drivers][:_REASONS]
    return ", ".join(_pair(item) for item in chosen)
