"""Prometheus metrics and the access log, from one ASGI middleware.

The access log names the route template (``/v1/reviews/{prediction_id}``), never the path with
its values or the query string (a Perspective ``key`` travels there), and never a body, so no
comment text and no key reaches a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.logs import get_logger

__all__ = ["ApiMetrics", "MetricsMiddleware"]

access_log = get_logger("services.api.access")

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """Every metric the API exposes, in a registry of its own (one per app: tests make many)."""

    def __init__(self, instance: str | None = None) -> None:
        # Named in every access-log line: requests run outside the start-up's bound log context.
        self.instance = instance
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "toxic_api_request_seconds",
            "Request latency by route template, method and status.",
            ("route", "method", "status"),
            buckets=_BUCKETS,
            registry=r,
        )
        self.comments = Counter(
            "toxic_api_comments_scored_total", "Comments scored.", ("channel",), registry=r
        )
        self.model_info = Gauge(
            "toxic_api_model_info", "The serving model (value 1).", ("version",), registry=r
        )
        # Mirrors of the reloader's and the outbox's own counts, set at each scrape.
        self.model_loads = Gauge(
            "toxic_api_model_loads", "Models loaded and swapped in.", registry=r
        )
        self.model_refusals = Gauge(
            "toxic_api_model_refusals",
            "Model files refused (wrong sha256, untrusted types, not a model).",
            registry=r,
        )
        self.model_failures = Gauge(
            "toxic_api_model_load_failures",
            "Failed attempts to read the pointer or a model (storage errors).",
            registry=r,
        )
        self.swap_seconds = Gauge(
            "toxic_api_model_swap_seconds", "Duration of the last model swap.", registry=r
        )
        self.outbox_depth = Gauge(
            "toxic_api_outbox_depth", "Events waiting in the outbox for the bus.", registry=r
        )
        self.events_published = Gauge(
            "toxic_api_events_published", "Events the outbox delivered to the bus.", registry=r
        )
        self.publish_failures = Gauge(
            "toxic_api_event_publish_failures",
            "Failed attempts to deliver outbox events to the bus.",
            registry=r,
        )
        self.events_dead = Gauge(
            "toxic_api_events_dead", "Events the bus refused for good (kept aside).", registry=r
        )
        self.scoring_processes_ready = Gauge(
            "toxic_api_scoring_processes_ready",
            "1 while child processes score batches, 0 while the replica scores them itself.",
            registry=r,
        )
        self.rate_limited = Counter(
            "toxic_api_rate_limited_total", "Requests refused by the rate limit.", registry=r
        )


class MetricsMiddleware:
    """Times every HTTP request and writes one access-log line without path values or bodies."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ApiMetrics,
        *,
        access_log_enabled: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log_enabled = access_log_enabled
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                version = _model_version_of(scope)
                if version is not None:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-model-version", version.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = self.clock() - started
            route = _route_of(scope)
            self.metrics.latency.labels(route, scope["method"], str(status)).observe(elapsed)
            if self.access_log_enabled:
                access_log.info(
                    "request",
                    service="api",
                    instance=self.metrics.instance,
                    method=scope["method"],
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 3),
                )


def _model_version_of(scope: Scope) -> str | None:
    """The version the replica serves now (every response names it in ``X-Model-Version``)."""
    context = getattr(getattr(scope.get("app"), "state", None), "context", None)
    serving = getattr(getattr(context, "slot", None), "current", None)
    version = getattr(serving, "version", None)
    return version if isinstance(version, str) else None


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
