"""The dashboard on the AWS stand-in: the reader, the page data, the page and the retrain button.

Items are written the way the services write them: rollups through the monitoring's
``DynamoMonitoringStore.commit`` of ``prediction_increments``/``feedback_increments``, its baseline,
current-model, outcome, alert and health records through the same store, feedback, review and
model items as the logger puts them. The retrain button talks to a real ``toxic serve api``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from contracts import Decision, Label
from services.api.keys import Role, create_key
from services.api.keystore import DynamoKeyStore
from services.dashboard.bootstrap import SESSION_SETTINGS
from services.dashboard.data import MINUTE_COUNTERS, load_page_data
from services.dashboard.retrain import HttpRetrainer
from services.dashboard.settings import DashboardSettings
from services.dashboard.summaries import kpis, label_quality
from services.monitoring.repository import DynamoMonitoringStore
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.dynamo import batch_put
from shared.infra import InfraSpec
from shared.items import FeedbackItem, ModelItem, ReviewItem
from shared.monitoring.reader import DynamoMonitoringReader
from shared.monitoring.records import (
    ActiveAlert,
    BaselineItem,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    QueueDepth,
    TrainingOutcomeItem,
)
from shared.monitoring.rollups import feedback_increments, merge, prediction_increments
from shared.settings import AwsSettings
from tests import factories
from tests.harness.api import Start, start_api
from tests.harness.champion import publish_champion

pytestmark = pytest.mark.integration

MODEL = "toxic-comment-classifier"
APP = Path(__file__).parents[2] / "services" / "dashboard" / "app.py"


async def write_deployment(clients: AwsClients, spec: InfraSpec, now: datetime) -> None:
    """40 predictions (10 flagged toxic) and 4 feedback rows for version 7; records beside."""
    store = DynamoMonitoringStore(clients.dynamodb, spec)
    events = [
        factories.prediction_made(
            occurred_at=now - timedelta(minutes=i % 20),
            model_version="7",
            scores=factories.scores(toxic=0.9 if i < 10 else 0.05),
            flagged=(Label.TOXIC,) if i < 10 else (),
            decision=Decision.REJECT if i < 10 else Decision.ALLOW,
            latency_ms=float(5 + i),
        )
        for i in range(40)
    ]
    await store.commit(
        [e.event_id for e in events], merge(prediction_increments(e, 0.2) for e in events)
    )
    feedback = [
        factories.feedback_given(
            occurred_at=now - timedelta(minutes=1),
            prediction_id=events[i].prediction_id,
            model_version="7",
            true_labels={Label.TOXIC: truth},
        )
        for i, truth in ((0, True), (1, True), (2, False), (30, False))
    ]
    await store.commit(
        [f.event_id for f in feedback],
        merge(
            feedback_increments(f, events[i].flagged)
            for f, i in zip(feedback, (0, 1, 2, 30), strict=True)
        ),
    )
    published = factories.model_published(
        model_name=MODEL, model_version="7", occurred_at=now - timedelta(days=1)
    )
    assert await store.put_baseline(BaselineItem.from_event(published))
    assert await store.put_current_model(
        CurrentModel(model_name=MODEL, model_version="7", published_at=published.occurred_at)
    )
    assert await store.put_outcome(
        TrainingOutcomeItem.from_event(
            factories.model_rejected(model_name=MODEL, occurred_at=now - timedelta(hours=2))
        )
    )
    await store.put_active(
        ActiveAlert(
            rule="toxic_rate",
            severity="warning",
            message="toxic rate 25.0% is above 20.0%",
            value=0.25,
            threshold=0.2,
            since=now - timedelta(minutes=5),
            seen_at=now,
        )
    )
    await store.add_firing(
        FiringRecord(
            rule="toxic_rate",
            severity="warning",
            message="toxic rate 25.0% is above 20.0%",
            value=0.25,
            threshold=0.2,
            at=now - timedelta(minutes=5),
        )
    )
    await store.put_health(
        PipelineHealth(
            measured_at=now,
            measured_by="monitoring-test",
            queues=(
                QueueDepth(
                    name=f"{spec.prefix}-logger-dlq",
                    dead_letter=True,
                    visible=2,
                    in_flight=0,
                    delayed=0,
                ),
            ),
            replicas=(),
            consumer_lag_seconds=1.5,
        )
    )
    await batch_put(clients.dynamodb, spec.table("models").name, [ModelItem.from_event(published)])
    await batch_put(
        clients.dynamodb,
        spec.table("feedback").name,
        [FeedbackItem.from_event(f) for f in feedback],
    )
    queued = factories.prediction_made(occurred_at=now, decision=Decision.REVIEW, text="hmm")
    await batch_put(
        clients.dynamodb, spec.table("reviews").name, [ReviewItem.from_prediction(queued)]
    )


async def test_the_page_data_reads_back_what_the_monitoring_and_the_logger_wrote(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    now = datetime.now(UTC)
    await write_deployment(clients, deployment, now)
    reader = DynamoMonitoringReader(clients.dynamodb, deployment)

    data = await load_page_data(reader, now, model_name=MODEL)

    short, long = kpis(data.minutes.total()), kpis(data.days.total())
    assert short.predictions == long.predictions == 40
    assert short.toxic_rate == pytest.approx(0.25)
    assert long.feedback == 4
    toxic = next(q for q in label_quality(data.days.total()) if q.label is Label.TOXIC)
    assert (toxic.tp, toxic.fp, toxic.fn, toxic.tn) == (2, 1, 0, 1)
    assert short.latency_p50_ms is not None
    assert 10 < short.latency_p50_ms <= 50
    assert data.current is not None
    assert data.current.model_version == "7"
    assert list(data.version_days) == ["7"]
    assert data.baseline is not None
    assert kpis(data.live_hours.total()).predictions == 40
    assert [type(e).__name__ for e in data.history] == ["TrainingOutcomeItem", "ModelItem"]
    assert [a.rule for a in data.active_alerts] == ["toxic_rate"]
    assert len(data.firings) == 1
    assert data.health is not None
    assert data.health.queues[0].visible == 2
    assert len(data.feedback) == 4
    assert len(data.reviews) == 1
    # The minute items come back projected (ProjectionExpression), the hours whole.
    assert data.minutes.names == MINUTE_COUNTERS
    hours = data.hours.total()
    assert kpis(hours).predictions == 40
    assert sum(hours[f"score_toxic_{i}"] for i in range(10)) == 40


async def test_an_empty_deployment_loads_an_empty_page(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    reader = DynamoMonitoringReader(clients.dynamodb, deployment)

    data = await load_page_data(reader, datetime.now(UTC), model_name=MODEL)

    assert data.empty
    assert data.current is None
    assert data.health is None
    assert data.feedback == []
    assert data.reviews == []
    assert data.history == []


def dashboard_settings(
    aws: AwsSettings, api_url: str = "http://127.0.0.1:8000"
) -> DashboardSettings:
    return DashboardSettings(
        prefix=aws.prefix,
        endpoint_url=aws.endpoint_url,
        region=aws.region,
        dashboard_api_url=api_url,
    )


async def test_the_page_shows_the_stand_ins_data_through_the_dynamodb_reader(
    clients: AwsClients, deployment: InfraSpec, aws_settings: AwsSettings
) -> None:
    await write_deployment(clients, deployment, datetime.now(UTC))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[SESSION_SETTINGS] = dashboard_settings(aws_settings)

    at.run()

    assert not at.exception, [e.value for e in at.exception]
    predictions = [m.value for m in at.metric if m.label == "Predictions"]
    assert predictions == ["40", "40"]
    assert "Current model version: 7" in next(c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) >= 10
    assert any("toxic_rate" in w.value for w in at.warning)


async def test_the_retrain_button_asks_a_real_api_with_an_admin_key(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    await publish_champion(ArtifactStore(clients.s3, deployment.bucket.name), "v1")
    replica, _ = start_api(processes, aws_settings, tmp_path)
    keys = DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name)
    admin = await create_key(keys, Role.ADMIN, "dashboard test admin")
    moderator = await create_key(keys, Role.MODERATOR, "dashboard test moderator")

    with httpx.Client(base_url=replica.url, timeout=30) as http:
        retrainer = HttpRetrainer(http)
        accepted = retrainer.request_retrain(admin, "from the dashboard test")
        refused = retrainer.request_retrain(moderator, None)
        unknown = retrainer.request_retrain("tox_not_a_key", None)

    assert accepted.ok
    assert accepted.status == 202
    assert accepted.request_id
    assert not refused.ok
    assert refused.status == 403
    assert not unknown.ok
    assert unknown.status == 401

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[SESSION_SETTINGS] = dashboard_settings(aws_settings, replica.url)
    at.run()
    at.text_input[0].input(admin)
    at.button[1].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("retrain requested: request id" in s.value for s in at.success)
