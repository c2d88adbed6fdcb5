"""Feedback and moderators' labels join the training data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from contracts import LABELS, FeedbackSource, Label, ModeratorAction
from services.training.data import LabelledTexts
from services.training.feedback import feedback_labels, feedback_texts, join_feedback
from shared.items import FeedbackItem
from tests import factories

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def item(text: str | None, minutes: int = 0, **fields: object) -> FeedbackItem:
    base = FeedbackItem.from_event(factories.feedback_given(text=text))
    return base.model_copy(update={"created_at": T0 + timedelta(minutes=minutes), **fields})


def row(data: LabelledTexts, text: str) -> dict[Label, float]:
    index = data.texts.index(text)
    return dict(zip(LABELS, data.labels[index].tolist(), strict=True))


def test_a_moderators_approval_means_no_label_applies_unless_named() -> None:
    approved = item(
        "fine",
        feedback_source=FeedbackSource.MODERATOR,
        moderator_action=ModeratorAction.APPROVE,
        true_labels={Label.OBSCENE: True},
    )

    labels = feedback_labels(approved)

    assert labels[Label.OBSCENE] is True
    assert all(labels[label] is False for label in LABELS if label is not Label.OBSCENE)


def test_a_moderators_removal_means_toxic_with_the_given_labels_only() -> None:
    removed = item(
        "bad",
        feedback_source=FeedbackSource.MODERATOR,
        moderator_action=ModeratorAction.REMOVE,
        true_labels={Label.INSULT: True},
    )

    assert feedback_labels(removed) == {Label.TOXIC: True, Label.INSULT: True}


def test_the_newest_judgement_of_a_text_wins_and_feedback_without_text_is_skipped() -> None:
    items = [
        item("Same  text", minutes=5, true_labels={Label.TOXIC: False}),
        item("same text", minutes=1, true_labels={Label.TOXIC: True, Label.THREAT: True}),
        item(None, minutes=9, true_labels={Label.TOXIC: True}),
    ]

    data = feedback_texts(items)

    assert len(data) == 1
    labels = row(data, data.texts[0])
    assert labels[Label.TOXIC] == 0.0
    assert labels[Label.THREAT] == 1.0
    assert np.isnan(labels[Label.INSULT])


def test_feedback_overrides_only_the_labels_it_names_and_adds_new_texts() -> None:
    base = LabelledTexts.of(
        [("you are kind", dict.fromkeys(LABELS, False)), ("go away", {Label.TOXIC: True})]
    )
    feedback = LabelledTexts.of(
        [("You are  KIND", {Label.INSULT: True}), ("brand new", {Label.TOXIC: False})]
    )

    joined = join_feedback(base, feedback)

    assert len(joined) == 3
    kind = row(joined, "you are kind")
    assert kind[Label.INSULT] == 1.0
    assert kind[Label.TOXIC] == 0.0
    assert row(joined, "go away")[Label.TOXIC] == 1.0
    assert row(joined, "brand new")[Label.TOXIC] == 0.0
