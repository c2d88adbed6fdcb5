"""The topology as LocalStack clients see it, against whatever answers on 127.0.0.1:4566.

That is LocalStack under `docker compose up`, or `toxic up` / `toxic emulator`; when nothing
answers there, the session's stand-in (moto's server on a free port) plays the part, so CI always
runs this tier. Resources are checked with localstack-client's boto3 clients, not with our code.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from localstack_client.session import Session  # type: ignore[import-untyped]

from shared.emulator import EmulatorProcess, reset
from shared.infra import InfraSpec
from shared.infra.localstack import localstack_script
from shared.settings import AwsSettings

pytestmark = pytest.mark.localstack

LOCALSTACK_HOST = "127.0.0.1"
LOCALSTACK_PORT = 4566
REGION = "us-east-1"
TOXIC = str(Path(sys.executable).parent / "toxic")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _is_localstack(endpoint: str) -> bool:
    """LocalStack itself (not moto) answers its own health path."""
    try:
        with urllib.request.urlopen(f"http://{endpoint}/_localstack/health", timeout=3) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def endpoint(request: pytest.FixtureRequest) -> str:
    """host:port of LocalStack if it answers on 4566, else of the session's stand-in."""
    if _answers(LOCALSTACK_HOST, LOCALSTACK_PORT):
        return f"{LOCALSTACK_HOST}:{LOCALSTACK_PORT}"
    emulator: EmulatorProcess = request.getfixturevalue("emulator")
    return f"127.0.0.1:{emulator.settings.port}"


def _clean_environment(endpoint: str, prefix: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOXIC_"))}
    return {
        **kept,
        "AWS_ENDPOINT_URL": f"http://{endpoint}",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TOXIC_PREFIX": prefix,
    }


@pytest.fixture(scope="module")
def session(endpoint: str) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        # localstack-client prefers AWS_ENDPOINT_URL, when set, over the host it is given.
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        return Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name=REGION,
            localstack_host=endpoint,
        )


def _ensure(endpoint: str, prefix: str) -> str:
    result = subprocess.run(
        [TOXIC, "infra", "ensure"],
        env=_clean_environment(endpoint, prefix),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _topic_arn(sns: Any, name: str) -> str | None:
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
    return None


def _queue_arn(sqs: Any, name: str) -> tuple[str, dict[str, str]]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return url, attributes


def _check_resources(session: Any, spec: InfraSpec) -> None:
    """Every resource of ``spec`` exists with the spec's settings."""
    sns, sqs = session.client("sns"), session.client("sqs")
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")

    topic_arn = _topic_arn(sns, spec.topic.name)
    assert topic_arn is not None, f"no topic {spec.topic.name}"
    subscriptions = {
        s["Endpoint"]: s["SubscriptionArn"]
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    }

    arns: dict[str, str] = {}
    for queue in spec.static_queues:
        _, attributes = _queue_arn(sqs, queue.name)
        arns[queue.name] = attributes["QueueArn"]
        assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout_seconds
        assert int(attributes["MessageRetentionPeriod"]) == queue.retention_seconds
        if queue.dead_letter_queue is not None:
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"] == arns[queue.dead_letter_queue]
            assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
        else:
            assert "RedrivePolicy" not in attributes
        if not queue.subscribed:
            assert attributes["QueueArn"] not in subscriptions, f"{queue.name} is subscribed"
            continue
        subscription = subscriptions[attributes["QueueArn"]]
        got = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
        wanted = queue.subscription_attributes()
        assert got["RawMessageDelivery"] == "true"
        assert json.loads(got["FilterPolicy"]) == json.loads(wanted["FilterPolicy"])
        assert got.get("FilterPolicyScope", "MessageAttributes") == wanted["FilterPolicyScope"]

    for table in spec.tables:
        described = dynamodb.describe_table(TableName=table.name)["Table"]
        keys = [(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]]
        wanted_keys = [(table.hash_key.name, "HASH")]
        if table.range_key is not None:
            wanted_keys.append((table.range_key.name, "RANGE"))
        assert keys == wanted_keys, table.name
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {
            index["IndexName"]: (
                [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
                index["Projection"]["ProjectionType"],
            )
            for index in described.get("GlobalSecondaryIndexes", [])
        }
        assert set(indexes) == {index.name for index in table.indexes}, table.name
        for index in table.indexes:
            index_keys = [(index.hash_key.name, "HASH")]
            if index.range_key is not None:
                index_keys.append((index.range_key.name, "RANGE"))
            assert indexes[index.name] == (index_keys, "ALL"), f"{table.name}/{index.name}"
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if table.ttl_attribute is None:
            assert ttl.get("TimeToLiveStatus", "DISABLED") == "DISABLED", table.name
        else:
            assert ttl["TimeToLiveStatus"] in {"ENABLED", "ENABLING"}, table.name
            assert ttl["AttributeName"] == table.ttl_attribute, table.name

    s3.head_bucket(Bucket=spec.bucket.name)


def _remove(session: Any, spec: InfraSpec) -> None:
    """Delete a test deployment again: the endpoint may be someone's running LocalStack."""
    sns, sqs = session.client("sns"), session.client("sqs")
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    topic_arn = _topic_arn(sns, spec.topic.name)
    if topic_arn is not None:
        for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sns.delete_topic(TopicArn=topic_arn)
    for queue in spec.static_queues:
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue.name)["QueueUrl"])
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in spec.tables:
        if table.name in existing:
            dynamodb.delete_table(TableName=table.name)
    try:
        for version in s3.list_objects_v2(Bucket=spec.bucket.name).get("Contents", []):
            s3.delete_object(Bucket=spec.bucket.name, Key=version["Key"])
        s3.delete_bucket(Bucket=spec.bucket.name)
    except s3.exceptions.NoSuchBucket:
        pass


