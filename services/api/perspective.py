"""Google's Perspective API protocol (commentanalyzer ``v1alpha1``), so its users switch by URL.

Attributes map to the model's labels (``ATTRIBUTES``); each also answers to its
``<NAME>_EXPERIMENTAL`` form, which Perspective used while a model was new, and a response names
an attribute exactly as the request did. The model is English-only: ``languages`` may be absent,
empty or English (``en``, ``en-US``...); no language detection happens, so ``detectedLanguages``
is always ``["en"]``. Scores are PROBABILITY scores. ``spanScores`` score each sentence alone, with
offsets in code points (Python string indices) of ``comment.text``. Unknown request fields are
ignored, as Google's servers do; ``sessionId`` and ``communityId`` are accepted and unused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from contracts import LABELS, Channel, Label
from services.api.deps import Client, Ctx
from services.api.errors import ApiError
from services.api.schemas import Unicode
from services.api.service import Comment, CommentService
from services.api.serving import ServingModel

__all__ = [
    "ATTRIBUTES",
    "attribute_labels",
    "check_languages",
    "passes_threshold",
    "router",
    "sentence_spans",
]

router = APIRouter(prefix="/v1alpha1", tags=["perspective"])

ATTRIBUTES: Final[Mapping[str, Label]] = {
    "TOXICITY": Label.TOXIC,
    "SEVERE_TOXICITY": Label.SEVERE_TOXIC,
    "INSULT": Label.INSULT,
    "THREAT": Label.THREAT,
    "IDENTITY_ATTACK": Label.IDENTITY_HATE,
    "PROFANITY": Label.OBSCENE,
}
EXPERIMENTAL: Final = "_EXPERIMENTAL"
SUPPORTED_LANGUAGE: Final = "en"
_PROBABILITY_TYPES: Final = frozenset({"PROBABILITY", "SCORE_TYPE_UNSPECIFIED"})
# A sentence ends at punctuation followed by a space or the end (so "3.5" and "e.g.x" do not
# split), with any closing quotes or brackets; or at a line break.
_SENTENCE_END: Final = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n")
_WORD: Final = re.compile(r"\w")


# --- the protocol's messages (camelCase on the wire; snake_case accepted too, as Google does) ---


class _Message(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TextEntry(_Message):
    text: Unicode | None = None
    type: Literal["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"] | None = None


class ArticleAndParentComment(_Message):
    article: TextEntry | None = None
    parent_comment: TextEntry | None = None


class Context(_Message):
    entries: list[TextEntry] = Field(default_factory=list)
    article_and_parent_comment: ArticleAndParentComment | None = None


class AttributeParameters(_Message):
    score_type: str | None = None
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class AnalyzeCommentRequest(_Message):
    comment: TextEntry | None = None
    context: Context | None = None
    requested_attributes: dict[str, AttributeParameters | None] | None = None
    span_annotations: bool = False
    languages: list[str] = Field(default_factory=list)
    do_not_store: bool = False
    client_token: str | None = None
    session_id: str | None = None
    community_id: str | None = None
    drop_unsupported_attributes: bool = False


class Score(_Message):
    value: float | None = Field(default=None, ge=0.0, le=1.0)
    type: str | None = None


class SpanScore(_Message):
    begin: int
    end: int
    score: Score


class AttributeScores(_Message):
    span_scores: list[SpanScore] | None = None
    summary_score: Score | None = None


class AnalyzeCommentResponse(_Message):
    attribute_scores: dict[str, AttributeScores]
    languages: list[str]
    detected_languages: list[str]
    client_token: str | None = None


class SuggestCommentScoreRequest(_Message):
    comment: TextEntry | None = None
    context: Context | None = None
    attribute_scores: dict[str, AttributeScores] | None = None
    languages: list[str] = Field(default_factory=list)
    community_id: str | None = None
    client_token: str | None = None
    session_id: str | None = None


class SuggestCommentScoreResponse(_Message):
    client_token: str | None = None


# --- the rules, as plain functions -------------------------------------------------------------


def _supported() -> str:
    return ", ".join(ATTRIBUTES)


def attribute_labels(names: Iterable[str], *, drop_unknown: bool = False) -> dict[str, Label]:
    """The label each attribute name scores (case-insensitive, ``_EXPERIMENTAL`` allowed).

    An unknown name is refused (400), or left out with ``drop_unknown``.
    """
    labels: dict[str, Label] = {}
    for name in names:
        canonical = name.strip().upper().removesuffix(EXPERIMENTAL)
        label = ATTRIBUTES.get(canonical)
        if label is not None:
            labels[name] = label
        elif not drop_unknown:
            raise ApiError(
                400,
                f"Attribute {name} is not supported by this server; it scores {_supported()}"
                f" (also as <NAME>{EXPERIMENTAL})",
            )
    return labels


def check_languages(languages: Sequence[str], attribute: str) -> list[str]:
    """The languages to answer with; every language given must be English (400 otherwise)."""
    unsupported = [
        lang
        for lang in languages
        if lang.strip().replace("_", "-").lower().split("-")[0] != SUPPORTED_LANGUAGE
    ]
    if unsupported:
        raise ApiError(
            400,
            f"Attribute {attribute} does not support request languages: {', '.join(unsupported)}"
            f" (this server's model scores English only: {SUPPORTED_LANGUAGE})",
        )
    return list(languages) or [SUPPORTED_LANGUAGE]


def passes_threshold(score: float, threshold: float | None) -> bool:
    """Perspective leaves out an attribute whose summary score is below its ``scoreThreshold``."""
    return threshold is None or score >= threshold


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(begin, end)`` of each sentence, trimmed of surrounding space (``text[begin:end]``).

    A piece without a word character (a lone "..." or "?!") joins the sentence before it.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _add_span(spans, text, start, match.end())
        start = match.end()
    _add_span(spans, text, start, len(text))
    return spans


def _add_span(spans: list[tuple[int, int]], text: str, begin: int, end: int) -> None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    if begin == end:
        return
    if spans and not _WORD.search(text, begin, end):
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((begin, end))


def _comment_text(comment: TextEntry | None, limit: int) -> str:
    text = comment.text if comment is not None else None
    if text is None or not text.strip():
        raise ApiError(400, "Comment must be non-empty: comment.text is missing or blank")
    if len(text) > limit:
        raise ApiError(
            400,
            f"Comment text too long: {len(text)} characters; the limit is {limit}"
            " (TOXIC_MAX_TEXT_CHARS)",
        )
    return text


def _context_text(context: Context | None, limit: int) -> str | None:
    if context is None:
        return None
    entries = list(context.entries)
    if context.article_and_parent_comment is not None:
        both = context.article_and_parent_comment
        entries = [e for e in (both.article, both.parent_comment) if e is not None] + entries
    joined = "\n".join(e.text for e in entries if e.text and e.text.strip())
    if len(joined) > limit:
        raise ApiError(
            400,
            f"Context too long: {len(joined)} characters; the limit is {limit}"
            " (TOXIC_MAX_TEXT_CHARS)",
        )
    return joined or None


def _correlation(request: Request) -> str | None:
    value = request.headers.get("x-correlation-id")
    return value[:128] if value and value.strip() else None


def _probability(value: float) -> Score:
    return Score(value=value, type="PROBABILITY")


async def _span_scores(
    service: CommentService, serving: ServingModel, text: str, labels: Iterable[Label]
) -> dict[Label, list[SpanScore]]:
    spans = sentence_spans(text)
    _, rows = await service.probabilities([text[begin:end] for begin, end in spans], serving)
    return {
        label: [
            SpanScore(begin=begin, end=end, score=_probability(float(row[LABELS.index(label)])))
            for (begin, end), row in zip(spans, rows, strict=True)
        ]
        for label in labels
    }


# --- routes ------------------------------------------------------------------------------------


@router.post("/comments:analyze", response_model_exclude_none=True)
async def analyze(
    body: AnalyzeCommentRequest, context: Ctx, _: Client, request: Request
) -> AnalyzeCommentResponse:
    """Perspective's comments.analyze: PROBABILITY scores for the requested attributes."""
    limit = context.settings.max_text_chars
    text = _comment_text(body.comment, limit)
    requested = body.requested_attributes or {}
    if not requested:
        raise ApiError(400, f"requestedAttributes must name at least one of {_supported()}")
    labels = attribute_labels(requested, drop_unknown=body.drop_unsupported_attributes)
    if not labels:
        raise ApiError(400, f"None of the requested attributes is supported: {_supported()}")
    params = {name: requested[name] or AttributeParameters() for name in labels}
    for name, options in params.items():
        score_type = options.score_type
        if score_type is not None and score_type.upper() not in _PROBABILITY_TYPES:
            raise ApiError(
                400, f"Attribute {name} does not support score type {score_type}: PROBABILITY only"
            )
    languages = check_languages(body.languages, next(iter(labels)))
    comment = Comment(text, _context_text(body.context, limit), store=not body.do_not_store)
    # One model for the summary and the spans, even if a swap lands in between.
    serving = context.slot.require()
    [result] = await context.service.score(
        [comment], Channel.PERSPECTIVE, correlation_id=_correlation(request), serving=serving
    )
    context.metrics.comments.labels(Channel.PERSPECTIVE.value).inc()
    spans = (
        await _span_scores(context.service, serving, text, set(labels.values()))
        if body.span_annotations
        else {}
    )
    scores: dict[str, AttributeScores] = {}
    for name, label in labels.items():
        value = result.scores[label]
        if passes_threshold(value, params[name].score_threshold):
            scores[name] = AttributeScores(
                span_scores=spans.get(label), summary_score=_probability(value)
            )
    return AnalyzeCommentResponse(
        attribute_scores=scores,
        languages=languages,
        detected_languages=[SUPPORTED_LANGUAGE],
        client_token=body.client_token,
    )


@router.post("/comments:suggestscore", response_model_exclude_none=True)
async def suggestscore(
    body: SuggestCommentScoreRequest, context: Ctx, _: Client
) -> SuggestCommentScoreResponse:
    """Perspective's comments.suggestscore: the true attributes of a comment, as feedback."""
    text = _comment_text(body.comment, context.settings.max_text_chars)
    suggested = body.attribute_scores or {}
    if not suggested:
        raise ApiError(400, f"attributeScores must name at least one of {_supported()}")
    labels = attribute_labels(suggested)
    check_languages(body.languages, next(iter(labels)))
    truth: dict[Label, bool] = {}
    for name, label in labels.items():
        summary = suggested[name].summary_score
        if summary is None or summary.value is None:
            raise ApiError(400, f"attributeScores.{name}.summaryScore.value is required (0 to 1)")
        value = summary.value >= 0.5
        if truth.setdefault(label, value) != value:
            raise ApiError(400, f"attributeScores: two names for {label.value} disagree")
    context.service.suggest(text, truth, store=True)
    return SuggestCommentScoreResponse(client_token=body.client_token)
