"""``toxic keys``: create, list and revoke the API's keys in the deployment's ``api-keys`` table."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from services.api.keys import SECRET_PREFIX, ApiKey, KeyStore, Role, create_key, hash_secret
from services.api.keystore import DynamoKeyStore
from services.cli_common import aws_settings, fail
from shared.errors import NotFoundError, PlatformError, RetryableError
from shared.infra import InfraSpec

__all__ = ["create_key", "find_key", "keys_app"]

T = TypeVar("T")

_SHOWN_HASH_CHARS = 12
_MIN_PREFIX_CHARS = 8
_HEX_PREFIX = re.compile(r"[0-9a-f]+")
_UNREACHABLE_HINT = "is AWS_ENDPOINT_URL right, and is the endpoint up?"

keys_app = typer.Typer(
    help=(
        "The API's keys: each has a role (client, moderator, admin) and is stored only as its "
        "sha256."
        "\n\n"
        "A key's secret is printed once, when it is created. API replicas cache lookups for "
        "TOXIC_KEY_CACHE_SECONDS (30 s by default), so a revoked key stops working within that."
    ),
    no_args_is_help=True,
)


class KeyReferenceError(PlatformError):
    """A hash prefix that matches several keys, or is too short or not hex."""


def _run(work: Callable[[KeyStore], Awaitable[T]]) -> T:
    """Run ``work`` on the deployment's key table; every failure becomes one line and exit 1."""
    settings = aws_settings()
    # Imported here: aiobotocore takes a second to import, which `toxic --help` need not pay.
    from shared.aws import open_clients

    async def main() -> T:
        table = InfraSpec.for_prefix(settings.prefix).table(ApiKey.TABLE).name
        async with open_clients(settings) as clients:
            return await work(DynamoKeyStore(clients.dynamodb, table))

    try:
        return asyncio.run(main())
    except RetryableError as error:
        raise fail(f"{error} ({_UNREACHABLE_HINT})") from None
    except PlatformError as error:  # the table is missing, no such key, an ambiguous prefix
        raise fail(str(error)) from None
    except ValidationError as error:
        raise fail("; ".join(e["msg"] for e in error.errors())) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "error"), details.get("Message", str(error))
        raise fail(f"AWS refused: {code}: {message}") from None
    except BotoCoreError as error:
        raise fail(f"{error} ({_UNREACHABLE_HINT})") from None


async def find_key(store: KeyStore, reference: str) -> ApiKey:
    """The key a person means: by its secret, or by a unique prefix of its hash (8+ hex digits)."""
    if reference.startswith(SECRET_PREFIX):
        key = await store.get(hash_secret(reference))
        if key is None:
            raise NotFoundError("no key has this secret")
        return key
    prefix = reference.strip().lower()
    if len(prefix) < _MIN_PREFIX_CHARS or not _HEX_PREFIX.fullmatch(prefix):
        raise KeyReferenceError(
            f"give the key's secret or at least {_MIN_PREFIX_CHARS} hex digits of its hash "
            "(as `toxic keys list` shows)"
        )
    matches = [key for key in await store.list() if key.key_hash.startswith(prefix)]
    if not matches:
        raise NotFoundError(f"no key's hash starts with {prefix}")
    if len(matches) > 1:
        raise KeyReferenceError(f"{len(matches)} keys' hashes start with {prefix}: give more")
    return matches[0]


def _when(key: ApiKey) -> tuple[str, str]:
    created = key.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
    revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M:%SZ") if key.revoked_at else "-"
    return created, revoked


@keys_app.command("create")
def create_command(
    role: Annotated[
        Role, typer.Option("--role", case_sensitive=False, help="What the key may do.")
    ],
    name: Annotated[str, typer.Option("--name", help="A label for people, such as who has it.")] = (
        ""
    ),
) -> None:
    """Create a key and print its secret: the only time it is shown."""
    secret = _run(lambda store: create_key(store, role, name))
    typer.echo(secret)  # alone on stdout, so `KEY=$(toxic keys create ...)` works
    label = f" {name!r}" if name else ""
    typer.echo(
        f"created {role} key{label} (hash {hash_secret(secret)[:_SHOWN_HASH_CHARS]}); "
        "store the secret now: it is not shown again, only its sha256 is kept",
        err=True,
    )


@keys_app.command("list")
def list_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON with full hashes instead of a table.")
    ] = False,
) -> None:
    """List every key, oldest first: hash prefix, role, dates and name (never a secret)."""
    keys = _run(lambda store: store.list())
    if as_json:
        typer.echo(json.dumps([key.model_dump(mode="json") for key in keys], indent=2))
        return
    if not keys:
        typer.echo("no keys yet: create one with `toxic keys create --role ROLE`")
        return
    typer.echo(f"{'HASH':<13} {'ROLE':<10} {'CREATED':<21} {'REVOKED':<21} NAME")
    for key in keys:
        created, revoked = _when(key)
        typer.echo(
            f"{key.key_hash[:_SHOWN_HASH_CHARS]:<13} {key.role:<10} {created:<21} "
            f"{revoked:<21} {key.name}".rstrip()
        )


@keys_app.command("revoke")
def revoke_command(
    reference: Annotated[
        str,
        typer.Argument(
            metavar="HASH_PREFIX_OR_SECRET",
            help="The key's secret, or 8+ hex digits of its hash as `toxic keys list` shows.",
        ),
    ],
) -> None:
    """Revoke a key; API replicas refuse it once their cached lookup expires (30 s by default)."""

    async def revoke(store: KeyStore) -> tuple[ApiKey, bool]:
        key = await find_key(store, reference)
        return await store.revoke(key.key_hash), key.revoked

    key, already = _run(revoke)
    shown = key.key_hash[:_SHOWN_HASH_CHARS]
    _, revoked = _when(key)
    typer.echo(f"{'already revoked' if already else 'revoked'} {key.role} key {shown} at {revoked}")
