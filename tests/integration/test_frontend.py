"""The frontend against a real API: `toxic serve api` and the logger on the stand-in, in AppTest.

The app builds its own httpx adapter from ``TOXIC_FRONTEND_*`` (no fake in its session), so
these tests go through the same bootstrap as `toxic serve frontend`. The API's thresholds put
every comment in review, so one comment scored on the page also reaches the review queue.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from contracts import LABELS, FeedbackSource, Label, ModeratorAction
from services.api.keys import Role, create_key
from services.api.keystore import DynamoKeyStore
from services.frontend.client import HttpToxicApi
from services.frontend.port import ApiCallError
from services.frontend.views.common import PASTED_KEY
from services.training.data import read_csv
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.items import FeedbackItem, ReviewItem, ReviewStatus
from shared.settings import AwsSettings
from tests.harness.api import ReplicaConfig, Start, start_api, start_logger
from tests.harness.champion import STARTER, publish_champion
from tests.harness.ports import free_port
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

APP = Path(__file__).parents[2] / "services" / "frontend" / "app.py"


async def stored(
    clients: AwsClients, spec: InfraSpec, table: str, key: dict[str, Any]
) -> dict[str, Any] | None:
    response = await clients.dynamodb.get_item(
        TableName=spec.table(table).name, Key=key, ConsistentRead=True
    )
    item: dict[str, Any] | None = response.get("Item")
    return item


@pytest.fixture
async def api(
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> ReplicaConfig:
    """A replica serving champion v1 (every comment goes to review); the app's settings point
    at it."""
    await publish_champion(ArtifactStore(clients.s3, deployment.bucket.name), "v1")
    replica, _ = start_api(processes, aws_settings, tmp_path, allow_at="0.000001", reject_at="1.0")
    monkeypatch.setenv("TOXIC_FRONTEND_API_URL", replica.url)
    monkeypatch.delenv("TOXIC_FRONTEND_API_KEY", raising=False)
    return replica


def click(at: AppTest, label: str, index: int = 0) -> AppTest:
    return [b for b in at.button if b.label == label][index].click().run()


def no_problem(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


async def test_the_app_scores_takes_feedback_moderates_and_scores_a_csv_through_a_real_api(
    api: ReplicaConfig,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
) -> None:
    start_logger(processes, aws_settings)
    keys = DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name)
    moderator = await create_key(keys, Role.MODERATOR, "frontend test moderator")

    at = AppTest.from_file(str(APP), default_timeout=30).run()
    no_problem(at)
    at = click(at, "Load a random example")
    no_problem(at)
    assert at.text_area(key="comment").value in read_csv(STARTER).texts

    at.text_area(key="comment").set_value("you are a fool")
    at = click(at, "Score")
    no_problem(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Model version"] == "v1"
    assert metrics["Decision"] == "Review"
    [chart] = at.get("vega_lite_chart")
    assert all(label.value in chart.proto.spec for label in LABELS)
    assert "</mark>" in at.html[0].value  # the real model's explanation marked some words

    at = click(at, "Yes, the flagged labels are right")
    no_problem(at)
    feedback_id = at.success[0].value.removeprefix("Thanks: feedback ").removesuffix(" recorded.")
    item = await eventually(
        lambda: stored(clients, deployment, "feedback", {"feedback_id": {"S": feedback_id}}),
        "the feedback row",
        timeout=60,
    )
    feedback = FeedbackItem.from_item(item)
    assert feedback.feedback_source is FeedbackSource.USER
    assert feedback.model_version == "v1"
    prediction_id = feedback.prediction_id
    assert prediction_id is not None

    # The comment is in review: the moderator finds it on the review page and removes it.
    # (AppTest drops the sidebar on reruns under st.navigation, so the key goes where the
    # sidebar's field keeps it; the unit tests type it into the field.)
    at.session_state[PASTED_KEY] = moderator

    async def listed() -> AppTest | None:
        page = at.switch_page("pages/review.py").run()
        texts = [t.value for t in page.text]
        return page if "you are a fool" in texts else None

    at = await eventually(listed, "the comment on the review page", timeout=60, every=0.5)
    no_problem(at)
    at.multiselect(key=f"labels-{prediction_id}").set_value(["insult"])
    at.text_input(key=f"note-{prediction_id}").set_value("rude")
    [remove] = [
        b for b in at.button if b.label == "Remove" and b.form_id == f"review-{prediction_id}"
    ]
    remove.click().run()
    no_problem(at)
    assert at.success[0].value == f"Comment {prediction_id} removed."

    async def resolved() -> ReviewItem | None:
        item = await stored(
            clients, deployment, "reviews", {"prediction_id": {"S": str(prediction_id)}}
        )
        review = ReviewItem.from_item(item) if item else None
        return review if review and review.status is ReviewStatus.REVIEWED else None

    review = await eventually(resolved, "the review resolved", timeout=60)
    assert review.moderator_action is ModeratorAction.REMOVE
    assert review.true_labels == {label: label is Label.INSULT for label in LABELS}

    # A CSV goes through the batch route.
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "comment_text"])
    writer.writerows([[str(i), f"comment number {i}, you fool"] for i in range(5)])
    at = at.switch_page("pages/batch.py").run()
    at.file_uploader[0].set_value(("c.csv", buffer.getvalue().encode(), "text/csv")).run()
    at = click(at, "Score the file")
    no_problem(at)
    table = at.dataframe[0].value
    assert list(table["id"]) == ["0", "1", "2", "3", "4"]
    assert set(table["model_version"]) == {"v1"}
    assert set(table["decision"]) == {"review"}
    assert all(0.0 <= float(v) <= 1.0 for v in table["score_toxic"])
    assert len({UUID(p) for p in table["prediction_id"]}) == 5


async def test_the_adapter_reports_the_real_apis_refusals_in_its_words(
    api: ReplicaConfig, deployment: InfraSpec, clients: AwsClients
) -> None:
    keys = DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name)
    client_key = await create_key(keys, Role.CLIENT, "frontend test client")
    with httpx.Client(base_url=api.url, timeout=10) as http:
        adapter = HttpToxicApi(http)
        with pytest.raises(ApiCallError) as too_long:
            adapter.predict("x" * 10_001)
        assert too_long.value.status == 422
        assert too_long.value.message == (
            "The API refused the request (422): text: 10001 characters is over the limit of "
            "10000 (TOXIC_MAX_TEXT_CHARS)"
        )
        with pytest.raises(ApiCallError) as too_many:
            adapter.score_batch(["hello"] * 1_001)
        assert "1001 comments is over the limit of 1000 (TOXIC_MAX_BATCH)" in (
            too_many.value.message
        )
        with pytest.raises(ApiCallError) as no_key:
            adapter.review_queue(limit=10)
        assert no_key.value.status == 401
        assert no_key.value.message.endswith("Paste a valid API key in the sidebar.")
        with pytest.raises(ApiCallError) as low_role:
            adapter.review_queue(limit=10, key=client_key)
        assert low_role.value.status == 403
        assert "needs a moderator key" in low_role.value.message
        with pytest.raises(ApiCallError) as unknown:
            adapter.feedback_correct(UUID(int=7))
        assert unknown.value.status == 404
        assert "is not known" in unknown.value.message
        batch = adapter.score_batch(["you fool", "thanks"])
        assert batch.count == 2
        assert batch.model_version == "v1"

    nowhere = f"http://127.0.0.1:{free_port()}"
    with httpx.Client(base_url=nowhere, timeout=5) as http, pytest.raises(ApiCallError) as down:
        HttpToxicApi(http).predict("hello")
    assert down.value.status is None
    assert down.value.message == (
        f"The API at {nowhere} is not reachable (connection refused). Is `toxic serve api` running?"
    )
