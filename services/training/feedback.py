"""Feedback and moderators' labels join the training data on retrain (DESIGN §7).

Only feedback whose text may be stored can train. A person's judgement wins over the base data
for the labels it names: it is newer and it is about this very text. Among several judgements of
one text, the newest wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from contracts import LABELS, Label, ModeratorAction
from services.training.data import LabelledTexts, deduplicate, text_key
from shared.items import FeedbackItem

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["feedback_labels", "feedback_texts", "join_feedback", "read_feedback"]


def feedback_labels(item: FeedbackItem) -> dict[Label, bool]:
    """The labels a feedback item gives, with a moderator's action spelled out.

    ``approve`` means not toxic unless labels say otherwise; ``remove`` means toxic, with the
    labels given (the other labels stay unjudged).
    """
    labels = dict(item.true_labels)
    if item.moderator_action is ModeratorAction.APPROVE:
        for label in LABELS:
            labels.setdefault(label, False)
    elif item.moderator_action is ModeratorAction.REMOVE:
        labels.setdefault(Label.TOXIC, True)
    return labels


def feedback_texts(items: Iterable[FeedbackItem]) -> LabelledTexts:
    """One row per text that feedback labelled, the newest judgement of each label winning."""
    latest: dict[str, tuple[str, dict[Label, bool]]] = {}
    for item in sorted(items, key=lambda i: i.created_at):
        if not item.text:
            continue
        key = text_key(item.text)
        _, earlier = latest.get(key, (item.text, {}))
        latest[key] = (item.text, {**earlier, **feedback_labels(item)})
    return LabelledTexts.of(latest.values())


def join_feedback(base: LabelledTexts, feedback: LabelledTexts) -> LabelledTexts:
    """``base`` with ``feedback`` added: labels feedback names replace the base's for that text."""
    if len(feedback) == 0:
        return base
    given = dict(zip(feedback.keys, feedback.labels, strict=True))
    labels = base.labels.copy()
    for row, key in enumerate(base.keys):
        override = given.pop(key, None)
        if override is not None:
            judged = ~np.isnan(override)
            labels[row, judged] = override[judged]
    joined = LabelledTexts(base.texts, labels)
    if not given:
        return joined
    new = [i for i, key in enumerate(feedback.keys) if key in given]
    return deduplicate([joined, feedback.subset(np.array(new, dtype=np.intp))])


async def read_feedback(dynamodb: DynamoDBClient, table: str) -> list[FeedbackItem]:
    """Every feedback item that carries its text (a full read: training is a batch job)."""
    items: list[FeedbackItem] = []
    paginator = dynamodb.get_paginator("scan")
    async for page in paginator.paginate(
        TableName=table,
        FilterExpression="attribute_exists(#t)",
        ExpressionAttributeNames={"#t": "text"},
    ):
        items.extend(FeedbackItem.from_item(item) for item in page.get("Items", []))
    return items
