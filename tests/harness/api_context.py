"""An ``ApiContext`` of in-memory parts, for route tests without AWS (DESIGN principle 4).

``fake_context()`` wires the same parts ``services.api.bootstrap.wire`` does, but in memory: a
real tiny model in the slot (or none), an ``EventLog`` as the service's event sink, in-memory
predictions, reviews, keys and model source, and an outbox on an in-memory SQLite database that
is never started (events go to the log instead). Build the app with
``services.api.app.build_app`` and set ``app.state.context``; ``api_client`` does both.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

import httpx

from contracts import LABELS, Envelope, ReviewPriority, RowCounts, Source
from services.api.app import build_app
from services.api.deps import Access, ApiContext
from services.api.keys import KeyRing, KeyStore
from services.api.keystore import InMemoryKeyStore
from services.api.metrics import ApiMetrics
from services.api.moderation import ModerationPolicy
from services.api.outbox import Outbox
from services.api.ratelimit import RateLimiter
from services.api.repository import Examples, ReviewPage, ReviewStats
from services.api.service import CommentService, KnownPrediction
from services.api.serving import ModelReloader, ModelSlot, ServingModel
from services.api.settings import ApiSettings
from shared.artifacts import ArtifactStore, Manifest, PointerRead
from shared.bus import InMemoryBroker
from shared.errors import NotFoundError
from shared.items import ReviewItem, ReviewStatus
from shared.model.toxicity import ToxicityModel
from tests.factories import drift_baseline, label_metrics_by_label, sha256_of
from tests.harness.champion import tiny_model

__all__ = [
    "EventLog",
    "InMemoryModelSource",
    "InMemoryPredictions",
    "InMemoryReviews",
    "api_client",
    "fake_context",
    "serving_model",
]

E = TypeVar("E", bound=Envelope)

_RANK = {ReviewPriority.HIGH: 0, ReviewPriority.MEDIUM: 1, ReviewPriority.LOW: 2}


class EventLog:
    """The event sink: keeps every event put, in order."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def put(self, events: Sequence[Envelope]) -> int:
        self.events.extend(events)
        return len(events)

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type (``log.of(PredictionMade)``)."""
        return [e for e in self.events if isinstance(e, kind)]


@dataclass
class InMemoryPredictions:
    """What the logger would have stored, by prediction id."""

    known: dict[UUID, KnownPrediction] = field(default_factory=dict)

    async def get(self, prediction_id: UUID) -> KnownPrediction | None:
        return self.known.get(prediction_id)


@dataclass
class InMemoryReviews:
    """The review queue: high priority first, then oldest first; pending before reviewed."""

    items: dict[UUID, ReviewItem] = field(default_factory=dict)

    def add(self, *items: ReviewItem) -> None:
        self.items.update((item.prediction_id, item) for item in items)

    async def list(
        self, status: ReviewStatus | None, priority: ReviewPriority | None, limit: int
    ) -> ReviewPage:
        chosen = [
            item
            for item in self.items.values()
            if (status is None or item.status is status)
            and (priority is None or item.priority is priority)
        ]
        chosen.sort(
            key=lambda i: (i.status is not ReviewStatus.PENDING, _RANK[i.priority], i.created_at)
        )
        return ReviewPage(items=chosen[:limit], more=len(chosen) > limit)

    async def get(self, prediction_id: UUID) -> ReviewItem | None:
        return self.items.get(prediction_id)

    async def stats(self) -> ReviewStats:
        pending = dict.fromkeys(ReviewPriority, 0)
        actions: dict[str, int] = {}
        for item in self.items.values():
            if item.status is ReviewStatus.PENDING:
                pending[item.priority] += 1
            elif item.moderator_action is not None:
                name = item.moderator_action.value
                actions[name] = actions.get(name, 0) + 1
        return ReviewStats(pending=pending, reviewed=sum(actions.values()), actions=actions)


@dataclass
class InMemoryModelSource:
    """A model source (and artifact store for ``Examples``) with no champion, only blobs."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    async def read_champion(self, if_none_match: str | None = None) -> PointerRead:
        raise NotFoundError("no champion in this fake")

    async def get_manifest(self, key: str) -> Manifest:
        raise NotFoundError(f"no manifest {key}")

    async def get_bytes(self, key: str) -> bytes:
        if key not in self.blobs:
            raise NotFoundError(f"no object {key}")
        return self.blobs[key]


def serving_model(model: ToxicityModel | None = None, version: str = "test-1") -> ServingModel:
    """``model`` (default: the tiny starter-set model) with a manifest naming ``version``."""
    model = model or tiny_model()
    manifest = Manifest(
        model_name="toxicity",
        model_version=version,
        model_key=f"models/toxicity/{version}/model.skops",
        sha256=sha256_of(version),
        labels=LABELS,
        thresholds=dict(zip(LABELS, model.thresholds.tolist(), strict=True)),
        metrics=label_metrics_by_label(),
        training_data_digest=sha256_of("starter"),
        row_counts=RowCounts(train=130, validation=45, holdout=25),
        baseline=drift_baseline(),
        library_versions={"tests": "1"},
    )
    return ServingModel(model=model, manifest=manifest, loaded_at=time.time())


def fake_context(
    *,
    serving: ServingModel | None = None,
    loaded: bool = True,
    settings: ApiSettings | None = None,
    keys: KeyStore | None = None,
    limiter: RateLimiter | None = None,
    predictions: InMemoryPredictions | None = None,
    reviews: InMemoryReviews | None = None,
    source: InMemoryModelSource | None = None,
    **overrides: Any,
) -> tuple[ApiContext, EventLog]:
    """An ``ApiContext`` of in-memory parts and the log its events go to.

    ``serving``: the model in the slot (default the tiny model; none when ``loaded`` is False).
    ``overrides``: ``ApiSettings`` fields (``max_text_chars=50``); ``keys``: where API keys are
    looked up (cache off, so a key added or revoked counts at once); ``limiter``: a rate limit.
    """
    if settings is None:
        settings = ApiSettings(**overrides)
    elif overrides:
        settings = settings.model_copy(update=overrides)
    slot = ModelSlot()
    slot.current = serving or (serving_model() if loaded else None)
    sink = EventLog()
    metrics = ApiMetrics()
    source = source or InMemoryModelSource()
    service = CommentService(
        slot,
        ModerationPolicy(
            reject_at=settings.reject_at,
            allow_at=settings.allow_at,
            high_priority_at=settings.high_priority_at,
            medium_priority_at=settings.medium_priority_at,
        ),
        sink,
        predictions or InMemoryPredictions(),
        Source(service="api", instance="test-1"),
        explain_top=settings.explain_top,
    )
    context = ApiContext(
        settings=settings,
        slot=slot,
        service=service,
        reloader=ModelReloader(source, slot),
        reviews=reviews or InMemoryReviews(),
        examples=Examples(cast(ArtifactStore, source)),
        access=Access(
            KeyRing(keys or InMemoryKeyStore(), ttl_seconds=0),
            limiter,
            require_client_key=settings.require_client_key,
            metrics=metrics,
        ),
        metrics=metrics,
        outbox=Outbox(":memory:", InMemoryBroker(), capacity=settings.outbox_capacity),
    )
    return context, sink


@asynccontextmanager
async def api_client(
    context: ApiContext, *, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app built around ``context``, in process (no sockets)."""
    app = build_app(context.settings, context.metrics)
    app.state.context = context
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
    finally:
        await context.outbox.close(drain_timeout=0)
