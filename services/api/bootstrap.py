"""``toxic serve api``: wire real adapters from settings and serve them with uvicorn.

At start a replica opens its AWS clients once, opens its outbox (publishing whatever a previous
run left), creates its own queue for ``ModelPublished``, and tries to load the champion; it
answers ``/readyz`` with 200 only once a model is loaded. At stop (SIGTERM/SIGINT) uvicorn
finishes the requests in flight, then the lifespan stops the background tasks, drains the outbox
for up to ``TOXIC_DRAIN_SECONDS`` and removes the replica's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from botocore.exceptions import BotoCoreError
from fastapi import FastAPI
from pydantic import ValidationError

from contracts import ModelPublished, Source
from services.api.app import build_app
from services.api.deps import Access, ApiContext
from services.api.keys import KeyRing
from services.api.keystore import DynamoKeyStore
from services.api.metrics import ApiMetrics
from services.api.moderation import ModerationPolicy
from services.api.outbox import Outbox
from services.api.ratelimit import RateLimiter
from services.api.repository import DynamoPredictions, DynamoReviews, Examples
from services.api.scorers import ScoringProcesses
from services.api.service import CommentService
from services.api.serving import ModelReloader, ModelSlot, ServingModel
from services.api.settings import ApiSettings
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients, open_clients
from shared.bus import Consumer, SqsQueue
from shared.errors import ConfigurationError
from shared.infra import InfraSpec
from shared.infra.messaging import find_queue
from shared.infra.replicas import (
    DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
    create_replica_queue,
    heartbeat,
    remove_replica_queue,
)
from shared.logs import bound, configure_logging, get_logger
from shared.worker import default_instance, open_publisher

__all__ = ["create_app", "default_outbox_path", "main", "preflight", "wire"]

log = get_logger(__name__)

SERVICE = "api"


def default_outbox_path(settings: ApiSettings) -> Path:
    """A path that stays the same across restarts of this replica (same prefix and port)."""
    if settings.outbox_path is not None:
        return settings.outbox_path
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "toxic" / f"{settings.prefix}-api-{settings.port}.outbox.sqlite3"


def _policy(settings: ApiSettings) -> ModerationPolicy:
    return ModerationPolicy(
        reject_at=settings.reject_at,
        allow_at=settings.allow_at,
        high_priority_at=settings.high_priority_at,
        medium_priority_at=settings.medium_priority_at,
    )


@contextlib.asynccontextmanager
async def wire(
    settings: ApiSettings, clients: AwsClients, metrics: ApiMetrics, instance: str
) -> AsyncIterator[ApiContext]:
    """Every part of a running replica, built from real adapters; stopped in reverse on exit."""
    spec = InfraSpec.for_prefix(settings.prefix)
    publisher = await open_publisher(clients, spec)
    dead_letter_url = await find_queue(clients.sqs, spec.api_dead_letter_queue.name)
    if dead_letter_url is None:
        raise ConfigurationError(
            f"queue {spec.api_dead_letter_queue.name} does not exist; run `toxic infra ensure`"
        )
    store = ArtifactStore(clients.s3, spec.bucket.name)
    slot = ModelSlot()

    def swapped(model: ServingModel) -> None:
        metrics.model_info.clear()
        metrics.model_info.labels(model.version).set(1)
        metrics.swap_seconds.set(reloader.stats.last_swap_seconds or 0.0)

    def scorers(data: bytes, sha256: str, version: str) -> ScoringProcesses:
        return ScoringProcesses(data, sha256, version, settings.scoring_processes)

    reloader = ModelReloader(
        store, slot, on_swap=swapped, scorers=scorers if settings.scoring_processes else None
    )
    outbox = Outbox(default_outbox_path(settings), publisher, capacity=settings.outbox_capacity)
    ring = KeyRing(
        DynamoKeyStore(clients.dynamodb, spec.table("api-keys").name),
        ttl_seconds=settings.key_cache_seconds,
    )
    limiter = (
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        if settings.rate_limit_per_second > 0
        else None
    )
    service = CommentService(
        slot,
        _policy(settings),
        outbox,
        DynamoPredictions(clients.dynamodb, spec.table("predictions").name),
        Source(service=SERVICE, instance=instance),
        explain_top=settings.explain_top,
    )
    context = ApiContext(
        settings=settings,
        slot=slot,
        service=service,
        reloader=reloader,
        reviews=DynamoReviews(clients.dynamodb, spec.table("reviews").name),
        examples=Examples(store),
        access=Access(
            ring, limiter, require_client_key=settings.require_client_key, metrics=metrics
        ),
        metrics=metrics,
        outbox=outbox,
    )

    async def on_published(event: ModelPublished) -> None:
        log.info("model_published_received", model_version=event.model_version)
        await reloader.reconcile(force=True)

    replica = await create_replica_queue(clients, spec, instance, endpoint=_endpoint(settings))
    queue = SqsQueue(clients.sqs, name=replica.name, url=replica.url, dlq_url=dead_letter_url)
    consumer = Consumer(
        queue,
        {"ModelPublished": [on_published]},
        concurrency=1,
        wait_seconds=20,
        visibility_timeout=spec.replica_queue(instance).visibility_timeout_seconds,
        shutdown_grace=30.0,
    )

    async def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=DEFAULT_HEARTBEAT_INTERVAL_SECONDS)
            if not stop.is_set():
                try:
                    await heartbeat(clients, replica)
                except Exception as exc:  # a missed beat is harmless; gc waits ten
                    log.warning("heartbeat_failed", error=str(exc))

    stop = asyncio.Event()
    outbox.start()
    await reloader.reconcile()
    tasks = [
        asyncio.create_task(consumer.run(stop), name="model-events"),
        asyncio.create_task(reloader.run(settings.reconcile_seconds, stop), name="reconcile"),
        asyncio.create_task(beat(), name="heartbeat"),
    ]
    log.info(
        "api_started",
        model_version=slot.current.version if slot.current else None,
        queue=replica.name,
        outbox_depth=outbox.depth,
    )
    try:
        yield context
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        left = await outbox.close(settings.drain_seconds)
        reloader.close()
        try:
            await remove_replica_queue(clients, replica)
        except Exception as exc:  # gc removes it later by its stale heartbeat
            log.warning("replica_queue_not_removed", queue=replica.name, error=str(exc))
        log.info("api_stopped", outbox_left=left)


def create_app(settings: ApiSettings, instance: str | None = None) -> FastAPI:
    """The application with a lifespan that wires real adapters from ``settings``."""
    name = instance or settings.instance or default_instance()
    metrics = ApiMetrics(instance=name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with bound(service=SERVICE, instance=name):
            async with (
                open_clients(settings) as clients,
                wire(settings, clients, metrics, name) as context,
            ):
                app.state.context = context
                # What start built lives as long as the process: frozen, it is out of the cyclic
                # collector's sight, whose full passes over it (~200k objects) otherwise stall
                # the event loop for ~100 ms every few batch requests.
                gc.freeze()
                yield

    return build_app(settings, metrics, lifespan)


async def preflight(settings: ApiSettings) -> None:
    """Fail before listening, with one clear message, when the deployment is not there."""
    spec = InfraSpec.for_prefix(settings.prefix)
    async with open_clients(settings) as clients:
        await open_publisher(clients, spec)
        if await find_queue(clients.sqs, spec.api_dead_letter_queue.name) is None:
            raise ConfigurationError(
                f"queue {spec.api_dead_letter_queue.name} does not exist;"
                " run `toxic infra ensure` first"
            )


def _endpoint(settings: ApiSettings) -> str:
    """Where others reach this replica: its public URL, else its own address and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = socket.gethostname() if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def main() -> None:
    """Entry point of `toxic serve api`."""
    configure_logging()
    try:
        settings = ApiSettings()
        asyncio.run(preflight(settings))
    except (ConfigurationError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except BotoCoreError as exc:
        print(f"error: cannot reach AWS ({exc})", file=sys.stderr)
        raise SystemExit(1) from None
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # ours names route templates only (services.api.metrics)
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    uvicorn.Server(config).run()
