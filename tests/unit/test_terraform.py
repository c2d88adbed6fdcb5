"""terraform/: formatted, passing checkov, and the same topology as the infrastructure spec.

No provider can be downloaded here, so `terraform validate` cannot run; the HCL is parsed with
python-hcl2 instead and compared with ``InfraSpec.for_prefix(<the prefix variable's default>)``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from contracts.topology import EVENT_TYPE_ATTRIBUTE
from services.cli import SERVICES
from shared.infra import InfraSpec
from shared.infra.spec import DLQ_RETENTION_SECONDS, MAX_RECEIVE_COUNT
from tests.unit.deploy_settings import environment_names, service_settings

pytestmark = pytest.mark.unit

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
CHECKOV = "checkov==3.3.30"


def _text(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals (and of block labels): drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items() if k != "__is_block__"}
    return value


@pytest.fixture(scope="module")
def hcl() -> dict[str, Any]:
    """Every .tf file parsed, blocks of one kind merged: resource[type][name], locals, variable."""
    merged: dict[str, Any] = {"resource": {}, "data": {}, "locals": {}, "variable": {}}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed = _text(hcl2.load(handle))
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
        for block in parsed.get("variable", []):
            merged["variable"].update(block)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for type_name, named in block.items():
                    merged[kind].setdefault(type_name, {}).update(named)
    return merged


@pytest.fixture(scope="module")
def prefix(hcl: dict[str, Any]) -> str:
    default: str = hcl["variable"]["prefix"]["default"]
    return default


@pytest.fixture(scope="module")
def spec(prefix: str) -> InfraSpec:
    return InfraSpec.for_prefix(prefix)


@pytest.fixture(scope="module")
def local(hcl: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The locals with ``${var.prefix}`` replaced by the prefix variable's default."""
    text = json.dumps(hcl["locals"]).replace("${var.prefix}", prefix)
    resolved: dict[str, Any] = json.loads(text)
    return resolved


