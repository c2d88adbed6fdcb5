"""``toxic status``: queue depths, the champion model and the health of what ``toxic up`` runs.

It reads the deployment through the AWS variables and finds the HTTP services where ``toxic up``
puts them (the same settings: TOXIC_PORT, TOXIC_FRONTEND_PORT, ...). Consumers have no port:
their queues' depths say whether they keep up.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from services.cli_common import aws_settings, fail
from shared.artifacts import ArtifactStore, ChampionPointer
from shared.errors import NotFoundError
from shared.infra import InfraSpec

if TYPE_CHECKING:
    from shared.aws import AwsClients

__all__ = ["Depth", "Health", "check_health", "queue_depths", "status_command"]


@dataclass(frozen=True)
class Depth:
    """One queue's messages: ready to receive, received but not deleted, not yet due."""

    queue: str
    visible: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class Health:
    name: str
    url: str
    state: str  # "ready", "not ready", "down"
    detail: str


async def queue_depths(clients: AwsClients, spec: InfraSpec) -> list[Depth]:
    """Every queue of the deployment (work queues, DLQs, live replica queues), by name."""
    listed = await clients.sqs.list_queues(QueueNamePrefix=f"{spec.prefix}-")
    depths = []
    for url in listed.get("QueueUrls", []):
        attributes = (
            await clients.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        )["Attributes"]
        depths.append(
            Depth(
                queue=url.rsplit("/", 1)[-1],
                visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
            )
        )
    return sorted(depths, key=lambda depth: depth.queue)


async def champion(clients: AwsClients, spec: InfraSpec) -> ChampionPointer | None:
    try:
        read = await ArtifactStore(clients.s3, spec.bucket.name).read_champion()
    except NotFoundError:
        return None
    return read.pointer


def check_health(name: str, url: str, timeout: float = 2.0) -> Health:
    """GET ``url``: 200 is ready; another answer is not ready (with what it said); none is down."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = response.read(2_000).decode(errors="replace")
            return Health(name, url, "ready", _summary(body))
    except urllib.error.HTTPError as exc:
        body = exc.read(2_000).decode(errors="replace")
        return Health(name, url, "not ready", f"HTTP {exc.code} {_summary(body)}".strip())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Health(name, url, "down", str(reason))


def _summary(body: str) -> str:
    """The API's readiness fields that matter to a person; other bodies as they are, short."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.strip()[:60]
    if isinstance(data, dict) and "model_loaded" in data:
        parts = [f"model {data.get('model_version')}" if data.get("model_loaded") else "no model"]
        parts.append(f"outbox {data.get('outbox_depth')}/{data.get('outbox_capacity')}")
        if not data.get("bus_reachable", True):
            parts.append("bus unreachable")
        return ", ".join(parts)
    return json.dumps(data)[:60]


def _endpoints() -> list[tuple[str, str]]:
    from services.up.settings import UpSettings

    up = UpSettings()
    return [
        ("api", f"{up.url(up.api_port)}/readyz"),
        ("frontend", f"{up.url(up.frontend_port)}/_stcore/health"),
        ("dashboard", f"{up.url(up.dashboard_port)}/_stcore/health"),
        ("mlflow", f"{up.url(up.mlflow_port)}/health"),
    ]


def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print queue depths (visible, in flight, delayed), the champion and each service's health."""
    settings = aws_settings()
    spec = InfraSpec.for_prefix(settings.prefix)
    # Imported here: aiobotocore takes a second to import, which `toxic --help` need not pay.
    from shared.aws import open_clients

    async def read() -> tuple[list[Depth], ChampionPointer | None, list[Health]]:
        async with open_clients(settings) as clients:
            depths, pointer = await asyncio.gather(
                queue_depths(clients, spec), champion(clients, spec)
            )
        checks = [asyncio.to_thread(check_health, name, url) for name, url in _endpoints()]
        return depths, pointer, list(await asyncio.gather(*checks))

    try:
        depths, pointer, health = asyncio.run(read())
    except ClientError as error:
        details = error.response.get("Error", {})
        raise fail(f"AWS refused: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise fail(f"{error} (is AWS_ENDPOINT_URL right, and is `toxic up` running?)") from None

    if as_json:
        document = {
            "queues": [vars(depth) for depth in depths],
            "champion": pointer.model_dump(mode="json") if pointer else None,
            "services": [vars(h) for h in health],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    if pointer is None:
        typer.echo("champion: none published yet (`toxic train` publishes one)")
    else:
        typer.echo(
            f"champion: {pointer.model_name} version {pointer.model_version} "
            f"(since {pointer.updated_at:%Y-%m-%d %H:%M:%SZ})"
        )
    typer.echo("")
    width = max([len(d.queue) for d in depths] + [5])
    typer.echo(f"{'QUEUE':<{width}} {'VISIBLE':>8} {'IN FLIGHT':>9} {'DELAYED':>8}")
    for depth in depths:
        typer.echo(
            f"{depth.queue:<{width}} {depth.visible:>8} {depth.in_flight:>9} {depth.delayed:>8}"
        )
    if not depths:
        typer.echo(f"(no queues named {spec.prefix}-*: run `toxic infra ensure` or `toxic up`)")
    typer.echo("")
    typer.echo(f"{'SERVICE':<10} {'STATE':<10} {'URL':<42} DETAIL")
    for h in health:
        typer.echo(f"{h.name:<10} {h.state:<10} {h.url:<42} {h.detail}")
    typer.echo("logger, monitoring and training have no port: their queue depths show how they do")
