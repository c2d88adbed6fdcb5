"""The moderation decision for a scored comment: allow, review or reject, and why.

The decision follows the highest of the six scores (the seed's rule): reject at or above
``reject_at``, allow at or below ``allow_at``, review in between. A review carries a priority from
the same top score. Confidence says how far the top score is from flipping the decision: 1.0 at
the extremes (0 or 1) or in the middle of the review band, 0.0 right on a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

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
        # Called once per scored comment, so it avoids sorting and enum lookups where it can.
        top = max(scores.values(), default=0.0)
        if top >= self.reject_at:
            drivers = _above(scores, self.reject_at, inclusive=True)
            return Moderation(
                Decision.REJECT,
                _share(top - self.reject_at, 1.0 - self.reject_at),
                f"rejected: {_named(scores, drivers)} at or above {self.reject_at:g}",
                drivers=drivers,
            )
        if top <= self.allow_at:
            if not scores:
                return Moderation(Decision.ALLOW, 1.0, "allowed: nothing scored")
            highest = max(scores, key=scores.__getitem__)
            return Moderation(
                Decision.ALLOW,
                _share(self.allow_at - top, self.allow_at),
                f"allowed: every label at or below {self.allow_at:g}"
                f" (highest {_named(scores, (highest,))})",
            )
        drivers = _above(scores, self.allow_at, inclusive=False)
        half = (self.reject_at - self.allow_at) / 2
        priority = (
            ReviewPriority.HIGH
            if top >= self.high_priority_at
            else ReviewPriority.MEDIUM
            if top >= self.medium_priority_at
            else ReviewPriority.LOW
        )
        return Moderation(
            Decision.REVIEW,
            _share(min(top - self.allow_at, self.reject_at - top), half),
            f"review ({_PRIORITY[priority]} priority): {_named(scores, drivers)} between "
            f"{self.allow_at:g} and {self.reject_at:g}",
            priority=priority,
            drivers=drivers,
        )


def _above(scores: Mapping[Label, float], floor: float, *, inclusive: bool) -> tuple[Label, ...]:
    """Up to three labels scoring above ``floor`` (or at it), highest first."""
    chosen = [label for label, p in scores.items() if (p >= floor if inclusive else p > floor)]
    if len(chosen) > 1:
        chosen.sort(key=scores.__getitem__, reverse=True)
    return tuple(chosen[:_REASONS])


def _share(distance: float, span: float) -> float:
    if span <= 0:
        return 1.0
    return round(max(0.0, min(1.0, distance / span)), 4)


# Formatting an enum member goes through Python code in Enum.__format__; a dict lookup does not.
_NAME: Final = {label: label.value for label in Label}
_PRIORITY: Final = {priority: priority.value for priority in ReviewPriority}


def _named(scores: Mapping[Label, float], labels: tuple[Label, ...]) -> str:
    return ", ".join(f"{_NAME[label]} {scores[label]:.2f}" for label in labels)
