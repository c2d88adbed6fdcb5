"""Idempotent steps for the DynamoDB tables (keys, indexes, TTL) and the S3 bucket."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from shared.errors import ConfigurationError
from shared.infra.changes import Action, Change
from shared.infra.resources import BucketSpec, IndexSpec, KeyAttribute, TableSpec

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
        KeySchemaElementTypeDef,
        TableDescriptionTypeDef,
    )
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType

__all__ = ["ensure_bucket", "ensure_table"]

# How long ensure waits for a new table or index to become ACTIVE on AWS (moto is immediate).
_ACTIVE_TIMEOUT_SECONDS = 600.0
_POLL_SECONDS = 2.0


def _key_schema(
    hash_key: KeyAttribute, range_key: KeyAttribute | None
) -> list[KeySchemaElementTypeDef]:
    schema: list[KeySchemaElementTypeDef] = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def _definitions(attributes: tuple[KeyAttribute, ...]) -> list[AttributeDefinitionTypeDef]:
    return [{"AttributeName": a.name, "AttributeType": a.type} for a in attributes]


def _index(index: IndexSpec) -> GlobalSecondaryIndexTypeDef:
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.hash_key, index.range_key),
        "Projection": {"ProjectionType": "ALL"},
    }


async def _describe(dynamodb: DynamoDBClient, name: str) -> TableDescriptionTypeDef | None:
    try:
        return (await dynamodb.describe_table(TableName=name))["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return None


async def _wait_active(dynamodb: DynamoDBClient, name: str) -> None:
    """Wait until the table and every index on it are ACTIVE."""
    deadline = time.monotonic() + _ACTIVE_TIMEOUT_SECONDS
    while True:
        table = await _describe(dynamodb, name)
        indexes = table.get("GlobalSecondaryIndexes", []) if table else []
        if (
            table is not None
            and table.get("TableStatus") == "ACTIVE"
            and all(i.get("IndexStatus") == "ACTIVE" for i in indexes)
        ):
            return
        if time.monotonic() > deadline:
            raise ConfigurationError(f"table {name} did not become ACTIVE in time")
        await asyncio.sleep(_POLL_SECONDS)


def _pairs(schema: list[KeySchemaElementTypeDef]) -> list[tuple[str, str]]:
    return [(element["AttributeName"], element["KeyType"]) for element in schema]


async def _ensure_indexes(
    dynamodb: DynamoDBClient, table: TableSpec, current: TableDescriptionTypeDef
) -> list[Change]:
    changes: list[Change] = []
    existing = {i.get("IndexName", ""): i for i in current.get("GlobalSecondaryIndexes", [])}
    for index in table.indexes:
        name = f"{table.name}/{index.name}"
        found = existing.pop(index.name, None)
        if found is None:
            # Adding an index is safe in place; AWS allows one index creation per update.
            await dynamodb.update_table(
                TableName=table.name,
                # Only the new index's keys: AWS refuses definitions no key uses.
                AttributeDefinitions=_definitions(index.key_attributes),
                GlobalSecondaryIndexUpdates=[{"Create": _index(index)}],
            )
            await _wait_active(dynamodb, table.name)
            changes.append(Change("index", name, Action.CREATED))
            continue
        projection = found.get("Projection", {}).get("ProjectionType")
        wanted = _pairs(_key_schema(index.hash_key, index.range_key))
        if _pairs(found.get("KeySchema", [])) != wanted:
            detail = f"key is {_pairs(found.get('KeySchema', []))}, spec says {wanted}"
            changes.append(Change("index", name, Action.DRIFTED, detail))
        elif projection != "ALL":
            changes.append(Change("index", name, Action.DRIFTED, f"projects {projection}, not ALL"))
        else:
            changes.append(Change("index", name, Action.UNCHANGED))
    for extra in sorted(existing):
        detail = "not in the spec; left in place"
        changes.append(Change("index", f"{table.name}/{extra}", Action.DRIFTED, detail))
    return changes


async def _ensure_ttl(dynamodb: DynamoDBClient, table: TableSpec) -> Change | None:
    if table.ttl_attribute is None:
        return None
    ttl = (await dynamodb.describe_time_to_live(TableName=table.name))["TimeToLiveDescription"]
    status, attribute = ttl.get("TimeToLiveStatus", "DISABLED"), ttl.get("AttributeName")
    if status in {"ENABLED", "ENABLING"} and attribute == table.ttl_attribute:
        return Change("ttl", table.name, Action.UNCHANGED, table.ttl_attribute)
    if status == "DISABLED":
        await dynamodb.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
        return Change("ttl", table.name, Action.CREATED, f"expires on {table.ttl_attribute}")
    # AWS allows one TTL change per hour and none while one is in progress: leave it to a person.
    detail = f"TTL is {status} on {attribute}, spec says {table.ttl_attribute}"
    return Change("ttl", table.name, Action.DRIFTED, detail)


async def ensure_table(dynamodb: DynamoDBClient, table: TableSpec) -> list[Change]:
    """Create the table with its indexes and TTL, or check them and fix what is safe to fix."""
    changes: list[Change] = []
    current = await _describe(dynamodb, table.name)
    if current is None:
        request: CreateTableInputTypeDef = {
            "TableName": table.name,
            "AttributeDefinitions": _definitions(table.attribute_definitions),
            "KeySchema": _key_schema(table.hash_key, table.range_key),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if table.indexes:
            request["GlobalSecondaryIndexes"] = [_index(index) for index in table.indexes]
        await dynamodb.create_table(**request)
        await _wait_active(dynamodb, table.name)
        changes.append(Change("table", table.name, Action.CREATED))
        changes.extend(
            Change("index", f"{table.name}/{index.name}", Action.CREATED) for index in table.indexes
        )
    else:
        problems: list[str] = []
        key = _pairs(current.get("KeySchema", []))
        if key != _pairs(_key_schema(table.hash_key, table.range_key)):
            problems.append(f"key is {key}, spec says {table.key_attributes}")
        billing = current.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if billing != "PAY_PER_REQUEST":
            problems.append(f"billing is {billing}")
        action = Action.DRIFTED if problems else Action.UNCHANGED
        changes.append(Change("table", table.name, action, "; ".join(problems)))
        changes.extend(await _ensure_indexes(dynamodb, table, current))
    ttl = await _ensure_ttl(dynamodb, table)
    if ttl is not None:
        changes.append(ttl)
    return changes


async def ensure_bucket(s3: S3Client, bucket: BucketSpec) -> Change:
    """Create the bucket unless it exists and is ours."""
    try:
        await s3.head_bucket(Bucket=bucket.name)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in {"403", "AccessDenied", "Forbidden"}:
            raise ConfigurationError(
                f"bucket {bucket.name} exists but is not ours (bucket names are global on AWS:"
                " choose another TOXIC_PREFIX)"
            ) from error
        if code not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    else:
        return Change("bucket", bucket.name, Action.UNCHANGED)
    region = s3.meta.region_name
    if region == "us-east-1":  # the one region that refuses a LocationConstraint
        await s3.create_bucket(Bucket=bucket.name)
    else:
        constraint = cast("BucketLocationConstraintType", region)
        await s3.create_bucket(
            Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": constraint}
        )
    return Change("bucket", bucket.name, Action.CREATED)
