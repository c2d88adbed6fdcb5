"""Operations routes: liveness, readiness and Prometheus metrics.

Ready means a model is loaded and the outbox has room. An unreachable bus does not make the
replica unready: the outbox exists so scoring goes on while the bus is away; readiness reports it
(and the outbox depth) so an operator sees it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.deps import ApiContext, Ctx

__all__ = ["readiness", "router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def readiness(context: ApiContext) -> tuple[bool, dict[str, Any]]:
    serving = context.slot.current
    stats = context.outbox.stats
    reload = context.reloader.stats
    has_room = stats.depth < stats.capacity
    ready = serving is not None and has_room
    return ready, {
        "ready": ready,
        "model_loaded": serving is not None,
        "model_version": serving.version if serving else None,
        "bus_reachable": stats.bus_reachable,
        "outbox_depth": stats.depth,
        "outbox_capacity": stats.capacity,
        "model_refusals": reload.refusals,
        # Batches score in child processes once they have loaded (in the replica until then).
        "scoring_processes_ready": bool(serving and serving.scorer and serving.scorer.ready),
        "last_error": reload.last_error if serving is None else stats.last_error,
    }


@router.get("/readyz")
async def readyz(context: Ctx) -> JSONResponse:
    """Ready to score: a model is loaded and the outbox has room (503 otherwise)."""
    ready, body = readiness(context)
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(context: Ctx) -> Response:
    """Prometheus metrics."""
    m, stats, reload = context.metrics, context.outbox.stats, context.reloader.stats
    m.model_loads.set(reload.loads)
    m.model_refusals.set(reload.refusals)
    m.model_failures.set(reload.failures)
    m.outbox_depth.set(stats.depth)
    m.events_published.set(stats.published)
    m.publish_failures.set(stats.publish_failures)
    m.events_dead.set(stats.dead)
    serving = context.slot.current
    m.scoring_processes_ready.set(int(bool(serving and serving.scorer and serving.scorer.ready)))
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
