"""aiobotocore clients, opened once per process and injected into adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from shared.settings import AwsSettings

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient

__all__ = ["AwsClients", "client_config", "open_clients"]


def client_config(*, max_attempts: int = 5, read_timeout: float = 60.0) -> AioConfig:
    """Client configuration: botocore's standard retry mode and room for concurrent calls."""
    return AioConfig(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=64,
        connect_timeout=5,
        read_timeout=read_timeout,
    )


@dataclass(frozen=True)
class AwsClients:
    """The four AWS clients a process uses."""

    sqs: SQSClient
    sns: SNSClient
    dynamodb: DynamoDBClient
    s3: S3Client


@asynccontextmanager
async def open_clients(settings: AwsSettings) -> AsyncIterator[AwsClients]:
    """Open every client once for the life of the process and close them together."""
    session = get_session()
    config = client_config(max_attempts=settings.max_attempts)
    credentials = settings.credentials()

    region = settings.region
    endpoint = settings.endpoint_for

    async with AsyncExitStack() as stack:
        enter = stack.enter_async_context
        yield AwsClients(
            sqs=await enter(
                session.create_client(
                    "sqs", region, endpoint_url=endpoint("sqs"), config=config, **credentials
                )
            ),
            sns=await enter(
                session.create_client(
                    "sns", region, endpoint_url=endpoint("sns"), config=config, **credentials
                )
            ),
            dynamodb=await enter(
                session.create_client(
                    "dynamodb",
                    region,
                    endpoint_url=endpoint("dynamodb"),
                    config=config,
                    **credentials,
                )
            ),
            s3=await enter(
                session.create_client(
                    "s3", region, endpoint_url=endpoint("s3"), config=config, **credentials
                )
            ),
        )
