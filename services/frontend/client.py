"""``ToxicApi`` over HTTP with httpx: the API's JSON in, :class:`ApiCallError` for every failure.

How failures read (the app shows ``ApiCallError.message`` as it is):

    no answer      connection refused, DNS, reset  -> "The API at URL is not reachable ..."
                   timeout                         -> "The API at URL did not answer within N s"
    4xx            the API's own message from ``{"error": {"message"}}``; 401/403 add which
                   key to paste
    429, 503       the API's message plus "try again in N s" from Retry-After
    5xx            the status and the API's message
    bad JSON       "The API answered something this app cannot read"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from contracts import Label, ModeratorAction
from services.frontend.models import (
    BatchResult,
    Example,
    FeedbackReceipt,
    Prediction,
    ReviewPage,
)
from services.frontend.port import ApiCallError
from shared.logs import get_logger

__all__ = ["HttpToxicApi", "problem_from_response"]

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)

_KEY_HINTS = {
    401: "Paste a valid API key in the sidebar.",
    403: "This needs a key with a higher role (the review queue needs a moderator key).",
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date; the API never sends one
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _api_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase or "no message"


def problem_from_response(response: httpx.Response) -> ApiCallError:
    """The :class:`ApiCallError` for an answer with an error status."""
    status = response.status_code
    message = _api_message(response)
    retry_after = _retry_after(response)
    if status in (429, 503):
        wait = f" Try again in {math.ceil(retry_after)} s." if retry_after is not None else ""
        busy = "is busy" if status == 429 else "cannot answer right now"
        text = f"The API {busy} ({status}): {message}.{wait}"
    elif status in _KEY_HINTS:
        text = f"The API refused the request ({status}): {message}. {_KEY_HINTS[status]}"
    elif status < 500:
        text = f"The API refused the request ({status}): {message}"
    else:
        text = f"The API failed ({status}): {message}"
    return ApiCallError(text, status=status, retry_after=retry_after)


class HttpToxicApi:
    """The API's ``/v1`` routes through ``http`` (an ``httpx.Client`` with the API as base URL)."""

    def __init__(self, http: httpx.Client, *, api_key: str | None = None) -> None:
        self._http = http
        self._key = api_key

    @property
    def url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def _call(
        self,
        method: str,
        path: str,
        answer: type[M],
        *,
        key: str | None,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> M:
        chosen = key or self._key
        headers = {"X-API-Key": chosen} if chosen else {}
        try:
            response = self._http.request(method, path, json=body, params=params, headers=headers)
        except httpx.TimeoutException:
            raise ApiCallError(
                f"The API at {self.url} did not answer within "
                f"{self._http.timeout.read or 0:g} s. Is it overloaded?"
            ) from None
        except httpx.TransportError as exc:
            log.warning("api_unreachable", url=self.url, error=type(exc).__name__)
            raise ApiCallError(
                f"The API at {self.url} is not reachable ({_reason(exc)}). "
                "Is `toxic serve api` running?"
            ) from None
        if response.is_error:
            problem = problem_from_response(response)
            log.info("api_refused", path=path, status=response.status_code)
            raise problem
        try:
            return answer.model_validate_json(response.content)
        except ValidationError:
            log.warning("api_answer_unreadable", path=path, status=response.status_code)
            raise ApiCallError(
                f"The API answered {path} with something this app cannot read "
                "(is TOXIC_FRONTEND_API_URL pointing at `toxic serve api`?)",
                status=response.status_code,
            ) from None

    def predict(self, text: str, *, key: str | None = None) -> Prediction:
        body = {"text": text, "explain": True}
        return self._call("POST", "/v1/predict", Prediction, key=key, body=body)

    def feedback_correct(
        self, prediction_id: UUID, *, note: str | None = None, key: str | None = None
    ) -> FeedbackReceipt:
        body = _without_none({"prediction_id": str(prediction_id), "correct": True, "note": note})
        return self._call("POST", "/v1/feedback", FeedbackReceipt, key=key, body=body)

    def feedback_labels(
        self,
        prediction_id: UUID,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        body = _without_none(
            {"prediction_id": str(prediction_id), "labels": _labels(labels), "note": note}
        )
        return self._call("POST", "/v1/feedback", FeedbackReceipt, key=key, body=body)

    def random_example(self, *, key: str | None = None) -> Example:
        return self._call("GET", "/v1/examples/random", Example, key=key)

    def score_batch(self, texts: Sequence[str], *, key: str | None = None) -> BatchResult:
        body = {"texts": list(texts)}
        return self._call("POST", "/v1/predict/batch", BatchResult, key=key, body=body)

    def review_queue(self, *, limit: int, key: str | None = None) -> ReviewPage:
        params: dict[str, str | int] = {"status": "pending", "limit": limit}
        return self._call("GET", "/v1/reviews", ReviewPage, key=key, params=params)

    def moderate(
        self,
        prediction_id: UUID,
        action: ModeratorAction,
        labels: Mapping[Label, bool],
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> FeedbackReceipt:
        body = _without_none({"action": action.value, "labels": _labels(labels), "note": note})
        path = f"/v1/reviews/{prediction_id}"
        return self._call("POST", path, FeedbackReceipt, key=key, body=body)


def _labels(labels: Mapping[Label, bool]) -> dict[str, bool]:
    return {Label(label).value: bool(value) for label, value in labels.items()}


def _without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if value is not None}


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    return type(exc).__name__
