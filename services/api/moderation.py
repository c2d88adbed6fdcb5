"""The moderation decision for a scored comment: allow, review or reject, and why.

The decision follows the highest of the six scores (the seed's rule): reject at or above
``reject_at``, allow at or below ``allow_at``, review in between. A review carries a priority from
the same top score. Confidence says how far the top score is from flipping the decision: 1.0 at
the extremes (0 or 1) or in the middle of the review band, 0.0 right on a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from contracts import LABELS, Decision, Label, ReviewPriority

__all__ = ["Decisions", "Moderation", "ModerationPolicy"]

# Labels named in the reasoning, highest first.
_REASONS = 3
# Up to this many rows, ``decide_rows`` decides them one by one (numpy costs more for a few).
_ONE_BY_ONE = 8


@dataclass(frozen=True)
class Moderation:
    decision: Decision
    confidence: float
    reasoning: str
    priority: ReviewPriority | None = None
    drivers: tuple[Label, ...] = ()


@dataclass(frozen=True)
class Decisions:
    """The moderation of many scored comments, one list entry per row (columns, not objects).

    A batch of 1,000 comments is decided in a few numpy passes over its score matrix; only the
    reasoning strings are made row by row.
    """

    decisions: list[Decision]
    confidences: list[float]
    reasonings: list[str]
    priorities: list[ReviewPriority | None]
    driver_columns: list[list[int]]  # columns of the labels that drove each decision
    labels: tuple[Label, ...]

    def __len__(self) -> int:
        return len(self.decisions)

    def drivers(self, row: int) -> tuple[Label, ...]:
        """The labels that drove row ``row``'s decision, highest first (none for an allow)."""
        labels = self.labels
        return tuple([labels[j] for j in self.driver_columns[row]])

    def __getitem__(self, row: int) -> Moderation:
        return Moderation(
            self.decisions[row],
            self.confidences[row],
            self.reasonings[row],
            self.priorities[row],
            self.drivers(row),
        )


@dataclass(frozen=True)
class ModerationPolicy:
    reject_at: float = 0.9
    allow_at: float = 0.1
    high_priority_at: float = 0.8
    medium_priority_at: float = 0.5

    def decide(self, scores: Mapping[Label, float]) -> Moderation:
        """The decision for one comment: the rule as stated, and what ``decide_rows`` must equal.

        Used for a few comments at a time, where numpy's per-call cost outweighs its speed.
        """
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

    def decide_rows(
        self, probabilities: NDArray[np.float64], labels: Sequence[Label] = LABELS
    ) -> Decisions:
        """The decision for each row of ``probabilities`` (one column per label of ``labels``)."""
        p = np.asarray(probabilities, dtype=np.float64)
        rows = p.shape[0]
        labels = tuple(labels)
        if rows <= _ONE_BY_ONE:
            return self._one_by_one(p, labels)
        top = p.max(axis=1)
        # Highest first; a stable sort keeps tied labels in column order, as a stable
        # descending sort of the labels by score does.
        order = np.argsort(-p, axis=1, kind="stable")[:, :_REASONS]
        reject = top >= self.reject_at
        allow = ~reject & (top <= self.allow_at)
        review = ~(reject | allow)
        # How many of the top labels a reasoning names: those at or above the reject line for a
        # rejection, those above the allow line for a review, the highest one for an allowance.
        named = np.where(
            reject,
            (p >= self.reject_at).sum(axis=1),
            np.where(allow, 1, (p > self.allow_at).sum(axis=1)),
        )
        np.minimum(named, _REASONS, out=named)
        half = (self.reject_at - self.allow_at) / 2
        distance = np.where(
            reject,
            top - self.reject_at,
            np.where(
                allow, self.allow_at - top, np.minimum(top - self.allow_at, self.reject_at - top)
            ),
        )
        spans = (1.0 - self.reject_at, self.allow_at, half)
        confidence = np.ones(rows)
        for mask, span in zip((reject, allow, review), spans, strict=True):
            if span > 0:
                confidence[mask] = np.clip(distance[mask] / span, 0.0, 1.0)
        priority = np.where(
            top >= self.high_priority_at, 0, np.where(top >= self.medium_priority_at, 1, 2)
        )
        kind = np.where(reject, 0, np.where(allow, 1, 2))
        return self._explained(p, order, named, kind, priority, confidence, labels)

    def _one_by_one(self, p: NDArray[np.float64], labels: tuple[Label, ...]) -> Decisions:
        decided = [self.decide(dict(zip(labels, row, strict=True))) for row in p.tolist()]
        return Decisions(
            [m.decision for m in decided],
            [m.confidence for m in decided],
            [m.reasoning for m in decided],
            [m.priority for m in decided],
            [[labels.index(label) for label in m.drivers] for m in decided],
            labels,
        )

    def _explained(
        self,
        p: NDArray[np.float64],
        order: NDArray[np.intp],
        named: NDArray[np.intp],
        kind: NDArray[np.intp],
        priority: NDArray[np.intp],
        confidence: NDArray[np.float64],
        labels: tuple[Label, ...],
    ) -> Decisions:
        """The columns of ``decide_rows``: the reasoning strings are made here, row by row."""
        names = [_NAME[label] for label in labels]
        reject_line = f" at or above {self.reject_at:g}"
        allow_line = f"allowed: every label at or below {self.allow_at:g} (highest "
        band = f" between {self.allow_at:g} and {self.reject_at:g}"
        review_head = [f"review ({_PRIORITY[level]} priority): " for level in _LEVELS]
        reasonings: list[str] = []
        driver_columns: list[list[int]] = []
        none: list[int] = []
        for scores, top, count, k, level in zip(
            p.tolist(),
            order.tolist(),
            named.tolist(),
            kind.tolist(),
            priority.tolist(),
            strict=True,
        ):
            if k == 1:  # allow, the common case: the highest label alone
                j = top[0]
                reasonings.append(f"{allow_line}{names[j]} {scores[j]:.2f})")
                driver_columns.append(none)
                continue
            chosen = top[:count]
            said = ", ".join([f"{names[j]} {scores[j]:.2f}" for j in chosen])
            reasonings.append(
                f"rejected: {said}{reject_line}" if k == 0 else f"{review_head[level]}{said}{band}"
            )
            driver_columns.append(chosen)
        kinds = kind.tolist()
        decisions = [_DECISIONS[k] for k in kinds]
        levels = np.where(kind == 2, priority, 3).tolist()
        priorities = [_OPTIONAL_LEVELS[level] for level in levels]
        # round() per value, as a single decision rounds: numpy's rounding can differ in the
        # last digit.
        confidences = [round(c, 4) for c in confidence.tolist()]
        return Decisions(decisions, confidences, reasonings, priorities, driver_columns, labels)


# Formatting an enum member goes through Python code in Enum.__format__; a dict lookup does not.
_NAME: Final = {label: label.value for label in Label}
_PRIORITY: Final = {priority: priority.value for priority in ReviewPriority}
_LEVELS: Final = (ReviewPriority.HIGH, ReviewPriority.MEDIUM, ReviewPriority.LOW)
_OPTIONAL_LEVELS: Final = (*_LEVELS, None)  # index 3: not a review
_DECISIONS: Final = (Decision.REJECT, Decision.ALLOW, Decision.REVIEW)  # by ``kind``


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


def _named(scores: Mapping[Label, float], labels: tuple[Label, ...]) -> str:
    return ", ".join(f"{_NAME[label]} {scores[label]:.2f}" for label in labels)
