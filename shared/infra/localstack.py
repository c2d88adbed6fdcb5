"""The spec as a LocalStack start script: ``awslocal`` calls that build the same resources.

LocalStack runs every executable script in ``/etc/localstack/init/ready.d`` once it answers, so
``docker compose up`` finds the topology in place before anything else starts. The script is
generated from the spec (``toxic infra localstack-script``) and checked in; a unit test fails
when the two differ. ``toxic infra ensure`` still runs after it in compose: it is the authority,
and it reports any difference the script left.

AWS names the queue and topic ARNs the JSON attributes refer to only once they exist, so the
script reads the partition, region and account from the topic ARN LocalStack returns and builds
the queue ARNs in shell; everything else is spelled out literally from the spec.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Final

from shared.infra.resources import KeyAttribute, QueueSpec, TableSpec, queue_policy
from shared.infra.spec import InfraSpec

__all__ = ["SCRIPT_NAME", "localstack_script"]

SCRIPT_NAME: Final = "10-toxic-infra.sh"

# Placeholders for ARNs only the running LocalStack knows; each becomes a shell variable.
_SQS_ARN_PREFIX: Final = "@SQS_ARN_PREFIX@"
_TOPIC_ARN: Final = "@TOPIC_ARN@"
_SHELL_VARIABLES: Final = {_SQS_ARN_PREFIX: "sqs_arn_prefix", _TOPIC_ARN: "topic_arn"}
_PLACEHOLDER: Final = re.compile("(" + "|".join(map(re.escape, _SHELL_VARIABLES)) + ")")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _shell_word(text: str) -> str:
    """One shell word for ``text``: literal parts single-quoted, placeholders as "${variable}"."""
    parts = []
    for piece in _PLACEHOLDER.split(text):
        if piece in _SHELL_VARIABLES:
            parts.append(f'"${{{_SHELL_VARIABLES[piece]}}}"')
        elif piece:
            parts.append(shlex.quote(piece))
    return "".join(parts) or "''"


def _queue_arn(name: str) -> str:
    return f"{_SQS_ARN_PREFIX}:{name}"


def _queue_lines(queue: QueueSpec) -> list[str]:
    dead_letter = _queue_arn(queue.dead_letter_queue) if queue.dead_letter_queue else None
    policy = queue_policy(_queue_arn(queue.name), _TOPIC_ARN) if queue.subscribed else None
    attributes = queue.attributes(dead_letter_arn=dead_letter, policy=policy)
    return [
        f"# {queue.description}",
        f"awslocal sqs create-queue --queue-name {shlex.quote(queue.name)} \\",
        f"    --attributes {_shell_word(_compact(attributes))} >/dev/null",
    ]


def _subscription_lines(queue: QueueSpec) -> list[str]:
    return [
        'awslocal sns subscribe --topic-arn "${topic_arn}" --protocol sqs \\',
        f"    --notification-endpoint {_shell_word(_queue_arn(queue.name))} \\",
        f"    --attributes {_shell_word(_compact(queue.subscription_attributes()))} >/dev/null",
    ]


def _key_schema(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _table_lines(table: TableSpec) -> list[str]:
    name = shlex.quote(table.name)
    definitions = [
        {"AttributeName": a.name, "AttributeType": a.type} for a in table.attribute_definitions
    ]
    create = [
        f"    awslocal dynamodb create-table --table-name {name} --billing-mode PAY_PER_REQUEST \\",
        f"        --attribute-definitions {shlex.quote(_compact(definitions))} \\",
        "        --key-schema "
        + shlex.quote(_compact(_key_schema(table.hash_key, table.range_key)))
        + " \\",
    ]
    if table.indexes:
        indexes = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.hash_key, index.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in table.indexes
        ]
        create.append(f"        --global-secondary-indexes {shlex.quote(_compact(indexes))} \\")
    create[-1] = create[-1].removesuffix(" \\") + " >/dev/null"
    if table.ttl_attribute is not None:
        # TTL can be set only on an ACTIVE table; a new one has it disabled.
        spec = shlex.quote(f"Enabled=true,AttributeName={table.ttl_attribute}")
        create.extend(
            [
                f"    awslocal dynamodb wait table-exists --table-name {name}",
                f"    awslocal dynamodb update-time-to-live --table-name {name} \\",
                f"        --time-to-live-specification {spec} >/dev/null",
            ]
        )
    # An existing table is left as it is: `toxic infra ensure` reports any difference.
    return [
        f"# {table.description}",
        f"if ! awslocal dynamodb describe-table --table-name {name} >/dev/null 2>&1; then",
        *create,
        "fi",
    ]


_HEADER: Final = """\
#!/usr/bin/env bash
# GENERATED from the infrastructure spec (shared/infra/spec.py) for deployment prefix {prefix!r}.
# Do not edit; regenerate with:
#   uv run toxic infra localstack-script > localstack/init/ready.d/{script}
# LocalStack runs it once its services answer (init stage READY); `toxic infra ensure` runs after
# it in compose and reports anything it left different from the spec.
set -euo pipefail

echo "toxic: creating the {prefix!r} deployment"
"""


def localstack_script(spec: InfraSpec) -> str:
    """A bash script creating every resource of ``spec`` in LocalStack; safe to run twice."""
    topic = shlex.quote(spec.topic.name)
    lines = [
        _HEADER.format(prefix=spec.prefix, script=SCRIPT_NAME),
        "# The topic every event is published to. Its ARN tells the partition, region and",
        "# account, from which the queue ARNs below are built.",
        f"topic_arn=$(awslocal sns create-topic --name {topic} --query TopicArn --output text)",
        'IFS=: read -r _ partition _ region account _ <<<"${topic_arn}"',
        'sqs_arn_prefix="arn:${partition}:sqs:${region}:${account}"',
        "",
        "# Queues, dead-letter queues first: the others redrive to them.",
    ]
    for queue in spec.static_queues:
        lines.extend(_queue_lines(queue))
    lines.extend(["", "# Subscriptions: raw delivery, filtered on the event_type attribute."])
    for queue in spec.static_queues:
        if queue.subscribed:
            lines.extend(_subscription_lines(queue))
    lines.extend(["", "# Tables, billed per request."])
    for table in spec.tables:
        lines.extend(_table_lines(table))
    bucket = shlex.quote(spec.bucket.name)
    lines.extend(
        [
            "",
            "# The bucket; us-east-1 is the one region that refuses a LocationConstraint.",
            f"if ! awslocal s3api head-bucket --bucket {bucket} >/dev/null 2>&1; then",
            '    if [ "${region}" = us-east-1 ]; then',
            f"        awslocal s3api create-bucket --bucket {bucket} >/dev/null",
            "    else",
            f"        awslocal s3api create-bucket --bucket {bucket} \\",
            '            --create-bucket-configuration "LocationConstraint=${region}" >/dev/null',
            "    fi",
            "fi",
            "",
            f'echo "toxic: the {spec.prefix!r} deployment is in place"',
        ]
    )
    return "\n".join(lines) + "\n"