def _resource(hcl: dict[str, Any], type_name: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = hcl["resource"][type_name][name]
    return found


def _block(value: Any) -> dict[str, Any]:
    """A nested block: python-hcl2 gives a list of one dict."""
    assert isinstance(value, list), value
    assert len(value) == 1, value
    block: dict[str, Any] = value[0]
    return block


def _dynamic(resource: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``content`` of the ``dynamic "<name>"`` block of a resource."""
    for block in resource["dynamic"]:
        if name in block:
            content: dict[str, Any] = _block(block[name]["content"])
            return content
    raise AssertionError(f"no dynamic {name} block")


def test_terraform_files_are_formatted() -> None:
    binary = shutil.which("terraform")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("terraform is missing in CI")
        pytest.skip("terraform is not installed")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"not formatted: {result.stdout}{result.stderr}"


@pytest.mark.timeout(900)
def test_checkov_finds_nothing_and_every_skip_says_why() -> None:
    skips = []
    for path in TERRAFORM.glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                skips.append((path.name, line.strip()))
                reason = line.split("checkov:skip=", 1)[1].partition(":")[2].strip()
                assert len(reason) > 20, f"{path.name}: skip without a reason: {line.strip()}"
    assert skips, "expected the justified skips to be found"

    uvx = shutil.which("uvx") or str(Path.home() / ".local" / "bin" / "uvx")
    if not Path(uvx).exists():
        pytest.skip("uvx is not installed: checkov runs outside the project's lock with it")
    # --skip-download: checkov would otherwise ask Prisma Cloud for guidelines on every run.
    result = subprocess.run(
        [uvx, CHECKOV, "-d", str(TERRAFORM), "--compact", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=840,
    )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counts = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", report)
    assert counts is not None, report
    passed, failed, skipped = map(int, counts.groups())
    assert failed == 0, report
    assert passed > 100, report
    assert skipped == len(skips), f"checkov skipped {skipped} checks, the files justify {skips}"


def test_names_agree_with_the_spec(local: dict[str, Any], spec: InfraSpec) -> None:
    assert local["topic_name"] == spec.topic.name
    assert local["bucket_name"] == spec.bucket.name
    assert local["max_receive_count"] == MAX_RECEIVE_COUNT
    assert local["dlq_retention_seconds"] == DLQ_RETENTION_SECONDS
    assert local["api_dead_letter_queue"] == spec.api_dead_letter_queue.name
    assert local["replica_queue_prefix"] == spec.replica_queue_prefix
    replica = spec.replica_queue("any")
    assert sorted(local["replica_event_types"]) == sorted(replica.event_types)


def test_queues_and_dead_letter_queues_agree_with_the_spec(
    local: dict[str, Any], spec: InfraSpec
) -> None:
    consumers = local["consumers"]
    work = [q for q in spec.static_queues if q.subscribed]
    assert sorted(consumers) == sorted(q.role for q in work)
    names = {local["api_dead_letter_queue"]}
    for queue in work:
        mine = consumers[queue.role]
        assert mine["queue"] == queue.name
        assert mine["dead_letter_queue"] == queue.dead_letter_queue
        assert mine["visibility_timeout_seconds"] == queue.visibility_timeout_seconds
        assert local["retention_seconds"] == queue.retention_seconds
        assert queue.max_receive_count == local["max_receive_count"]
        names.update({mine["queue"], mine["dead_letter_queue"]})
    assert names == {q.name for q in spec.static_queues}
    for queue in spec.static_queues:
        if not queue.subscribed:
            assert queue.retention_seconds == local["dlq_retention_seconds"]
            assert queue.visibility_timeout_seconds == local["default_visibility_seconds"]


def test_queues_redrive_to_their_dead_letter_queue_and_are_encrypted(hcl: dict[str, Any]) -> None:
    work = _resource(hcl, "aws_sqs_queue", "work")
    assert work["redrive_policy"] == (
        "${jsonencode({deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn, "
        "maxReceiveCount = local.max_receive_count})}"
    )
    dead_letter = _resource(hcl, "aws_sqs_queue", "dead_letter")
    assert "api = local.api_dead_letter_queue" in dead_letter["for_each"]
    assert "consumer.dead_letter_queue" in dead_letter["for_each"]
    assert dead_letter["message_retention_seconds"] == "${local.dlq_retention_seconds}"
    for queue in (work, dead_letter):
        assert queue["kms_master_key_id"] == "${aws_kms_key.main.arn}"


def test_subscriptions_deliver_raw_and_filter_as_the_spec(
    hcl: dict[str, Any], local: dict[str, Any], spec: InfraSpec
) -> None:
    subscription = _resource(hcl, "aws_sns_topic_subscription", "work")
    assert subscription["for_each"] == "${local.consumers}"
    assert subscription["protocol"] == "sqs"
    assert subscription["endpoint"] == "${aws_sqs_queue.work[each.key].arn}"
    # Terraform's jsonencode of {<attribute> = sort(event_types)}, as the spec's filter_policy.
    match = re.fullmatch(
        r"\$\{jsonencode\(\{(\w+) = sort\(each\.value\.event_types\)\}\)\}",
        subscription["filter_policy"],
    )
    assert match is not None, subscription["filter_policy"]
    for queue in spec.static_queues:
        if not queue.subscribed:
            continue
        wanted = queue.subscription_attributes()
        rendered = {match.group(1): sorted(local["consumers"][queue.role]["event_types"])}
        assert rendered == json.loads(wanted["FilterPolicy"]), queue.name
        assert subscription["raw_message_delivery"] is (wanted["RawMessageDelivery"] == "true")
        assert subscription["filter_policy_scope"] == wanted["FilterPolicyScope"]
    assert match.group(1) == EVENT_TYPE_ATTRIBUTE
    topic = _resource(hcl, "aws_sns_topic", "events")
    assert topic["name"] == "${local.topic_name}"


def test_tables_agree_with_the_spec(
    hcl: dict[str, Any], local: dict[str, Any], spec: InfraSpec, prefix: str
) -> None:
    tables = local["tables"]
    assert {f"{prefix}-{name}" for name in tables} == {t.name for t in spec.tables}
    for name, mine in tables.items():
        table = spec.table(name)
        assert mine["hash_key"] == table.hash_key.name, name
        assert mine["range_key"] == (table.range_key.name if table.range_key else None), name
        assert mine["ttl_attribute"] == table.ttl_attribute, name
        indexes = {
            index["name"]: (index["hash_key"], index["range_key"]) for index in mine["indexes"]
        }
        assert indexes == {
            index.name: (index.hash_key.name, index.range_key.name if index.range_key else None)
            for index in table.indexes
        }, name
        # Terraform declares every key attribute a string.
        assert {a.type for a in table.attribute_definitions} == {"S"}, name

    resource = _resource(hcl, "aws_dynamodb_table", "main")
    assert resource["name"] == "${var.prefix}-${each.key}"
    assert resource["billing_mode"] == "PAY_PER_REQUEST"
    assert _block(resource["point_in_time_recovery"]) == {"enabled": True}
    assert _block(resource["server_side_encryption"])["enabled"] is True
    assert _dynamic(resource, "global_secondary_index")["projection_type"] == "ALL"
    assert _dynamic(resource, "attribute")["type"] == "S"
    assert _dynamic(resource, "ttl") == {"enabled": True, "attribute_name": "${ttl.value}"}


def test_bucket_is_versioned_encrypted_and_private(hcl: dict[str, Any]) -> None:
    assert _resource(hcl, "aws_s3_bucket", "artifacts")["bucket"] == "${local.bucket_name}"
    versioning = _resource(hcl, "aws_s3_bucket_versioning", "artifacts")
    assert _block(versioning["versioning_configuration"])["status"] == "Enabled"
    encryption = _resource(hcl, "aws_s3_bucket_server_side_encryption_configuration", "artifacts")
    default = _block(_block(encryption["rule"])["apply_server_side_encryption_by_default"])
    assert default["sse_algorithm"] == "aws:kms"
    public = _resource(hcl, "aws_s3_bucket_public_access_block", "artifacts")
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls")
    assert all(public[flag] is True for flag in (*flags, "restrict_public_buckets"))


def test_database_password_is_generated_kept_in_secrets_manager_and_private(
    hcl: dict[str, Any],
) -> None:
    database = _resource(hcl, "aws_db_instance", "mlflow")
    assert database["password"] == "${random_password.database.result}"
    assert database["publicly_accessible"] is False
    assert database["storage_encrypted"] is True
    secret = _resource(hcl, "aws_secretsmanager_secret_version", "database")
    assert "random_password.database.result" in secret["secret_string"]
    ingress = _resource(hcl, "aws_vpc_security_group_ingress_rule", "database_from_mlflow")
    assert ingress["referenced_security_group_id"] == "${aws_security_group.mlflow.id}"


def test_every_service_runs_on_fargate_with_its_own_role(
    hcl: dict[str, Any], local: dict[str, Any]
) -> None:
    assert sorted(local["services"]) == sorted(SERVICES)
    definition = _resource(hcl, "aws_ecs_task_definition", "service")
    assert 'command   = ["serve", each.key]' in definition["container_definitions"] or (
        'command = ["serve", each.key]' in definition["container_definitions"]
    )
    assert definition["task_role_arn"] == "${aws_iam_role.task[each.key].arn}"
    assert _resource(hcl, "aws_iam_role", "task")["for_each"] == "${local.tasks}"
    assert sorted(local["http_services"]) == ["api", "dashboard", "frontend"]
    gc = _resource(hcl, "aws_ecs_task_definition", "gc")
    assert '["infra", "gc"]' in gc["container_definitions"]
    schedule = _resource(hcl, "aws_scheduler_schedule", "gc")
    assert _block(_block(schedule["target"])["ecs_parameters"])["task_definition_arn"] == (
        "${aws_ecs_task_definition.gc.arn}"
    )


def _task_environment(local: dict[str, Any], service: dict[str, Any]) -> dict[str, str]:
    """The variables a task sets: its own map, merged into the common one or not."""
    environment = service["environment"]
    if isinstance(environment, dict):
        return {name: str(value) for name, value in environment.items()}
    # An expression such as ${merge(local.common_environment, {NAME = "value", ...})}.
    found = dict(re.findall(r'([A-Z][A-Z0-9_]+) = "?([^",}]*)"?', environment))
    if "local.common_environment" in environment:
        found.update(local["common_environment"])
    return found


def test_every_toxic_variable_of_a_task_is_a_setting_of_its_service(
    local: dict[str, Any],
) -> None:
    for name, service in local["services"].items():
        settings = service_settings(name)
        known = environment_names(settings)
        environment = _task_environment(local, service)
        for variable in environment:
            if variable.startswith("TOXIC_"):
                assert variable in known, f"{name}: {variable} is not a setting"
        # A service reading AWS needs the region and the prefix; one that does not gets neither.
        reads_aws = "TOXIC_PREFIX" in known
        assert ("TOXIC_PREFIX" in environment) is reads_aws, name
        assert ("AWS_REGION" in environment) is reads_aws, name
    api = _task_environment(local, local["services"]["api"])
    assert local["http_services"]["api"]["port"] == int(api["TOXIC_PORT"])
    training = _task_environment(local, local["services"]["training"])
    assert "MLFLOW_TRACKING_URI" in training


def test_only_logger_and_monitoring_scale_on_queue_depth(
    hcl: dict[str, Any], local: dict[str, Any]
) -> None:
    assert local["scaled_consumers"] == '${toset(["logger", "monitoring"])}'
    policy = _resource(hcl, "aws_appautoscaling_policy", "consumer_backlog")
    assert "ApproximateNumberOfMessagesVisible" in json.dumps(policy)
    assert local["services"]["training"]["desired_count"] == 1


def test_the_api_may_manage_only_its_replica_queues(hcl: dict[str, Any]) -> None:
    api = hcl["data"]["aws_iam_policy_document"]["api"]
    statements = {s["sid"]: s for s in api["statement"]}
    own = statements["own-replica-queues"]
    assert own["resources"] == ["${local.replica_queues_arn}"]
    assert {"sqs:CreateQueue", "sqs:DeleteQueue"} <= set(re.findall(r"sqs:\w+", own["actions"]))
    subscribe = statements["subscribe-replica-queues"]
    assert "sns:Subscribe" in subscribe["actions"]
    arn = hcl["locals"]["replica_queues_arn"]
    assert arn.endswith(":${local.replica_queue_prefix}*")
