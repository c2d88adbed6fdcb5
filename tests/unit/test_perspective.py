"""The Perspective-compatible API: its rules as functions, and its routes in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contracts import LABELS, Channel, FeedbackGiven, FeedbackSource, Label, PredictionMade
from services.api.deps import ApiContext
from services.api.errors import ApiError
from services.api.keys import Role, create_key
from services.api.keystore import InMemoryKeyStore
from services.api.perspective import (
    ATTRIBUTES,
    attribute_labels,
    check_languages,
    passes_threshold,
    sentence_spans,
)
from tests.harness.api_context import EventLog, api_client, fake_context

pytestmark = pytest.mark.unit

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
TEXT = "You are a complete idiot. I will find you!\nThanks for the edit."


# --- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One sentence", ["One sentence"]),
        ("First one. Second one!  Third?", ["First one.", "Second one!", "Third?"]),
        ("  padded.  \n\n  lines  \n", ["padded.", "lines"]),
        ("Pi is 3.14 and e.g.this stays", ["Pi is 3.14 and e.g.this stays"]),
        ("He said “go.” Then left.", ["He said “go.”", "Then left."]),
        ("Really?! ... ok then", ["Really?! ...", "ok then"]),
        ("Wait... what", ["Wait...", "what"]),
    ],
)
def test_sentence_spans_are_exact_offsets_of_trimmed_sentences(
    text: str, sentences: list[str]
) -> None:
    spans = sentence_spans(text)
    assert [text[begin:end] for begin, end in spans] == sentences
    ends = [end for _, end in spans]
    begins = [begin for begin, _ in spans]
    assert all(e <= b for e, b in zip(ends, begins[1:], strict=False))


def test_sentence_spans_of_blank_text_are_none() -> None:
    assert sentence_spans(" \n\t ") == []


def test_each_attribute_scores_its_label() -> None:
    assert attribute_labels(ATTRIBUTES) == {
        "TOXICITY": Label.TOXIC,
        "SEVERE_TOXICITY": Label.SEVERE_TOXIC,
        "INSULT": Label.INSULT,
        "THREAT": Label.THREAT,
        "IDENTITY_ATTACK": Label.IDENTITY_HATE,
        "PROFANITY": Label.OBSCENE,
    }
    assert set(ATTRIBUTES.values()) == set(LABELS)


def test_experimental_and_lowercase_names_keep_the_name_sent() -> None:
    assert attribute_labels(["TOXICITY_EXPERIMENTAL", "insult"]) == {
        "TOXICITY_EXPERIMENTAL": Label.TOXIC,
        "insult": Label.INSULT,
    }


def test_unknown_attribute_is_refused_by_name_unless_dropped() -> None:
    with pytest.raises(ApiError) as raised:
        attribute_labels(["TOXICITY", "FLIRTATION"])
    assert raised.value.status == 400
    assert "FLIRTATION" in raised.value.message
    assert "TOXICITY" in raised.value.message  # says what is supported
    assert attribute_labels(["SEXUALLY_EXPLICIT", "THREAT"], drop_unknown=True) == {
        "THREAT": Label.THREAT
    }


@pytest.mark.parametrize("languages", [[], ["en"], ["en-US"], ["EN_gb"], ["en", "en-AU"]])
def test_english_languages_are_accepted(languages: list[str]) -> None:
    assert check_languages(languages, "TOXICITY") == (languages or ["en"])


@pytest.mark.parametrize(
    ("languages", "named"), [(["de"], "de"), (["en", "fr-CA"], "fr-CA"), (["eng"], "eng")]
)
def test_other_languages_are_refused_as_perspective_does(languages: list[str], named: str) -> None:
    with pytest.raises(ApiError) as raised:
        check_languages(languages, "INSULT")
    assert raised.value.status == 400
    assert raised.value.message.startswith(
        f"Attribute INSULT does not support request languages: {named}"
    )


def test_threshold_keeps_scores_at_or_above_it() -> None:
    assert passes_threshold(0.3, None)
    assert passes_threshold(0.5, 0.5)
    assert not passes_threshold(0.49, 0.5)


# --- the routes --------------------------------------------------------------------------------


@dataclass
class Api:
    client: httpx.AsyncClient
    context: ApiContext
    log: EventLog

    def probability(self, text: str, label: Label) -> float:
        serving = self.context.slot.require()
        return float(serving.model.predict_proba([text])[0][LABELS.index(label)])


@asynccontextmanager
async def perspective(**overrides: Any) -> AsyncIterator[Api]:
    context, log = fake_context(**overrides)
    async with api_client(context) as client:
        yield Api(client, context, log)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with perspective() as running:
        yield running


def analyze_body(text: str = TEXT, *names: str, **fields: Any) -> dict[str, Any]:
    return {
        "comment": {"text": text},
        "requestedAttributes": {name: {} for name in names or ("TOXICITY",)},
        **fields,
    }


def assert_google_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert error["status"] == {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED"}.get(
        status, error["status"]
    )
    for word in words:
        assert word in error["message"]
    return str(error["message"])


async def test_analyze_scores_only_the_requested_attributes_as_probabilities(api: Api) -> None:
    body = analyze_body(TEXT, "TOXICITY", "INSULT", clientToken="abc")
    response = await api.client.post(ANALYZE, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer["attributeScores"]) == {"TOXICITY", "INSULT"}
    for name, label in (("TOXICITY", Label.TOXIC), ("INSULT", Label.INSULT)):
        scores = answer["attributeScores"][name]
        assert "spanScores" not in scores
        assert scores["summaryScore"]["type"] == "PROBABILITY"
        assert scores["summaryScore"]["value"] == pytest.approx(api.probability(TEXT, label))
    assert answer["languages"] == ["en"]
    assert answer["detectedLanguages"] == ["en"]
    assert answer["clientToken"] == "abc"


async def test_every_attribute_reports_its_labels_score(api: Api) -> None:
    response = await api.client.post(ANALYZE, json=analyze_body(TEXT, *ATTRIBUTES))
    scores = response.json()["attributeScores"]
    for name, label in ATTRIBUTES.items():
        assert scores[name]["summaryScore"]["value"] == pytest.approx(api.probability(TEXT, label))


async def test_span_annotations_score_each_sentence(api: Api) -> None:
    body = analyze_body(TEXT, "THREAT", "TOXICITY_EXPERIMENTAL", spanAnnotations=True)
    answer = (await api.client.post(ANALYZE, json=body)).json()["attributeScores"]
    assert set(answer) == {"THREAT", "TOXICITY_EXPERIMENTAL"}
    spans = answer["THREAT"]["spanScores"]
    assert [(s["begin"], s["end"]) for s in spans] == sentence_spans(TEXT)
    assert [TEXT[s["begin"] : s["end"]] for s in spans] == [
        "You are a complete idiot.",
        "I will find you!",
        "Thanks for the edit.",
    ]
    for span in spans:
        sentence = TEXT[span["begin"] : span["end"]]
        assert span["score"] == {
            "value": pytest.approx(api.probability(sentence, Label.THREAT)),
            "type": "PROBABILITY",
        }
    toxic = answer["TOXICITY_EXPERIMENTAL"]["spanScores"][0]["score"]["value"]
    assert toxic == pytest.approx(api.probability("You are a complete idiot.", Label.TOXIC))


async def test_score_threshold_leaves_out_attributes_scored_below_it(api: Api) -> None:
    toxic = api.probability(TEXT, Label.TOXIC)
    body = analyze_body(TEXT)
    body["requestedAttributes"] = {
        "TOXICITY": {"scoreThreshold": min(1.0, toxic + 0.01)},
        "INSULT": {"scoreThreshold": 0.0, "scoreType": "PROBABILITY"},
        "THREAT": {},
    }
    response = await api.client.post(ANALYZE, json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()["attributeScores"]) == {"INSULT", "THREAT"}
    # The comment is still scored (and counted) even when every attribute is left out.
    assert len(api.log.of(PredictionMade)) == 1


async def test_analyze_publishes_one_perspective_prediction_with_text_and_context(
    api: Api,
) -> None:
    body = analyze_body(
        TEXT, context={"entries": [{"text": "the article"}, {"text": "a reply", "type": "HTML"}]}
    )
    assert (await api.client.post(ANALYZE, json=body)).status_code == 200
    [event] = api.log.of(PredictionMade)
    assert event.channel is Channel.PERSPECTIVE
    assert event.text == TEXT
    assert event.context == "the article\na reply"
    assert event.scores[Label.TOXIC] == pytest.approx(api.probability(TEXT, Label.TOXIC))


async def test_do_not_store_leaves_the_text_out_of_the_event(api: Api) -> None:
    body = analyze_body(TEXT, doNotStore=True, context={"entries": [{"text": "secret"}]})
    assert (await api.client.post(ANALYZE, json=body)).status_code == 200
    [event] = api.log.of(PredictionMade)
    assert event.text is None
    assert event.context is None
    assert event.text_length == len(TEXT)


async def test_unknown_fields_are_ignored_and_snake_case_is_accepted(api: Api) -> None:
    body = {
        "comment": {"text": TEXT, "type": "PLAIN_TEXT", "futureField": 1},
        "requested_attributes": {"PROFANITY": {"futureOption": True}},
        "sessionId": "s1",
        "communityId": "c1",
        "somethingNew": {"x": 1},
    }
    response = await api.client.post(ANALYZE, json=body)
    assert response.status_code == 200, response.text
    assert set(response.json()["attributeScores"]) == {"PROFANITY"}


async def test_unknown_attribute_is_a_google_style_400(api: Api) -> None:
    response = await api.client.post(ANALYZE, json=analyze_body(TEXT, "TOXICITY", "FLIRTATION"))
    assert_google_error(response, 400, "FLIRTATION", "not supported")
    assert api.log.events == []


async def test_drop_unsupported_attributes_scores_the_known_ones(api: Api) -> None:
    body = analyze_body(TEXT, "SEXUALLY_EXPLICIT", "INSULT", dropUnsupportedAttributes=True)
    response = await api.client.post(ANALYZE, json=body)
    assert set(response.json()["attributeScores"]) == {"INSULT"}


async def test_unsupported_language_is_a_400_naming_it(api: Api) -> None:
    body = analyze_body(TEXT, "TOXICITY", languages=["de"])
    message = assert_google_error(await api.client.post(ANALYZE, json=body), 400)
    assert message.startswith("Attribute TOXICITY does not support request languages: de")
    english = analyze_body(TEXT, languages=["en-US"])
    assert (await api.client.post(ANALYZE, json=english)).json()["languages"] == ["en-US"]


@pytest.mark.parametrize(
    "body",
    [
        {"requestedAttributes": {"TOXICITY": {}}},
        {"comment": {}, "requestedAttributes": {"TOXICITY": {}}},
        {"comment": {"text": "  \n "}, "requestedAttributes": {"TOXICITY": {}}},
    ],
)
async def test_missing_comment_text_is_a_400(api: Api, body: dict[str, Any]) -> None:
    assert_google_error(await api.client.post(ANALYZE, json=body), 400, "comment.text")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"comment": {"text": "hi"}}, ["requestedAttributes"]),
        ({"comment": {"text": "hi"}, "requestedAttributes": {}}, ["requestedAttributes"]),
        (analyze_body("hi", spanAnnotations=[1]), ["spanAnnotations"]),
        (analyze_body("hi", comment={"text": 5}), ["comment.text"]),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}},
            ["TOXICITY", "RAW"],
        ),
        (
            {
                "comment": {"text": "hi"},
                "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}},
            },
            ["scoreThreshold"],
        ),
    ],
)
async def test_malformed_requests_are_400s_naming_the_field(
    api: Api, body: dict[str, Any], words: list[str]
) -> None:
    assert_google_error(await api.client.post(ANALYZE, json=body), 400, *words)


async def test_text_over_the_limit_is_a_400_naming_the_limit() -> None:
    async with perspective(max_text_chars=50) as api:
        response = await api.client.post(ANALYZE, json=analyze_body("x" * 51))
        assert_google_error(response, 400, "51", "50", "TOXIC_MAX_TEXT_CHARS")
        assert (await api.client.post(ANALYZE, json=analyze_body("x" * 50))).status_code == 200


async def test_keys_travel_in_the_key_query_parameter() -> None:
    keys = InMemoryKeyStore()
    secret = await create_key(keys, Role.CLIENT, "perspective")
    async with perspective(keys=keys, require_client_key=True) as api:
        body = analyze_body("hello there")
        assert_google_error(await api.client.post(ANALYZE, json=body), 401)
        bad = await api.client.post(ANALYZE, params={"key": "tox_nope"}, json=body)
        assert_google_error(bad, 401)
        good = await api.client.post(ANALYZE, params={"key": secret}, json=body)
        assert good.status_code == 200, good.text


async def test_no_model_loaded_is_a_503_to_retry() -> None:
    async with perspective(loaded=False) as api:
        response = await api.client.post(ANALYZE, json=analyze_body("hello"))
        assert response.status_code == 503
        assert response.json()["error"]["status"] == "UNAVAILABLE"
        assert "Retry-After" in response.headers


async def test_suggestscore_publishes_one_perspective_feedback(api: Api) -> None:
    body = {
        "comment": {"text": "you absolute clown"},
        "attributeScores": {
            "TOXICITY": {"summaryScore": {"value": 0.9}},
            "INSULT_EXPERIMENTAL": {"summaryScore": {"value": 0.5, "type": "PROBABILITY"}},
            "THREAT": {"summaryScore": {"value": 0.1}},
        },
        "languages": ["en"],
        "clientToken": "tok",
        "communityId": "forum",
    }
    response = await api.client.post(SUGGEST, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"clientToken": "tok"}
    [event] = api.log.events
    assert isinstance(event, FeedbackGiven)
    assert event.feedback_source is FeedbackSource.PERSPECTIVE
    assert event.prediction_id is None
    assert event.text == "you absolute clown"
    assert event.model_version == "test-1"
    assert dict(event.true_labels) == {Label.TOXIC: True, Label.INSULT: True, Label.THREAT: False}


@pytest.mark.parametrize(
    ("attribute_scores", "words"),
    [
        ({"FLIRTATION": {"summaryScore": {"value": 1}}}, ["FLIRTATION"]),
        ({"TOXICITY": {}}, ["TOXICITY", "summaryScore"]),
        ({"TOXICITY": {"summaryScore": {"value": 1.5}}}, ["value"]),
        ({}, ["attributeScores"]),
        (
            {
                "TOXICITY": {"summaryScore": {"value": 1}},
                "toxicity": {"summaryScore": {"value": 0}},
            },
            ["toxic"],
        ),
    ],
)
async def test_bad_suggestions_are_400s_and_publish_nothing(
    api: Api, attribute_scores: dict[str, Any], words: list[str]
) -> None:
    body = {"comment": {"text": "hello"}, "attributeScores": attribute_scores}
    assert_google_error(await api.client.post(SUGGEST, json=body), 400, *words)
    assert api.log.events == []


async def test_suggestion_in_another_language_is_refused(api: Api) -> None:
    body = {
        "comment": {"text": "Hallo"},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
        "languages": ["de"],
    }
    assert_google_error(await api.client.post(SUGGEST, json=body), 400, "languages: de")


async def test_discovery_document_roots_at_the_requests_base_url(api: Api) -> None:
    response = await api.client.get("/$discovery/rest", params={"version": "v1alpha1"})
    assert response.status_code == 200
    doc = response.json()
    assert doc["kind"] == "discovery#restDescription"
    assert doc["id"] == "commentanalyzer:v1alpha1"
    assert doc["rootUrl"] == "http://testserver/"
    assert doc["servicePath"] == ""
    methods = doc["resources"]["comments"]["methods"]
    assert methods["analyze"]["path"] == "v1alpha1/comments:analyze"
    assert methods["suggestscore"]["id"] == "commentanalyzer.comments.suggestscore"
    for method in methods.values():
        for ref in (method["request"]["$ref"], method["response"]["$ref"]):
            assert ref in doc["schemas"]


async def test_discovery_uses_the_public_url_when_set() -> None:
    async with perspective(public_url="https://toxic.example.org/api") as api:
        doc = (await api.client.get("/$discovery/rest?version=v1alpha1")).json()
        assert doc["rootUrl"] == "https://toxic.example.org/api/"


async def test_discovery_of_an_unknown_version_is_a_google_style_404(api: Api) -> None:
    response = await api.client.get("/$discovery/rest", params={"version": "v1"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
    assert "v1alpha1" in response.json()["error"]["message"]
