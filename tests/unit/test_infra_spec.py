"""The infrastructure spec: names, AWS limits, routing, dead letters, rendering and the CLI."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from contracts import EVENT_TYPES
from contracts.topology import QUEUE_ROUTES, REPLICA_ROLE
from services.cli import app
from shared.errors import ConfigurationError
from shared.infra import (
    Action,
    BucketSpec,
    Change,
    InfraSpec,
    render_text,
    spec_as_dict,
    summarize,
)
from shared.infra.spec import DLQ_RETENTION_SECONDS, MAX_RECEIVE_COUNT, queue_policy

pytestmark = pytest.mark.unit

CONSUMER_ROLES = [role for role in QUEUE_ROUTES if role != REPLICA_ROLE]
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@pytest.fixture
def spec() -> InfraSpec:
    return InfraSpec.for_prefix("demo")


def every_name(spec: InfraSpec) -> list[str]:
    return [
        spec.topic.name,
        *(q.name for q in spec.static_queues),
        *(t.name for t in spec.tables),
        spec.bucket.name,
    ]


def test_every_resource_is_named_from_the_prefix(spec: InfraSpec) -> None:
    assert spec.topic.name == "demo-events"
    assert [q.name for q in spec.static_queues] == [
        "demo-logger-dlq",
        "demo-monitoring-dlq",
        "demo-training-dlq",
        "demo-api-dlq",
        "demo-logger",
        "demo-monitoring",
        "demo-training",
    ]
    assert [t.name for t in spec.tables] == [
        "demo-predictions",
        "demo-feedback",
        "demo-reviews",
        "demo-rollups",
        "demo-processed",
        "demo-alerts",
        "demo-models",
        "demo-api-keys",
        "demo-leases",
    ]
    assert spec.bucket.name == "demo-artifacts"


def test_two_prefixes_share_no_resource_name() -> None:
    one, other = InfraSpec.for_prefix("blue"), InfraSpec.for_prefix("green")

    assert not set(every_name(one)) & set(every_name(other))


def test_the_spec_is_the_same_however_often_it_is_built() -> None:
    assert InfraSpec.for_prefix("demo") == InfraSpec.for_prefix("demo")


@pytest.mark.parametrize("role", CONSUMER_ROLES)
def test_every_consumer_queue_redrives_to_its_own_dead_letter_queue_after_five_receives(
    spec: InfraSpec, role: str
) -> None:
    queue = spec.queue(role)
    dlq_arn = f"arn:aws:sqs:us-east-1:000000000000:{queue.name}-dlq"

    attributes = queue.attributes(dead_letter_arn=dlq_arn, policy=None)

    assert queue.dead_letter_queue == f"demo-{role}-dlq"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert MAX_RECEIVE_COUNT == 5
    dead_letters = {q.name: q for q in spec.static_queues}
    assert dead_letters[f"demo-{role}-dlq"].retention_seconds == DLQ_RETENTION_SECONDS


def test_dead_letter_queues_keep_messages_fourteen_days_and_redrive_nowhere(
    spec: InfraSpec,
) -> None:
    dead_letters = [q for q in spec.static_queues if q.name.endswith("-dlq")]

    assert len(dead_letters) == len(CONSUMER_ROLES) + 1
    for queue in dead_letters:
        assert queue.retention_seconds == 14 * 24 * 3600
        assert queue.dead_letter_queue is None
        assert not queue.subscribed
        assert "RedrivePolicy" not in queue.attributes(dead_letter_arn=None, policy=None)


def test_dead_letter_queues_come_before_the_queues_redriving_to_them(spec: InfraSpec) -> None:
    order = [q.name for q in spec.static_queues]

    for queue in spec.static_queues:
        if queue.dead_letter_queue is not None:
            assert order.index(queue.dead_letter_queue) < order.index(queue.name)


def test_training_messages_stay_hidden_much_longer_than_the_others(spec: InfraSpec) -> None:
    training = spec.queue("training").visibility_timeout_seconds

    others = [spec.queue(role).visibility_timeout_seconds for role in ("logger", "monitoring")]
    assert training >= 900
    assert all(training >= 10 * other for other in others)


@pytest.mark.parametrize("role", list(QUEUE_ROUTES))
def test_each_subscription_filters_on_exactly_the_routed_event_types(
    spec: InfraSpec, role: str
) -> None:
    queue = spec.replica_queue("web-1") if role == REPLICA_ROLE else spec.queue(role)

    attributes = queue.subscription_attributes()

    assert json.loads(attributes["FilterPolicy"]) == {"event_type": sorted(QUEUE_ROUTES[role])}
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["FilterPolicyScope"] == "MessageAttributes"


def test_every_routed_event_type_is_a_contract_and_every_contract_has_a_consumer() -> None:
    routed = {event_type for types in QUEUE_ROUTES.values() for event_type in types}

    assert routed == set(EVENT_TYPES)


def test_the_queue_policy_lets_only_the_topic_send(spec: InfraSpec) -> None:
    queue_arn = "arn:aws:sqs:us-east-1:000000000000:demo-logger"
    topic_arn = "arn:aws:sns:us-east-1:000000000000:demo-events"

    attributes = spec.queue("logger").attributes(
        dead_letter_arn="arn:aws:sqs:us-east-1:000000000000:demo-logger-dlq",
        policy=queue_policy(queue_arn, topic_arn),
    )

    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == queue_arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}


def test_tables_have_the_keys_indexes_and_ttl_the_services_query_by(spec: InfraSpec) -> None:
    predictions, feedback, reviews = (
        spec.table("predictions"),
        spec.table("feedback"),
        spec.table("reviews"),
    )

    assert predictions.hash_key.name == "prediction_id"
    by_time = predictions.index("by_time")
    assert (by_time.hash_key.name, by_time.range_key and by_time.range_key.name) == (
        "day",
        "created_at",
    )
    assert predictions.ttl_attribute == "expires_at"
    assert feedback.hash_key.name == "feedback_id"
    assert {i.name for i in feedback.indexes} == {"by_time", "by_prediction"}
    by_status = reviews.index("by_status")
    assert (by_status.hash_key.name, by_status.range_key and by_status.range_key.name) == (
        "status",
        "queue_key",
    )
    assert spec.table("processed").ttl_attribute == "expires_at"
    assert spec.table("api-keys").hash_key.name == "key_hash"
    assert spec.table("leases").hash_key.name == "name"
    for name in ("rollups", "alerts", "models"):
        table = spec.table(name)
        assert (table.hash_key.name, table.range_key and table.range_key.name) == ("pk", "sk")


def test_attribute_definitions_name_each_key_attribute_once(spec: InfraSpec) -> None:
    feedback = spec.table("feedback")

    names = [a.name for a in feedback.attribute_definitions]

    assert sorted(names) == ["created_at", "day", "feedback_id", "prediction_id"]


def test_names_respect_aws_limits_for_the_longest_prefix_settings_allow() -> None:
    spec = InfraSpec.for_prefix("a" * 32)

    assert all(QUEUE_NAME.match(q.name) for q in spec.static_queues)
    assert all(3 <= len(t.name) <= 255 for t in spec.tables)
    assert 3 <= len(spec.bucket.name) <= 63


@pytest.mark.parametrize(
    ("prefix", "complaint"),
    [
        ("x" * 70, "queue name"),  # "<prefix>-monitoring-dlq" passes 80 characters
        ("Demo", "bucket name"),  # buckets are lowercase only
        ("demo env", "not valid on AWS"),
        ("demo..blue", "not valid on AWS"),
        ("xn--demo", "reserves"),
    ],
)
def test_a_prefix_that_would_break_an_aws_naming_rule_is_refused(
    prefix: str, complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        InfraSpec.for_prefix(prefix)


@pytest.mark.parametrize(
    "name", ["ab", "demo..artifacts", "192.168.1.10", "demo-artifacts-", "demo-s3alias", "a" * 64]
)
def test_a_bucket_name_aws_would_refuse_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="bucket name"):
        BucketSpec(name)


def test_a_replica_queue_is_named_after_its_instance_with_unsafe_characters_replaced(
    spec: InfraSpec,
) -> None:
    queue = spec.replica_queue("ip-10-0-1-23.ec2.internal:8000")

    assert queue.name == "demo-api-ip-10-0-1-23-ec2-internal-8000"
    assert queue.dead_letter_queue == "demo-api-dlq"
    assert queue.event_types == tuple(QUEUE_ROUTES[REPLICA_ROLE])


def test_long_instance_names_are_cut_to_80_characters_and_stay_distinct(spec: InfraSpec) -> None:
    one = spec.replica_queue("a" * 120 + "-one")
    other = spec.replica_queue("a" * 120 + "-two")

    assert len(one.name) == len(other.name) == 80
    assert QUEUE_NAME.match(one.name)
    assert one.name != other.name


def test_no_instance_name_can_take_the_shared_api_dead_letter_queue(spec: InfraSpec) -> None:
    queue = spec.replica_queue("dlq")

    assert queue.name != spec.api_dead_letter_queue.name
    assert queue.name.startswith("demo-api-dlq-")


def test_a_replica_queue_needs_an_instance_name(spec: InfraSpec) -> None:
    with pytest.raises(ConfigurationError, match="instance"):
        spec.replica_queue("  ")


def test_the_text_rendering_mentions_every_resource_and_route(spec: InfraSpec) -> None:
    text = render_text(spec)

    for name in every_name(spec):
        assert name in text, name
    assert "demo-api-<instance>" in text
    for event_type in EVENT_TYPES:
        assert event_type in text
    for index in ("by_time", "by_prediction", "by_status"):
        assert index in text
    assert "TTL on expires_at" in text
    assert f"after {MAX_RECEIVE_COUNT} receives" in text


def test_the_json_rendering_lists_every_resource(spec: InfraSpec) -> None:
    data = json.loads(json.dumps(spec_as_dict(spec)))

    assert data["topic"] == spec.topic.name
    assert [q["name"] for q in data["queues"]] == [q.name for q in spec.static_queues]
    assert [t["name"] for t in data["tables"]] == [t.name for t in spec.tables]
    assert data["bucket"] == spec.bucket.name
    assert data["replica_queues"]["name"] == "demo-api-<instance>"


def test_the_summary_says_nothing_changed_only_when_everything_is_unchanged() -> None:
    same = [Change("queue", "a", Action.UNCHANGED), Change("table", "b", Action.UNCHANGED)]
    mixed = [*same, Change("queue", "c", Action.CREATED), Change("index", "d", Action.DRIFTED)]

    assert summarize(same) == "nothing to change: all 2 resources match the spec"
    assert summarize(mixed) == "1 created, 2 unchanged, 1 drifted"


def test_a_change_prints_as_one_aligned_line() -> None:
    line = str(Change("queue", "demo-logger", Action.UPDATED, "set VisibilityTimeout"))

    assert line.split() == ["updated", "queue", "demo-logger", "(set", "VisibilityTimeout)"]


def test_toxic_infra_show_prints_the_spec_of_the_configured_prefix() -> None:
    result = CliRunner().invoke(app, ["infra", "show"], env={"TOXIC_PREFIX": "blue"})

    assert result.exit_code == 0, result.output
    assert "blue-events" in result.output
    assert "blue-predictions" in result.output


def test_toxic_infra_show_refuses_an_invalid_prefix_in_one_line() -> None:
    result = CliRunner().invoke(app, ["infra", "show"], env={"TOXIC_PREFIX": "Not Valid"})

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "prefix" in result.output
