"""The HTTP edge of the error hierarchy: one status table, one error body, no stack traces.

Every error answers ``{"error": {"code": <http status>, "message": ..., "status": ...}}``, the
shape Google's APIs (and so Perspective clients) expect, on both API surfaces. Exceptions the code
raises map to a status by class; anything unexpected is logged with its trace and answered as a
plain 500 whose body says nothing about the code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import NotFoundError, PlatformError, RetryableError
from shared.logs import get_logger

__all__ = [
    "ApiError",
    "BodyLimitMiddleware",
    "error_response",
    "install_error_handlers",
]

log = get_logger(__name__)

GOOGLE_STATUS: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    413: "OUT_OF_RANGE",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(PlatformError):
    """An error with its HTTP status (and Retry-After seconds, when waiting helps)."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def error_response(
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    details: Sequence[dict[str, Any]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": GOOGLE_STATUS.get(status, "UNKNOWN"),
    }
    if details:
        body["details"] = list(details)
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = exc.errors()
    details = [
        {
            "field": _location(e.get("loc", ())),
            "problem": str(e.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for e in errors[:20]
    ]
    if not details:
        return "the request is not valid", details
    first = details[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['problem']}{more}", details


def install_error_handlers(app: FastAPI, *, invalid_status: int = 422) -> None:
    """Map exceptions to error bodies. ``invalid_status``: the status of a malformed request."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, details = _validation_message(exc)
        # Perspective answers a bad request with 400, as its clients expect.
        status = 400 if request.url.path.startswith("/v1alpha1") else invalid_status
        return error_response(status, message, details=details)

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, retry_after=exc.retry_after)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        response = error_response(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def on_not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, str(exc))

    async def on_platform(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, ValueError):
            return error_response(400, str(exc))
        retry_after = float(getattr(exc, "retry_after", 1) or 1)
        if isinstance(exc, RetryableError):  # says what to wait for: the model, the outbox
            log.warning("request_deferred", error_type=type(exc).__name__, error=str(exc))
            return error_response(503, str(exc), retry_after=retry_after)
        log.error("request_failed", error_type=type(exc).__name__, error=str(exc))
        return error_response(503, "the service cannot answer right now", retry_after=1)

    async def on_storage(_: Request, exc: Exception) -> JSONResponse:
        # DynamoDB or S3 failed after botocore's own retries: the caller may try again.
        log.warning("storage_unavailable", error_type=type(exc).__name__, error=str(exc))
        return error_response(503, "storage is unavailable right now; retry later", retry_after=2)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected_error", error_type=type(exc).__name__)
        return error_response(500, "internal error; it has been logged")

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(NotFoundError, on_not_found)
    app.add_exception_handler(PlatformError, on_platform)
    app.add_exception_handler(BotoCoreError, on_storage)
    app.add_exception_handler(ClientError, on_storage)
    app.add_exception_handler(Exception, on_unexpected)


class BodyLimitMiddleware:
    """Refuses a request body over ``max_bytes`` with 413, before any route reads it.

    A declared Content-Length over the limit is refused at once; otherwise the body is read up
    to the limit and handed on, so a chunked upload cannot slip past it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, f"the request body is larger than {self.max_bytes} bytes (TOXIC_MAX_BODY_BYTES)"
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
