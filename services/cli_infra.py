"""``toxic infra``: apply, show and clean the infrastructure spec."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError

from services.cli_common import aws_settings, fail
from shared.errors import ConfigurationError
from shared.infra import InfraSpec, ensure, gc, render_text, spec_as_dict, summarize
from shared.infra.localstack import SCRIPT_NAME, localstack_script
from shared.infra.replicas import DEFAULT_STALE_AFTER_SECONDS
from shared.settings import AwsSettings

if TYPE_CHECKING:
    from shared.aws import AwsClients

__all__ = ["infra_app"]

T = TypeVar("T")

infra_app = typer.Typer(
    help=(
        "The topic, queues, tables and bucket of a deployment, defined once in code."
        "\n\n"
        "Names come from the deployment prefix (TOXIC_PREFIX, default 'toxic'). The target is "
        "chosen by the standard AWS variables: AWS_ENDPOINT_URL=http://127.0.0.1:4566 for the "
        "embedded stand-in (`toxic emulator`) or LocalStack, nothing for real AWS."
    ),
    no_args_is_help=True,
)


def _spec(settings: AwsSettings) -> InfraSpec:
    try:
        return InfraSpec.for_prefix(settings.prefix)
    except ConfigurationError as error:
        raise fail(str(error)) from None


def _run(settings: AwsSettings, work: Callable[[AwsClients], Awaitable[T]]) -> T:
    """Open the clients, run ``work``, and turn AWS failures into one line and exit status 1."""
    # Imported here: aiobotocore takes a second to import, which `toxic --help` need not pay.
    from shared.aws import open_clients

    async def main() -> T:
        async with open_clients(settings) as clients:
            return await work(clients)

    try:
        return asyncio.run(main())
    except ConfigurationError as error:
        raise fail(str(error)) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        code, message = details.get("Code", "error"), details.get("Message", str(error))
        raise fail(f"AWS refused: {code}: {message}") from None
    except BotoCoreError as error:
        # Covers EndpointConnectionError, missing credentials, timeouts.
        raise fail(f"{error} (is AWS_ENDPOINT_URL right, and is the endpoint up?)") from None


# Help texts are single-line paragraphs: Typer keeps a docstring's line breaks when it rewraps.
_ENSURE_HELP = (
    "Create every missing resource and put back drifted settings; safe to run any time."
    "\n\n"
    "Prints one line per resource (created, updated, unchanged or drifted) and a summary; "
    "a second run says there is nothing to change. 'drifted' is a difference ensure does not "
    "fix in place, such as a changed index key: it is reported for a person to decide."
)
_GC_HELP = (
    "Remove the queues of API replicas that stopped without cleaning up."
    "\n\n"
    "Only per-replica API queues whose heartbeat tag is older than --stale-after are removed, "
    "with their subscriptions; consumer queues and dead-letter queues are never touched."
)


@infra_app.command("ensure", help=_ENSURE_HELP)
def ensure_command() -> None:
    settings = aws_settings()
    spec = _spec(settings)
    changes = _run(settings, lambda clients: ensure(clients, spec))
    for change in changes:
        typer.echo(str(change))
    typer.echo(summarize(changes))


@infra_app.command("show")
def show_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the spec as JSON instead of text.")
    ] = False,
) -> None:
    """Print what the deployment consists of (from the spec; AWS is not contacted)."""
    spec = _spec(aws_settings())
    if as_json:
        typer.echo(json.dumps(spec_as_dict(spec), indent=2))
    else:
        typer.echo(render_text(spec))


@infra_app.command("gc", help=_GC_HELP)
def gc_command(
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after",
            min=0,
            metavar="SECONDS",
            help="Remove replica queues whose last heartbeat is older than this.",
        ),
    ] = DEFAULT_STALE_AFTER_SECONDS,
) -> None:
    settings = aws_settings()
    spec = _spec(settings)
    removed = _run(settings, lambda clients: gc(clients, spec, stale_after))
    for name in removed:
        typer.echo(f"removed  queue  {name}")
    typer.echo(f"{len(removed)} stale replica queue(s) removed" if removed else "nothing to remove")


_LOCALSTACK_HELP = (
    "Print the LocalStack start script that builds the deployment with awslocal."
    "\n\n"
    "compose.yaml mounts localstack/init/ready.d into LocalStack, which runs the script once it "
    f"answers. The checked-in copy is localstack/init/ready.d/{SCRIPT_NAME}, generated for the "
    "default prefix; a unit test fails when it differs from this output."
)


@infra_app.command("localstack-script", help=_LOCALSTACK_HELP)
def localstack_script_command() -> None:
    typer.echo(localstack_script(_spec(aws_settings())), nl=False)
