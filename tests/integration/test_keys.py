"""API keys in the real ``api-keys`` table on the stand-in, and `toxic keys` as a person runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.api.keys import (
    ApiKey,
    DuplicateKeyError,
    InvalidKeyError,
    KeyRing,
    Role,
    create_key,
    hash_secret,
)
from services.api.keystore import DynamoKeyStore
from shared.aws import AwsClients
from shared.errors import ConfigurationError, NotFoundError
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from tests.harness.ports import free_port
from tests.harness.processes import toxic_command

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CREATED = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def _table(spec: InfraSpec) -> str:
    return spec.table(ApiKey.TABLE).name


async def _scan(clients: AwsClients, table: str) -> list[dict[str, object]]:
    response = await clients.dynamodb.scan(TableName=table, ConsistentRead=True)
    return [dict(item) for item in response["Items"]]


# --- the DynamoDB store -----------------------------------------------------------------------


async def test_a_created_key_is_stored_by_its_sha256_and_read_back(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    store = DynamoKeyStore(clients.dynamodb, _table(deployment))

    secret = await create_key(store, Role.MODERATOR, "ops", now=lambda: CREATED)

    [item] = await _scan(clients, _table(deployment))
    assert item["key_hash"] == {"S": hashlib.sha256(secret.encode()).hexdigest()}
    assert secret not in repr(item)
    key = await store.get(hash_secret(secret))
    assert key is not None
    assert (key.role, key.name, key.created_at, key.revoked) == (
        Role.MODERATOR,
        "ops",
        CREATED,
        False,
    )
    assert await store.get(hash_secret("tox_never-made")) is None


async def test_the_table_refuses_a_second_key_with_the_same_hash(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    store = DynamoKeyStore(clients.dynamodb, _table(deployment))
    key = ApiKey(key_hash=hash_secret("tox_same"), role=Role.CLIENT, created_at=CREATED)
    await store.put(key)

    with pytest.raises(DuplicateKeyError):
        await store.put(key.model_copy(update={"role": Role.ADMIN}))

    assert await store.list() == [key]


async def test_revoking_keeps_the_first_time_and_an_unknown_hash_is_not_found(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    moments = (CREATED + timedelta(hours=hour) for hour in range(1, 100))
    store = DynamoKeyStore(clients.dynamodb, _table(deployment), now=lambda: next(moments))
    secret = await create_key(store, Role.CLIENT, now=lambda: CREATED)

    first = await store.revoke(hash_secret(secret))
    second = await store.revoke(hash_secret(secret))

    assert first.revoked_at == second.revoked_at == CREATED + timedelta(hours=1)
    assert (await store.get(hash_secret(secret))) == first
    with pytest.raises(NotFoundError):
        await store.revoke(hash_secret("tox_never-made"))
    assert len(await _scan(clients, _table(deployment))) == 1  # revoke created nothing


async def test_list_gives_every_key_oldest_first(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    store = DynamoKeyStore(clients.dynamodb, _table(deployment))
    for minute in reversed(range(30)):
        await store.put(
            ApiKey(
                key_hash=hash_secret(f"tox_{minute}"),
                role=Role.CLIENT,
                name=f"k{minute}",
                created_at=CREATED.replace(minute=minute),
            )
        )

    keys = await store.list()

    assert [key.name for key in keys] == [f"k{minute}" for minute in range(30)]


async def test_a_store_on_a_missing_table_says_to_run_infra_ensure(
    clients: AwsClients, aws_settings: AwsSettings
) -> None:
    spec = InfraSpec.for_prefix(aws_settings.prefix)  # not applied
    store = DynamoKeyStore(clients.dynamodb, _table(spec))

    with pytest.raises(ConfigurationError, match="toxic infra ensure"):
        await store.get(hash_secret("tox_x"))
    with pytest.raises(ConfigurationError, match="toxic infra ensure"):
        await store.list()


async def test_the_ring_over_dynamodb_refuses_a_key_revoked_in_the_table_after_the_ttl(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    store = DynamoKeyStore(clients.dynamodb, _table(deployment))
    now = [0.0]
    ring = KeyRing(store, ttl_seconds=30, clock=lambda: now[0])
    secret = await create_key(store, Role.ADMIN)
    assert (await ring.require(secret, Role.MODERATOR)).role is Role.ADMIN

    await store.revoke(hash_secret(secret))
    assert await ring.authenticate(secret) is not None  # cached
    now[0] = 31.0

    with pytest.raises(InvalidKeyError):
        await ring.authenticate(secret)


# --- toxic keys -------------------------------------------------------------------------------


def _toxic_keys(endpoint: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOXIC_"))}
    env.update(AWS_ENDPOINT_URL=endpoint, TOXIC_PREFIX=prefix, AWS_MAX_ATTEMPTS="2")
    return subprocess.run(
        toxic_command("keys", *args),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


async def test_toxic_keys_creates_lists_and_revokes_a_key_it_shows_only_once(
    clients: AwsClients, deployment: InfraSpec, aws_settings: AwsSettings
) -> None:
    endpoint, prefix = aws_settings.endpoint_url or "", aws_settings.prefix

    created = _toxic_keys(endpoint, prefix, "create", "--role", "moderator", "--name", "ops")

    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("tox_")
    assert "\n" not in secret
    assert "moderator" in created.stderr
    assert "not shown again" in created.stderr
    key_hash = hashlib.sha256(secret.encode()).hexdigest()
    [item] = await _scan(clients, _table(deployment))
    assert item["key_hash"] == {"S": key_hash}
    assert item["role"] == {"S": "moderator"}
    assert secret not in repr(item)

    listed = _toxic_keys(endpoint, prefix, "list")

    assert listed.returncode == 0, listed.stderr
    [header, row] = listed.stdout.strip().splitlines()
    assert header.split() == ["HASH", "ROLE", "CREATED", "REVOKED", "NAME"]
    assert row.split()[:2] == [key_hash[:12], "moderator"]
    assert row.split()[-2:] == ["-", "ops"]
    assert secret not in listed.stdout

    revoked = _toxic_keys(endpoint, prefix, "revoke", key_hash[:10])

    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith(f"revoked moderator key {key_hash[:12]}")
    stored = await DynamoKeyStore(clients.dynamodb, _table(deployment)).get(key_hash)
    assert stored is not None
    assert stored.revoked
    relisted = _toxic_keys(endpoint, prefix, "list").stdout.strip().splitlines()
    assert "-" not in relisted[1].split()  # the revoked column has a date now


async def test_toxic_keys_revoke_takes_the_secret_itself(
    clients: AwsClients, deployment: InfraSpec, aws_settings: AwsSettings
) -> None:
    store = DynamoKeyStore(clients.dynamodb, _table(deployment))
    secret = await create_key(store, Role.CLIENT)

    result = _toxic_keys(aws_settings.endpoint_url or "", aws_settings.prefix, "revoke", secret)

    assert result.returncode == 0, result.stderr
    stored = await store.get(hash_secret(secret))
    assert stored is not None
    assert stored.revoked


def test_toxic_keys_without_the_table_says_to_run_infra_ensure(
    aws_settings: AwsSettings,
) -> None:
    result = _toxic_keys(
        aws_settings.endpoint_url or "", aws_settings.prefix, "create", "--role", "client"
    )

    assert result.returncode == 1
    assert result.stdout == ""  # no secret is printed for a key that was not stored
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: table {aws_settings.prefix}-api-keys does not exist: "
        "run `toxic infra ensure` first"
    ]


def test_toxic_keys_says_in_one_line_when_the_endpoint_is_unreachable() -> None:
    result = _toxic_keys(f"http://127.0.0.1:{free_port()}", "unreachable", "list")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: DynamoDB is unreachable")
    assert "AWS_ENDPOINT_URL" in line
