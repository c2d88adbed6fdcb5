"""What routes depend on: the wired parts of a replica, and who may call what.

``ApiContext`` is built once per process by ``bootstrap`` (tests build it with fakes) and kept in
``app.state``; routes receive it and the caller's key through the ``Annotated`` aliases below.

A key travels in ``X-API-Key``, ``Authorization: Bearer``, ``X-Goog-Api-Key`` or, as Perspective
clients send it, the ``key`` query parameter. Moderator and admin routes always need a key of that
role or above; client routes need one only when ``TOXIC_REQUIRE_CLIENT_KEY`` is set, and
otherwise treat a key they do not know as no key (a Perspective client keeps sending its Google
key after switching). The rate limit counts per key, or per client address without one, in
this replica only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.api.errors import ApiError
from services.api.keys import (
    ApiKey,
    AuthenticationError,
    InsufficientRoleError,
    InvalidKeyError,
    KeyRing,
    Role,
)
from services.api.metrics import ApiMetrics
from services.api.outbox import Outbox
from services.api.ratelimit import RateLimiter
from services.api.repository import Examples, Reviews
from services.api.service import CommentService
from services.api.serving import ModelReloader, ModelSlot
from services.api.settings import ApiSettings

__all__ = ["Access", "Admin", "ApiContext", "Client", "Ctx", "Moderator"]


@dataclass
class ApiContext:
    settings: ApiSettings
    slot: ModelSlot
    service: CommentService
    reloader: ModelReloader
    reviews: Reviews
    examples: Examples
    access: Access
    metrics: ApiMetrics
    outbox: Outbox


# Async, so FastAPI calls it on the event loop rather than in a worker thread per request.
async def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Ctx = Annotated[ApiContext, Depends(_context)]


def _secret_of(request: Request) -> str | None:
    headers = request.headers
    secret = headers.get("x-api-key") or headers.get("x-goog-api-key")
    if secret:
        return secret.strip()
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query_params.get("key") or None


class Access:
    """Authentication, role check and rate limit of one request, in that order."""

    def __init__(
        self,
        ring: KeyRing,
        limiter: RateLimiter | None,
        *,
        require_client_key: bool,
        metrics: ApiMetrics | None = None,
    ) -> None:
        self._ring = ring
        self._limiter = limiter
        self._require_client_key = require_client_key
        self._metrics = metrics

    async def check(self, request: Request, role: Role) -> ApiKey | None:
        secret = _secret_of(request)
        try:
            if role is Role.CLIENT and not self._require_client_key:
                key = await self._anonymous_or(secret)
            else:
                key = await self._ring.require(secret, role)
        except AuthenticationError as exc:
            raise ApiError(401, str(exc)) from None
        except InsufficientRoleError as exc:
            raise ApiError(403, str(exc)) from None
        if self._limiter is not None:
            client = request.client.host if request.client else "unknown"
            identity = f"key:{key.key_hash}" if key else f"address:{client}"
            wait = self._limiter.check(identity)
            if wait is not None:
                if self._metrics is not None:
                    self._metrics.rate_limited.inc()
                raise ApiError(
                    429,
                    f"rate limit of {self._limiter.rate:g} requests per second exceeded"
                    " (per key, per replica); retry after the Retry-After seconds",
                    retry_after=wait,
                )
        return key

    async def _anonymous_or(self, secret: str | None) -> ApiKey | None:
        """The caller's key where keys are optional; a key we do not know counts as none.

        A Perspective client that switches by URL still sends its Google key in ``?key=``;
        refusing it would break the switch, and it gains nothing a caller without a key lacks.
        """
        try:
            return await self._ring.authenticate(secret)
        except InvalidKeyError:
            return None


def _requires(role: Role) -> Callable[[Request, ApiContext], Awaitable[ApiKey | None]]:
    async def dependency(request: Request, context: Ctx) -> ApiKey | None:
        return await context.access.check(request, role)

    return dependency


Client = Annotated[ApiKey | None, Depends(_requires(Role.CLIENT))]
Moderator = Annotated[ApiKey | None, Depends(_requires(Role.MODERATOR))]
Admin = Annotated[ApiKey | None, Depends(_requires(Role.ADMIN))]
