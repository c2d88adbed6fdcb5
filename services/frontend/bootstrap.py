"""``toxic serve frontend``: run the Streamlit app, and wire each session to the API.

``main`` replaces this process with ``streamlit run services/frontend/app.py`` on
``TOXIC_FRONTEND_HOST:TOXIC_FRONTEND_PORT`` (127.0.0.1:8501), headless and without usage stats.
Streamlit answers its health check at ``/_stcore/health`` (200 "ok" once the server is up):
``toxic up`` and the browser tests wait on that URL.

``wiring`` is the app's one place that builds things: the session's :class:`ToxicApi` is the one
a test put in ``st.session_state`` (an in-memory fake), else the httpx adapter built once per
process from :class:`FrontendSettings`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import streamlit as st
from pydantic import ValidationError

from services.frontend.client import HttpToxicApi
from services.frontend.port import ToxicApi
from services.frontend.settings import FrontendSettings
from shared.logs import configure_logging, get_logger

__all__ = [
    "APP",
    "HEALTH_PATH",
    "SESSION_API",
    "SESSION_SETTINGS",
    "Wiring",
    "main",
    "streamlit_command",
    "wiring",
]

log = get_logger(__name__)

APP = Path(__file__).with_name("app.py")
HEALTH_PATH = "/_stcore/health"
SESSION_API = "toxic_frontend_api"
"""Session-state key where a test puts a fake ``ToxicApi``."""
SESSION_SETTINGS = "toxic_frontend_settings"
"""Session-state key where a test puts its own ``FrontendSettings``."""


@dataclass(frozen=True)
class Wiring:
    """What every page uses: the API port and the settings."""

    api: ToxicApi
    settings: FrontendSettings


@st.cache_resource(show_spinner=False)
def _http_api(api_url: str, timeout: float, api_key: str | None) -> HttpToxicApi:
    # One httpx client (and its connection pool) per process and settings, shared by the
    # sessions: httpx.Client is safe to use from Streamlit's session threads. The key is part of
    # the cache key so that one key's client is never handed out for another.
    http = httpx.Client(
        base_url=api_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": "toxic-frontend"},
    )
    return HttpToxicApi(http, api_key=api_key)


def wiring() -> Wiring:
    """The session's API port and settings: a test's fakes if it set them, else the real ones."""
    settings = st.session_state.get(SESSION_SETTINGS)
    if not isinstance(settings, FrontendSettings):
        settings = FrontendSettings()
    api = st.session_state.get(SESSION_API)
    if api is None:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        api = _http_api(settings.api_url, settings.request_timeout_seconds, key)
    return Wiring(api=api, settings=settings)


def streamlit_command(settings: FrontendSettings) -> list[str]:
    """The ``streamlit run`` command line for ``settings``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        settings.host,
        "--server.port",
        str(settings.port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(settings.max_upload_mb),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--global.developmentMode",
        "false",
    ]


def main() -> None:
    """Entry point of `toxic serve frontend`: exec Streamlit (SIGTERM then stops it directly)."""
    configure_logging()
    try:
        settings = FrontendSettings()
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    command = streamlit_command(settings)
    log.info(
        "frontend_starting",
        url=f"http://{settings.host}:{settings.port}",
        health=HEALTH_PATH,
        api_url=settings.api_url,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # exec, not a child: SIGTERM from `toxic up` or a test reaches Streamlit itself.
    os.execv(command[0], command)  # noqa: S606
