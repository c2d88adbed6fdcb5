"""``toxic dlq``: what the dead-letter queues hold and why, and sending it back.

A message reaches a DLQ two ways. The consumer moves a body that is not a valid contract (or
whose handler raised PoisonError) at once, with the reason in its ``dead_letter_reason``
attribute and the queue it came from in ``dead_letter_source``. SQS's redrive moves a message
that was received 5 times without being handled (its handler kept failing); such a message
carries no reason of its own: the service's ``handler_failed`` log lines say what failed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from botocore.exceptions import BotoCoreError, ClientError

from services.cli_common import aws_settings, fail
from shared.bus.sqs import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE
from shared.errors import ConfigurationError
from shared.infra import InfraSpec
from shared.infra.resources import MAX_RECEIVE_COUNT

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef, MessageTypeDef

    from shared.aws import AwsClients

__all__ = ["DeadLetter", "dlq_app", "list_dead_letters", "redrive", "resolve"]

T = TypeVar("T")

# How long a listed message stays hidden while the listing pages through the queue; each is made
# visible again right after, so a listing leaves the queue as it found it.
_LIST_HIDE_SECONDS = 30

dlq_app = typer.Typer(
    help=(
        "Dead-letter queues: list what they hold and why, and send it back to be handled again."
        "\n\n"
        "QUEUE is a consumer's role (logger, monitoring, training, api) or a queue's full name."
    ),
    no_args_is_help=True,
)


@dataclass(frozen=True)
class Queues:
    """A dead-letter queue and the work queue its messages came from (None for the API's)."""

    dead_letter: str
    source: str | None


def resolve(spec: InfraSpec, queue: str) -> Queues:
    """The DLQ a person means: by role, by work-queue name or by DLQ name."""
    if queue in ("api", spec.api_dead_letter_queue.name):
        return Queues(spec.api_dead_letter_queue.name, None)
    for work in spec.queues:
        if not work.subscribed or work.dead_letter_queue is None:
            continue
        if queue in (work.role, work.name, work.dead_letter_queue):
            return Queues(work.dead_letter_queue, work.name)
    roles = sorted({q.role for q in spec.queues} | {"api"})
    raise ConfigurationError(
        f"no dead-letter queue for {queue!r}; choose one of {', '.join(roles)}"
    )


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message as a person reads it."""

    message_id: str
    event_type: str
    event_id: str
    receives: int
    age_seconds: float
    reason: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _describe(message: MessageTypeDef, default_source: str | None, now: float) -> DeadLetter:
    attributes = {
        name: value.get("StringValue", "")
        for name, value in message.get("MessageAttributes", {}).items()
    }
    system = message.get("Attributes", {})
    body = message.get("Body", "")
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    fields = decoded if isinstance(decoded, dict) else {}
    # The listing's own receive is not one the consumer made.
    receives = max(0, int(system.get("ApproximateReceiveCount", "1")) - 1)
    reason = attributes.get(DEAD_LETTER_REASON) or (
        f"redriven by SQS after {MAX_RECEIVE_COUNT} receives unhandled "
        "(the service's handler_failed logs say why)"
    )
    sent = int(system.get("SentTimestamp", str(int(now * 1000)))) / 1000
    return DeadLetter(
        message_id=message["MessageId"],
        event_type=str(fields.get("event_type") or attributes.get("event_type") or "(not JSON)"),
        event_id=str(fields.get("event_id") or "-"),
        receives=receives,
        age_seconds=max(0.0, now - sent),
        reason=reason,
        source=attributes.get(DEAD_LETTER_SOURCE) or default_source or "-",
    )


async def _url(sqs: SQSClient, name: str) -> str:
    from shared.infra.messaging import find_queue

    url = await find_queue(sqs, name)
    if url is None:
        raise ConfigurationError(f"queue {name} does not exist; run `toxic infra ensure` first")
    return url


async def _receive(sqs: SQSClient, url: str, hide_seconds: int) -> list[MessageTypeDef]:
    response = await sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        VisibilityTimeout=hide_seconds,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return response.get("Messages", [])


async def list_dead_letters(
    clients: AwsClients, spec: InfraSpec, queue: str, limit: int = 100
) -> list[DeadLetter]:
    """Up to ``limit`` messages of the DLQ, oldest first; they stay in the queue, visible."""
    queues = resolve(spec, queue)
    url = await _url(clients.sqs, queues.dead_letter)
    seen: dict[str, MessageTypeDef] = {}
    try:
        while len(seen) < limit:
            batch = await _receive(clients.sqs, url, _LIST_HIDE_SECONDS)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = message
    finally:
        handles = [m["ReceiptHandle"] for m in seen.values()]
        for start in range(0, len(handles), 10):
            await clients.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )
    now = time.time()
    letters = [_describe(m, queues.source, now) for m in seen.values()]
    return sorted(letters, key=lambda letter: -letter.age_seconds)[:limit]


async def redrive(clients: AwsClients, spec: InfraSpec, queue: str) -> tuple[int, str]:
    """Move every message of the DLQ back to its work queue; returns how many and where."""
    queues = resolve(spec, queue)
    if queues.source is None:
        raise ConfigurationError(
            f"{queues.dead_letter} holds model announcements for API replicas, which read the "
            "champion pointer by themselves; there is nothing to send back"
        )
    dlq_url = await _url(clients.sqs, queues.dead_letter)
    work_url = await _url(clients.sqs, queues.source)
    moved = 0
    while batch := await _receive(clients.sqs, dlq_url, _LIST_HIDE_SECONDS):
        entries = []
        for i, message in enumerate(batch):
            attributes: dict[str, MessageAttributeValueTypeDef] = {
                name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
                for name, value in message.get("MessageAttributes", {}).items()
                if name not in (DEAD_LETTER_REASON, DEAD_LETTER_SOURCE) and "StringValue" in value
            }
            entries.append(
                {"Id": str(i), "MessageBody": message["Body"], "MessageAttributes": attributes}
            )
        sent = await clients.sqs.send_message_batch(QueueUrl=work_url, Entries=entries)  # type: ignore[arg-type]
        done = {entry["Id"] for entry in sent.get("Successful", [])}
        # Deleted only once sent: a failure in between leaves a copy in both, never none.
        delete = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(batch)
            if str(i) in done
        ]
        if delete:
            await clients.sqs.delete_message_batch(QueueUrl=dlq_url, Entries=delete)  # type: ignore[arg-type]
        moved += len(delete)
        if len(done) < len(batch):
            failed = [f.get("Message", "") for f in sent.get("Failed", [])]
            raise ConfigurationError(
                f"moved {moved}, then SQS refused {len(failed)}: {'; '.join(failed)}"
            )
    return moved, queues.source


def _run(work: Callable[[AwsClients, InfraSpec], Awaitable[T]]) -> T:
    settings = aws_settings()
    # Imported here: aiobotocore takes a second to import, which `toxic --help` need not pay.
    from shared.aws import open_clients

    async def main() -> T:
        spec = InfraSpec.for_prefix(settings.prefix)
        async with open_clients(settings) as clients:
            return await work(clients, spec)

    try:
        return asyncio.run(main())
    except ConfigurationError as error:
        raise fail(str(error)) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise fail(f"AWS refused: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise fail(f"{error} (is AWS_ENDPOINT_URL right, and is the endpoint up?)") from None


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@dlq_app.command("list")
def list_command(
    queue: Annotated[str, typer.Argument(help="logger, monitoring, training, api, or a name.")],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most messages shown.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List dead-lettered messages: event type and id, receives, age and why, oldest first."""
    letters = _run(lambda clients, spec: list_dead_letters(clients, spec, queue, limit))
    if as_json:
        typer.echo(json.dumps([letter.as_dict() for letter in letters], indent=2))
        return
    if not letters:
        typer.echo(f"the dead-letter queue of {queue} is empty")
        return
    typer.echo(f"{'AGE':>5} {'RECEIVES':>8} {'EVENT TYPE':<17} {'EVENT ID':<36} REASON")
    for letter in letters:
        typer.echo(
            f"{_age(letter.age_seconds):>5} {letter.receives:>8} {letter.event_type:<17} "
            f"{letter.event_id:<36} {letter.reason}"
        )
    typer.echo(f"{len(letters)} message(s); `toxic dlq redrive {queue}` sends them back")


@dlq_app.command("redrive")
def redrive_command(
    queue: Annotated[str, typer.Argument(help="logger, monitoring or training, or a name.")],
) -> None:
    """Move every dead-lettered message back to its work queue, to be handled again."""
    moved, source = _run(lambda clients, spec: redrive(clients, spec, queue))
    typer.echo(f"moved {moved} message(s) back to {source}" if moved else "nothing to redrive")
