"""The DynamoDB lease against the stand-in: one holder at a time, expiry, renewal, release."""

from __future__ import annotations

import asyncio

import pytest

from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.lease import DynamoLease

pytestmark = pytest.mark.integration


@pytest.fixture
def table(deployment: InfraSpec) -> str:
    return deployment.table("leases").name


async def test_only_one_of_many_contenders_holds_the_lease(clients: AwsClients, table: str) -> None:
    leases = [DynamoLease(clients.dynamodb, table, "training", f"w{i}") for i in range(5)]

    won = await asyncio.gather(*(lease.acquire() for lease in leases))

    assert sum(won) == 1


async def test_a_released_lease_can_be_taken_by_another(clients: AwsClients, table: str) -> None:
    first = DynamoLease(clients.dynamodb, table, "training", "first")
    second = DynamoLease(clients.dynamodb, table, "training", "second")
    assert await first.acquire()
    assert not await second.acquire()

    await first.release()

    assert await second.acquire()
    assert not await first.renew()


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(
    clients: AwsClients, table: str
) -> None:
    dead = DynamoLease(clients.dynamodb, table, "training", "dead", ttl_seconds=1)
    alive = DynamoLease(clients.dynamodb, table, "training", "alive")
    assert await dead.acquire()

    await asyncio.sleep(1.2)

    assert await alive.acquire()
    assert not await dead.renew()
    await dead.release()  # not its lease any more: changes nothing
    assert await alive.renew()


async def test_the_holder_reacquires_and_renews_its_own_lease(
    clients: AwsClients, table: str
) -> None:
    lease = DynamoLease(clients.dynamodb, table, "training", "me")

    assert await lease.acquire()
    assert await lease.acquire()
    assert await lease.renew()
