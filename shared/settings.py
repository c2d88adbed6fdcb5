"""Validated settings. Each service has its own class; all share :class:`AwsSettings`.

Nothing here builds an instance at import time: a process constructs its settings once in its
entrypoint and passes them down.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, TypedDict
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AwsService",
    "AwsSettings",
    "ConsumerSettings",
    "Credentials",
    "EmulatorSettings",
    "is_loopback_url",
]

AwsService = Literal["sqs", "sns", "dynamodb", "s3"]

# A deployment prefix ends up in queue, topic, table and bucket names: keep it valid for all four.
_PREFIX_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
# moto and LocalStack accept any credentials; these are only ever used against a loopback endpoint.
_LOCAL_CREDENTIAL = "test"


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (or at a compose service named localstack)."""
    host = urlsplit(url).hostname or ""
    if host in {"localhost", "localstack", "moto"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Credentials(TypedDict, total=False):
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str


class AwsSettings(BaseSettings):
    """Where AWS is: real AWS by default; moto or LocalStack through the endpoint variables."""

    model_config = SettingsConfigDict(
        env_prefix="TOXIC_",
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    prefix: str = Field(
        default="toxic",
        pattern=_PREFIX_PATTERN,
        description="Deployment prefix of every topic, queue, table and bucket name.",
    )
    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION", "TOXIC_REGION"),
    )
    endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL", "TOXIC_ENDPOINT_URL")
    )
    endpoint_url_sqs: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL_SQS")
    endpoint_url_sns: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL_SNS")
    endpoint_url_dynamodb: str | None = Field(
        default=None, validation_alias="AWS_ENDPOINT_URL_DYNAMODB"
    )
    endpoint_url_s3: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL_S3")
    access_key_id: SecretStr | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )
    session_token: SecretStr | None = Field(default=None, validation_alias="AWS_SESSION_TOKEN")
    max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        validation_alias=AliasChoices("AWS_MAX_ATTEMPTS", "TOXIC_MAX_ATTEMPTS"),
        description="Attempts per AWS call, first included (botocore's standard retry mode).",
    )

    @field_validator(
        "endpoint_url",
        "endpoint_url_sqs",
        "endpoint_url_sns",
        "endpoint_url_dynamodb",
        "endpoint_url_s3",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).hostname:
            raise ValueError(f"endpoint must be an http(s) URL with a host, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> AwsSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        return self

    def endpoint_for(self, service: AwsService) -> str | None:
        """The service's own endpoint variable wins over ``AWS_ENDPOINT_URL``, as in botocore."""
        specific: str | None = getattr(self, f"endpoint_url_{service}")
        return specific or self.endpoint_url

    @property
    def is_local(self) -> bool:
        """True when every endpoint in use is on this machine (moto or LocalStack)."""
        endpoints = [self.endpoint_for(s) for s in ("sqs", "sns", "dynamodb", "s3")]
        return all(e is not None and is_loopback_url(e) for e in endpoints)

    def credentials(self) -> Credentials:
        """Explicit credentials for the client, or none (the default AWS chain decides)."""
        if self.access_key_id is not None and self.secret_access_key is not None:
            creds: Credentials = {
                "aws_access_key_id": self.access_key_id.get_secret_value(),
                "aws_secret_access_key": self.secret_access_key.get_secret_value(),
            }
            if self.session_token is not None:
                creds["aws_session_token"] = self.session_token.get_secret_value()
            return creds
        if self.is_local:
            return {
                "aws_access_key_id": _LOCAL_CREDENTIAL,
                "aws_secret_access_key": _LOCAL_CREDENTIAL,
            }
        return {}


class ConsumerSettings(AwsSettings):
    """Settings every SQS consumer shares; each worker's own class extends it."""

    concurrency: int = Field(default=16, ge=1, le=256, description="Handlers running at once.")
    wait_time_seconds: int = Field(default=20, ge=0, le=20, description="SQS long-poll wait.")
    visibility_timeout_seconds: int | None = Field(
        default=None,
        ge=5,
        le=43_200,
        description="How long a received message stays hidden (default: the queue's own).",
    )
    shutdown_grace_seconds: float = Field(
        default=60.0, gt=0, description="How long a stop waits for in-flight handlers."
    )
    instance: str | None = Field(
        default=None, description="Instance name in event sources and logs (default: host-pid)."
    )


class EmulatorSettings(BaseSettings):
    """The embedded AWS stand-in (moto's server)."""

    model_config = SettingsConfigDict(env_prefix="TOXIC_EMULATOR_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=4566, ge=1, le=65_535)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
