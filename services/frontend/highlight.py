"""The comment as HTML with the words that drove its scores marked, from the API's spans.

Every piece of the user's text is HTML-escaped; only the ``<mark>`` tags are ours. Which spans:
those of the flagged labels, or of the top-scoring label when none is flagged, so a person always
sees what pushed the score up. Overlapping spans merge; a span's shade follows its weight.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts import LABELS, Label
from services.frontend.models import Prediction, Span

__all__ = ["Mark", "highlight_html", "marks", "shown_labels"]


@dataclass
class Mark:
    """A stretch of the text to mark, with the labels it raised and its strongest weight."""

    start: int
    end: int
    weight: float
    labels: set[Label] = field(default_factory=set)


def shown_labels(prediction: Prediction) -> list[Label]:
    """The labels whose spans are marked: the flagged ones, else the top-scoring one."""
    if prediction.flagged:
        return [label for label in LABELS if label in prediction.flagged]
    if not prediction.scores:
        return []
    return [max(prediction.scores, key=lambda label: prediction.scores[label])]


def marks(text: str, spans: Iterable[tuple[Label, Span]]) -> list[Mark]:
    """Merged, ordered stretches of ``text`` covered by positive-weight spans inside it."""
    valid = sorted(
        (
            (span.start, span.end, span.weight, label)
            for label, span in spans
            if span.weight > 0 and 0 <= span.start < span.end <= len(text)
        ),
    )
    merged: list[Mark] = []
    for start, end, weight, label in valid:
        if merged and start < merged[-1].end:
            last = merged[-1]
            last.end = max(last.end, end)
            last.weight = max(last.weight, weight)
            last.labels.add(label)
        else:
            merged.append(Mark(start, end, weight, {label}))
    return merged


def highlight_html(text: str, prediction: Prediction) -> str:
    """``text`` as safe HTML, the words that drove ``prediction`` inside ``<mark>`` tags."""
    explanation = prediction.explanation or {}
    chosen = shown_labels(prediction)
    found = marks(text, ((label, s) for label in chosen for s in explanation.get(label, [])))
    strongest = max((m.weight for m in found), default=1.0)
    parts: list[str] = []
    at = 0
    for mark in found:
        parts.append(html.escape(text[at : mark.start]))
        # Shade from 0.25 to 0.85 so the weakest marked word is still visibly marked.
        alpha = 0.25 + 0.6 * (mark.weight / strongest)
        names = ", ".join(label.value for label in LABELS if label in mark.labels)
        parts.append(
            f'<mark class="toxic-span" title="raised {html.escape(names)}" '
            f'style="background-color: rgba(230, 57, 70, {alpha:.2f}); padding: 0 2px;">'
            f"{html.escape(text[mark.start : mark.end])}</mark>"
        )
        at = mark.end
    parts.append(html.escape(text[at:]))
    body = "".join(parts)
    style = "white-space: pre-wrap; line-height: 1.6;"  # keeps the comment's own line breaks
    return f'<div class="toxic-comment" style="{style}">{body}</div>'
