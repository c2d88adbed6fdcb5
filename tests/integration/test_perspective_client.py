"""Google's own API client for Python, built from our discovery document, against `toxic serve api`.

This is what a Perspective user does after changing the URL: ``googleapiclient.discovery.build``
with ``discoveryServiceUrl`` pointing here and the API key as ``developerKey``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from googleapiclient import discovery  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

from contracts import FeedbackSource, Label
from services.api.keys import Role, create_key
from services.api.keystore import DynamoKeyStore
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.items import FeedbackItem
from shared.settings import AwsSettings
from tests.harness.api import Start, start_api, start_logger
from tests.harness.champion import publish_champion
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration


def perspective_client(base_url: str, key: str) -> Any:
    return discovery.build(
        "commentanalyzer",
        "v1alpha1",
        discoveryServiceUrl=f"{base_url}/$discovery/rest?version=v1alpha1",
        developerKey=key,
        static_discovery=False,
        cache_discovery=False,
    )


async def perspective_feedback(clients: AwsClients, spec: InfraSpec) -> list[FeedbackItem]:
    page = await clients.dynamodb.scan(TableName=spec.table("feedback").name, ConsistentRead=True)
    items = [FeedbackItem.from_item(item) for item in page.get("Items", [])]
    return [i for i in items if i.feedback_source is FeedbackSource.PERSPECTIVE]


async def test_googles_client_scores_and_suggests_through_the_discovery_document(
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    await publish_champion(ArtifactStore(clients.s3, deployment.bucket.name), "v1")
    key = await create_key(
        DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name), Role.CLIENT, "p"
    )
    replica, _ = start_api(processes, aws_settings, tmp_path, require_client_key="true")
    start_logger(processes, aws_settings)
    text = "You are a complete idiot. Thanks for the edit."

    def talk() -> tuple[dict[str, Any], dict[str, Any], HttpError]:
        # Closed after use: httplib2 keeps its connections open otherwise.
        with perspective_client(replica.url, key) as client:
            comments = client.comments()
            scored = comments.analyze(
                body={
                    "comment": {"text": text},
                    "requestedAttributes": {"TOXICITY": {}, "INSULT": {"scoreThreshold": 0.0}},
                    "spanAnnotations": True,
                    "languages": ["en"],
                    "clientToken": "c-1",
                }
            ).execute()
            suggested = comments.suggestscore(
                body={
                    "comment": {"text": text},
                    "attributeScores": {
                        "TOXICITY": {"summaryScore": {"value": 1.0}},
                        "THREAT": {"summaryScore": {"value": 0.0}},
                    },
                    "clientToken": "c-2",
                }
            ).execute()
            unknown = {"comment": {"text": text}, "requestedAttributes": {"FLIRTATION": {}}}
            with pytest.raises(HttpError) as refused:
                comments.analyze(body=unknown).execute()
            return scored, suggested, refused.value

    scored, suggested, refused = await asyncio.to_thread(talk)

    assert set(scored["attributeScores"]) == {"TOXICITY", "INSULT"}
    toxicity = scored["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY"
    assert 0.0 <= toxicity["summaryScore"]["value"] <= 1.0
    spans = [(s["begin"], s["end"]) for s in toxicity["spanScores"]]
    assert [text[b:e] for b, e in spans] == ["You are a complete idiot.", "Thanks for the edit."]
    assert scored["clientToken"] == "c-1"
    assert suggested == {"clientToken": "c-2"}
    assert refused.resp.status == 400
    assert "FLIRTATION" in refused.reason

    [stored] = await eventually(
        lambda: perspective_feedback(clients, deployment), "the suggestion in the feedback table"
    )
    assert stored.text == text
    assert stored.model_version == "v1"
    assert stored.prediction_id is None
    assert stored.true_labels == {Label.TOXIC: True, Label.THREAT: False}
