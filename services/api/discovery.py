"""Google's API Discovery document of the Perspective surface: ``GET /$discovery/rest``.

Google's client libraries build a Perspective client from this document
(``googleapiclient.discovery.build("commentanalyzer", "v1alpha1", discoveryServiceUrl=...)``),
so it follows the discovery v1 format and Perspective's own names for methods and schemas. Its
``rootUrl`` is ``TOXIC_PUBLIC_URL`` when set, else the URL the request came to. It declares no
OAuth scopes: a client authenticates with an API key (``developerKey``), or with none when this
server does not require one. The ``batchPath`` is declared because the format has one; batch
requests are not served.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request

from services.api.deps import Ctx
from services.api.errors import ApiError

__all__ = ["VERSION", "document", "router"]

router = APIRouter(tags=["perspective"])

VERSION: Final = "v1alpha1"

Json = dict[str, Any]


def _string(description: str, **extra: Any) -> Json:
    return {"type": "string", "description": description, **extra}


def _array(items: Json, description: str) -> Json:
    return {"type": "array", "items": items, "description": description}


def _map(values: Json, description: str) -> Json:
    return {"type": "object", "additionalProperties": values, "description": description}


def _ref(name: str, description: str = "") -> Json:
    return {"$ref": name, "description": description} if description else {"$ref": name}


def _object(name: str, description: str, properties: Json) -> Json:
    return {"id": name, "type": "object", "description": description, "properties": properties}


def _method(name: str, request: str, response: str, description: str) -> Json:
    path = f"{VERSION}/comments:{name}"
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": path,
        "flatPath": path,
        "httpMethod": "POST",
        "parameters": {},
        "parameterOrder": [],
        "request": _ref(request),
        "response": _ref(response),
        "description": description,
    }


_TEXT_TYPES: Final = ["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"]
_SCORE_TYPES: Final = ["SCORE_TYPE_UNSPECIFIED", "PROBABILITY"]
_LANGUAGES = _array(
    {"type": "string"}, "Languages of the text; this server scores English (en, en-US...) only."
)
_TOKEN = _string("Opaque token echoed from the request to the response.")
_COMMUNITY = _string("Accepted for compatibility; not used.")

_SCHEMAS: Final[Json] = {
    "TextEntry": _object(
        "TextEntry",
        "A piece of text.",
        {
            "text": _string("UTF-8 text."),
            "type": _string("Type of the text (scored as given).", enum=_TEXT_TYPES),
        },
    ),
    "ArticleAndParentComment": _object(
        "ArticleAndParentComment",
        "The article and the comment a comment replies to.",
        {"article": _ref("TextEntry"), "parentComment": _ref("TextEntry")},
    ),
    "Context": _object(
        "Context",
        "What the comment replies to; stored with the prediction unless doNotStore.",
        {
            "entries": _array(_ref("TextEntry"), "Pieces of context."),
            "articleAndParentComment": _ref("ArticleAndParentComment"),
        },
    ),
    "AttributeParameters": _object(
        "AttributeParameters",
        "Options of one requested attribute.",
        {
            "scoreType": _string("Only PROBABILITY scores are served.", enum=_SCORE_TYPES),
            "scoreThreshold": {
                "type": "number",
                "format": "float",
                "description": "Leave the attribute out when its summary score is below this.",
            },
        },
    ),
    "Score": _object(
        "Score",
        "A score and its type.",
        {
            "value": {"type": "number", "format": "float", "description": "From 0 to 1."},
            "type": _string("The score's type.", enum=["PROBABILITY"]),
        },
    ),
    "SpanScore": _object(
        "SpanScore",
        "The score of one sentence of the comment.",
        {
            "begin": {"type": "integer", "format": "int32", "description": "First character."},
            "end": {"type": "integer", "format": "int32", "description": "Character after it."},
            "score": _ref("Score"),
        },
    ),
    "AttributeScores": _object(
        "AttributeScores",
        "The scores of one attribute.",
        {
            "summaryScore": _ref("Score", "The score of the whole comment."),
            "spanScores": _array(_ref("SpanScore"), "Per sentence, with spanAnnotations."),
        },
    ),
    "AnalyzeCommentRequest": _object(
        "AnalyzeCommentRequest",
        "A comment to score.",
        {
            "comment": _ref("TextEntry", "The comment (required)."),
            "context": _ref("Context"),
            "requestedAttributes": _map(
                _ref("AttributeParameters"),
                "Attributes to score: TOXICITY, SEVERE_TOXICITY, INSULT, THREAT,"
                " IDENTITY_ATTACK, PROFANITY (also as <NAME>_EXPERIMENTAL).",
            ),
            "spanAnnotations": {"type": "boolean", "description": "Score each sentence too."},
            "languages": _LANGUAGES,
            "doNotStore": {"type": "boolean", "description": "Keep no text of this request."},
            "clientToken": _TOKEN,
            "sessionId": _COMMUNITY,
            "communityId": _COMMUNITY,
            "dropUnsupportedAttributes": {
                "type": "boolean",
                "description": "Leave out unknown attributes instead of refusing the request.",
            },
        },
    ),
    "AnalyzeCommentResponse": _object(
        "AnalyzeCommentResponse",
        "The scores of a comment.",
        {
            "attributeScores": _map(_ref("AttributeScores"), "Scores by attribute name."),
            "languages": _LANGUAGES,
            "detectedLanguages": _array({"type": "string"}, "Always en (no detection)."),
            "clientToken": _TOKEN,
        },
    ),
    "SuggestCommentScoreRequest": _object(
        "SuggestCommentScoreRequest",
        "The true attributes of a comment: a summaryScore value of 0.5 or more means present.",
        {
            "comment": _ref("TextEntry", "The comment (required)."),
            "context": _ref("Context"),
            "attributeScores": _map(_ref("AttributeScores"), "Attributes and their truth."),
            "languages": _LANGUAGES,
            "communityId": _COMMUNITY,
            "sessionId": _COMMUNITY,
            "clientToken": _TOKEN,
        },
    ),
    "SuggestCommentScoreResponse": _object(
        "SuggestCommentScoreResponse", "The suggestion was taken.", {"clientToken": _TOKEN}
    ),
}

_PARAMETERS: Final[Json] = {
    "key": _string("API key (or send it in X-API-Key).", location="query"),
    "alt": _string("Response format.", location="query", default="json", enum=["json"]),
    "fields": _string("Accepted; the whole response is always returned.", location="query"),
    "prettyPrint": {
        "type": "boolean",
        "location": "query",
        "default": "true",
        "description": "Accepted; ignored.",
    },
    "quotaUser": _string("Accepted; ignored.", location="query"),
    "$.xgafv": _string("Accepted; ignored.", location="query", enum=["1", "2"]),
}


def document(root_url: str) -> Json:
    """The discovery document with ``root_url`` (ending in ``/``) as the API's root."""
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{VERSION}",
        "name": "commentanalyzer",
        "canonicalName": "Comment Analyzer",
        "version": VERSION,
        "revision": "1",
        "title": "Perspective Comment Analyzer API (self-hosted, compatible)",
        "description": "Scores comments for toxicity attributes; takes suggested scores.",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "basePath": "/",
        "batchPath": "batch",
        "parameters": _PARAMETERS,
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze",
                        "AnalyzeCommentRequest",
                        "AnalyzeCommentResponse",
                        "Analyzes the provided text and returns scores for requested attributes.",
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Suggest comment scores as training data.",
                    ),
                }
            }
        },
        "schemas": _SCHEMAS,
    }


def root_url(public_url: str | None, request: Request) -> str:
    """Where clients reach this server: the configured public URL, else the request's base."""
    root = public_url or str(request.base_url)
    return root if root.endswith("/") else root + "/"


@router.get("/$discovery/rest")
async def discovery(context: Ctx, request: Request, version: str = VERSION) -> Json:
    """The Discovery document Google's client libraries build a Perspective client from."""
    if version != VERSION:
        raise ApiError(
            404, f"Discovery document not found for API version {version!r}; there is {VERSION}"
        )
    return document(root_url(context.settings.public_url, request))
