"""The retrain button's port: ask the API for a manual retrain with an admin key.

The API answers 202 with the request id; anything else (a wrong key, the API down, a timeout)
comes back as a :class:`RetrainAnswer` with ``ok`` False and a message a person can act on, never
as an exception the page would show as a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

__all__ = ["HttpRetrainer", "RetrainAnswer", "Retrainer"]


@dataclass(frozen=True)
class RetrainAnswer:
    """What the API said: ``request_id`` when it accepted, else why not."""

    ok: bool
    message: str
    status: int | None = None
    request_id: str | None = None


class Retrainer(Protocol):
    def request_retrain(self, api_key: str, note: str | None) -> RetrainAnswer:
        """Ask for a manual retrain with ``api_key`` (an admin key)."""
        ...


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message", body))
        return detail if isinstance(detail, str) else str(detail)[:300]
    return str(body)[:300]


class HttpRetrainer:
    """``POST {api_url}/v1/retrain`` with ``X-API-Key``, over an injected httpx client."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def request_retrain(self, api_key: str, note: str | None) -> RetrainAnswer:
        if not api_key.strip():
            return RetrainAnswer(
                ok=False, message="an admin API key is needed to ask for a retrain"
            )
        body = {"note": note} if note else {}
        try:
            response = self._http.post(
                "/v1/retrain", json=body, headers={"X-API-Key": api_key.strip()}
            )
        except httpx.TimeoutException:
            return RetrainAnswer(ok=False, message=f"the API at {self._http.base_url} timed out")
        except httpx.HTTPError as exc:
            return RetrainAnswer(
                ok=False, message=f"the API at {self._http.base_url} cannot be reached: {exc}"
            )
        if response.status_code == 202:
            request_id = str(response.json().get("request_id", ""))
            return RetrainAnswer(
                ok=True,
                message=f"retrain requested: request id {request_id}",
                status=202,
                request_id=request_id,
            )
        reason = {
            401: "the API key was not accepted",
            403: "this key may not ask for a retrain (an admin key is needed)",
        }.get(response.status_code, "the API refused the request")
        return RetrainAnswer(
            ok=False,
            message=f"{reason} (HTTP {response.status_code}: {_detail(response)})",
            status=response.status_code,
        )