@pytest.fixture(scope="module")
def deployment(endpoint: str, session: Any) -> Iterator[InfraSpec]:
    """A fresh deployment applied by `toxic infra ensure`, removed after the module's tests."""
    spec = InfraSpec.for_prefix(f"ls{uuid.uuid4().hex[:8]}")
    try:
        output = _ensure(endpoint, spec.prefix)
        assert ["created", "topic", spec.topic.name] in [
            line.split() for line in output.splitlines()
        ]
        yield spec
    finally:
        _remove(session, spec)


def test_ensure_builds_every_resource_of_the_spec(session: Any, deployment: InfraSpec) -> None:
    _check_resources(session, deployment)


def test_an_event_reaches_exactly_the_queues_whose_filter_names_it(
    session: Any, deployment: InfraSpec
) -> None:
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = _topic_arn(sns, deployment.topic.name)
    body = json.dumps({"event_type": "ModelRejected", "marker": uuid.uuid4().hex})
    sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "ModelRejected"}},
    )
    for queue in (q for q in deployment.static_queues if q.subscribed):
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        wait = 2 if "ModelRejected" in queue.event_types else 1
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait).get("Messages", [])
        if "ModelRejected" in queue.event_types:
            # Raw delivery: the body is the event itself, not an SNS envelope around it.
            assert [m["Body"] for m in messages] == [body], queue.name
        else:
            assert messages == [], queue.name


def test_localstack_started_with_the_deployment_of_its_init_script(
    endpoint: str, session: Any
) -> None:
    if not _is_localstack(endpoint):
        pytest.skip(f"{endpoint} is not LocalStack (no /_localstack/health): no init script ran")
    _check_resources(session, InfraSpec.for_prefix(AwsSettings.model_fields["prefix"].default))


@pytest.mark.timeout(300)
def test_the_init_script_builds_what_ensure_then_finds_unchanged(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Run localstack/'s script (awslocal: the aws CLI aimed at the stand-in); ensure agrees."""
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the aws CLI is not installed: it stands in for LocalStack's awslocal")
    # Always the private stand-in: the script builds the default deployment, which must not
    # be touched on a LocalStack someone is using.
    endpoint = f"127.0.0.1:{emulator.settings.port}"
    spec = InfraSpec.for_prefix(AwsSettings.model_fields["prefix"].default)
    shim = tmp_path / "bin" / "awslocal"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{aws}" --endpoint-url "http://{endpoint}" "$@"\n')
    shim.chmod(0o755)
    script = tmp_path / "init.sh"
    script.write_text(localstack_script(spec))
    environment = _clean_environment(endpoint, spec.prefix)
    environment["PATH"] = f"{shim.parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["AWS_DEFAULT_REGION"] = REGION
    del environment["AWS_ENDPOINT_URL"]  # the aws CLI is aimed by the shim alone
    try:
        ran = subprocess.run(
            ["bash", str(script)], env=environment, capture_output=True, text=True, timeout=240
        )
        assert ran.returncode == 0, ran.stderr
        output = _ensure(endpoint, spec.prefix)
        assert output.splitlines()[-1].startswith("nothing to change"), output
    finally:
        reset(emulator.url)
