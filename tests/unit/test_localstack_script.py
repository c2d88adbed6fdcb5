"""The LocalStack start script in localstack/ is the spec's, generated, and a valid bash script."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from shared.infra import InfraSpec
from shared.infra.localstack import SCRIPT_NAME, localstack_script
from shared.settings import AwsSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "localstack" / "init" / "ready.d" / SCRIPT_NAME
DEFAULT_PREFIX = AwsSettings.model_fields["prefix"].default


def test_checked_in_script_is_what_the_spec_generates() -> None:
    expected = localstack_script(InfraSpec.for_prefix(DEFAULT_PREFIX))
    assert CHECKED_IN.read_text() == expected, (
        "localstack/ is stale: run `uv run toxic infra localstack-script > "
        f"localstack/init/ready.d/{SCRIPT_NAME}`"
    )


def test_localstack_runs_it_because_it_is_executable() -> None:
    assert os.access(CHECKED_IN, os.X_OK)
    assert CHECKED_IN.read_text().startswith("#!/usr/bin/env bash\n")


def test_the_command_prints_the_script_for_the_configured_prefix() -> None:
    runner = CliRunner()
    default = runner.invoke(app, ["infra", "localstack-script"], env={"TOXIC_PREFIX": None})
    assert default.exit_code == 0, default.output
    assert default.output == CHECKED_IN.read_text()

    blue = runner.invoke(app, ["infra", "localstack-script"], env={"TOXIC_PREFIX": "blue"})
    assert blue.exit_code == 0, blue.output
    assert blue.output == localstack_script(InfraSpec.for_prefix("blue"))
    assert "--queue-name blue-logger " in blue.output
    assert f"{DEFAULT_PREFIX}-logger" not in blue.output


def test_every_resource_of_the_spec_is_created_by_the_script() -> None:
    spec = InfraSpec.for_prefix(DEFAULT_PREFIX)
    script = localstack_script(spec)
    assert f"sns create-topic --name {spec.topic.name} " in script
    for queue in spec.static_queues:
        assert f"sqs create-queue --queue-name {queue.name} " in script
        if queue.dead_letter_queue:
            assert f':{queue.dead_letter_queue}\\",\\"maxReceiveCount\\":5}}' in script
    subscribed = [q for q in spec.static_queues if q.subscribed]
    assert script.count("awslocal sns subscribe ") == len(subscribed)
    for queue in subscribed:
        assert f'--notification-endpoint "${{sqs_arn_prefix}}":{queue.name} \\' in script
    for table in spec.tables:
        assert f"dynamodb create-table --table-name {table.name} " in script
        for index in table.indexes:
            assert f'"IndexName":"{index.name}"' in script
        if table.ttl_attribute:
            assert f"AttributeName={table.ttl_attribute}" in script
    assert f"s3api create-bucket --bucket {spec.bucket.name} " in script


def test_bash_accepts_the_script() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run([bash, "-n", str(CHECKED_IN)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
