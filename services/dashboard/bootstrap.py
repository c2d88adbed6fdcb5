"""``toxic serve dashboard``: run the Streamlit app, and wire each session to its data.

``main`` replaces this process with ``streamlit run services/dashboard/app.py`` on
``TOXIC_DASHBOARD_HOST:TOXIC_DASHBOARD_PORT`` (127.0.0.1:8502), headless and without usage
stats; Streamlit answers its health check at ``/_stcore/health``.

``wiring`` is the app's one place that builds things: the reader and the retrain port are the
ones a test put in ``st.session_state`` (in-memory fakes), else the DynamoDB reader and the
httpx adapter built once per process from :class:`DashboardSettings`.

Streamlit runs the script again on every interaction, each time in a thread of its own, while
aiobotocore clients belong to the event loop that opened them. So the DynamoDB reader lives on
one event loop in a background thread for the life of the process (opened once, as DESIGN
principle 5 asks) and each page load is submitted to that loop; a fake reader, bound to no
loop, runs with ``asyncio.run`` per load.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import streamlit as st

from services.dashboard.data import PageData, PageReader, load_page_data
from services.dashboard.retrain import HttpRetrainer, Retrainer
from services.dashboard.settings import DashboardSettings
from shared.aws import open_clients
from shared.infra import InfraSpec
from shared.logs import configure_logging, get_logger
from shared.monitoring.reader import DynamoMonitoringReader

__all__ = [
    "APP",
    "HEALTH_PATH",
    "SESSION_READER",
    "SESSION_RETRAINER",
    "SESSION_SETTINGS",
    "LoopThread",
    "Wiring",
    "main",
    "streamlit_command",
    "wiring",
]

log = get_logger(__name__)

APP = Path(__file__).with_name("app.py")
HEALTH_PATH = "/_stcore/health"
SESSION_READER = "toxic_dashboard_reader"
"""Session-state key where a test puts a fake ``PageReader``."""
SESSION_RETRAINER = "toxic_dashboard_retrainer"
"""Session-state key where a test puts a fake ``Retrainer``."""
SESSION_SETTINGS = "toxic_dashboard_settings"
"""Session-state key where a test puts its own ``DashboardSettings``."""

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the loop and wait at most ``timeout`` seconds for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


class _DynamoBackend:
    """The DynamoDB reader, opened on a ``LoopThread`` and kept for the life of the process."""

    def __init__(self, settings: DashboardSettings) -> None:
        self._loop = LoopThread("dashboard-aws")
        self._stack = AsyncExitStack()
        self.reader: PageReader = self._loop.run(self._open(settings), timeout=30)

    async def _open(self, settings: DashboardSettings) -> PageReader:
        clients = await self._stack.enter_async_context(open_clients(settings))
        return DynamoMonitoringReader(clients.dynamodb, InfraSpec.for_prefix(settings.prefix))

    def load(
        self, now: datetime, model_name: str, view_max_age: timedelta, timeout: float
    ) -> PageData:
        page = load_page_data(self.reader, now, model_name=model_name, view_max_age=view_max_age)
        return self._loop.run(page, timeout)


@st.cache_resource(show_spinner=False)
def _dynamo_backend(key: str, _settings: DashboardSettings) -> _DynamoBackend:
    # One backend (clients, connection pool) per process and target, keyed by the settings' JSON
    # (secrets masked in it: a process reads its credentials once, from its environment).
    return _DynamoBackend(_settings)


@st.cache_resource(show_spinner=False)
def _http_retrainer(api_url: str, timeout: float) -> HttpRetrainer:
    # httpx.Client is safe to share between Streamlit's session threads.
    http = httpx.Client(
        base_url=api_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": "toxic-dashboard"},
    )
    return HttpRetrainer(http)


@dataclass(frozen=True)
class Wiring:
    """What the page uses: how to load its data, the retrain port and the settings."""

    load: Callable[[datetime], PageData]
    retrainer: Retrainer
    settings: DashboardSettings


def wiring() -> Wiring:
    """The session's reader, retrain port and settings: a test's fakes if set, else real ones."""
    settings = st.session_state.get(SESSION_SETTINGS)
    if not isinstance(settings, DashboardSettings):
        settings = DashboardSettings()
    timeout = settings.dashboard_timeout_seconds
    max_age = timedelta(seconds=settings.dashboard_view_max_age_seconds)
    reader = st.session_state.get(SESSION_READER)
    if reader is not None:
        fake: PageReader = reader

        def load(now: datetime) -> PageData:
            page = load_page_data(fake, now, model_name=settings.model_name, view_max_age=max_age)
            return asyncio.run(page)

    else:
        backend = _dynamo_backend(settings.model_dump_json(), settings)

        def load(now: datetime) -> PageData:
            return backend.load(now, settings.model_name, max_age, timeout)

    retrainer = st.session_state.get(SESSION_RETRAINER)
    if retrainer is None:
        retrainer = _http_retrainer(settings.dashboard_api_url, timeout)
    return Wiring(load=load, retrainer=retrainer, settings=settings)


def streamlit_command(settings: DashboardSettings) -> list[str]:
    """The ``streamlit run`` command line for ``settings``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        settings.dashboard_host,
        "--server.port",
        str(settings.dashboard_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
    ]


def main() -> None:
    """Entry point of `toxic serve dashboard`: exec Streamlit (SIGTERM then stops it directly)."""
    configure_logging()
    settings = DashboardSettings()
    command = streamlit_command(settings)
    log.info(
        "dashboard_starting",
        url=f"http://{settings.dashboard_host}:{settings.dashboard_port}",
        health=HEALTH_PATH,
        prefix=settings.prefix,
        api_url=settings.dashboard_api_url,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own interpreter, arguments from settings
