"""The FastAPI application: routers, error handlers and middleware around one ``ApiContext``.

``build_app`` is used by the real process (with a lifespan that wires real adapters, see
``bootstrap``) and by tests (with a context of fakes set on ``app.state`` directly).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from services.api import discovery, native, ops, perspective
from services.api.errors import BodyLimitMiddleware, install_error_handlers
from services.api.metrics import ApiMetrics, MetricsMiddleware
from services.api.settings import ApiSettings

__all__ = ["build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """\
Scores comments for six toxicity labels (toxic, severe_toxic, obscene, threat, insult,
identity_hate), takes feedback and moderators' decisions, and names the model version in every
answer. `/v1` is the native API; `/v1alpha1/comments:analyze` and `:suggestscore` speak Google's
Perspective API protocol. Errors are `{"error": {"code", "message", "status"}}`.
"""


def build_app(
    settings: ApiSettings, metrics: ApiMetrics, lifespan: Lifespan | None = None
) -> FastAPI:
    app = FastAPI(
        title="Toxic comment analysis API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(native.router)
    app.include_router(ops.router)
    app.include_router(perspective.router)
    app.include_router(discovery.router)
    install_error_handlers(app)
    # Outermost first at run time: metrics see every answer, including a refused body.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
