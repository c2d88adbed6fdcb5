"""The dashboard on the in-memory reader: every tab with data and empty, and the retrain button.

The app runs in Streamlit's AppTest with ``InMemoryMonitoringReader`` and a fake retrain port in
its session state; the HTTP retrain adapter is tested over httpx's MockTransport, and the launch
command directly.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from services.dashboard.bootstrap import (
    HEALTH_PATH,
    SESSION_READER,
    SESSION_RETRAINER,
    SESSION_SETTINGS,
    streamlit_command,
)
from services.dashboard.retrain import HttpRetrainer, RetrainAnswer
from services.dashboard.sections import TABS
from services.dashboard.settings import DashboardSettings
from shared.monitoring.records import ViewItem
from shared.monitoring.view import read_view
from shared.monitoring.view_codec import encode_view
from tests.fakes.monitoring_reader import (
    MODEL_NAME,
    VERSION,
    InMemoryMonitoringReader,
    sample_reader,
)

pytestmark = pytest.mark.unit

APP = Path(__file__).parents[2] / "services" / "dashboard" / "app.py"
ADMIN = "tox_admin_key"


@dataclass
class FakeRetrainer:
    """Accepts the one admin key it knows; remembers every call."""

    admin_key: str = ADMIN
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def request_retrain(self, api_key: str, note: str | None) -> RetrainAnswer:
        self.calls.append((api_key, note))
        if api_key != self.admin_key:
            return RetrainAnswer(ok=False, message="the API key was not accepted", status=401)
        return RetrainAnswer(
            ok=True, message="retrain requested: request id r-1", status=202, request_id="r-1"
        )


def app(
    reader: InMemoryMonitoringReader,
    retrainer: FakeRetrainer | None = None,
    settings: DashboardSettings | None = None,
) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[SESSION_READER] = reader
    at.session_state[SESSION_RETRAINER] = retrainer or FakeRetrainer()
    if settings is not None:
        at.session_state[SESSION_SETTINGS] = settings
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for metric in at.metric:
        found.setdefault(metric.label, []).append(metric.value)
    return found


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [i.value for i in at.info] + [w.value for w in at.warning] + [e.value for e in at.error]
    )
    parts += [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def charts(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def test_every_tab_shows_the_numbers_and_charts_of_a_deployment_with_traffic() -> None:
    reader, sample = sample_reader(datetime.now(UTC))

    at = app(reader)

    no_exception(at)
    assert [tab.label for tab in at.tabs] == list(TABS)
    shown = metrics(at)
    assert shown["Predictions"] == [f"{sample.predictions_24h}", f"{sample.predictions_30d}"]
    assert shown["Toxic rate"][0] == "20.0%"
    assert shown["Feedback received"] == [str(sample.feedback_30d)] * 2
    assert shown["User accuracy"] == ["70.0%", "70.0%"]
    assert shown["Pending reviews"] == ["1", "1"]
    assert shown["Messages in dead-letter queues"] == ["3"]
    assert shown["Consumer lag"] == ["0.8 s"]
    words = texts(at)
    assert f"Current model version: {VERSION}" in words
    assert "toxic_rate: toxic rate 20.0%" in words
    # Trends, latency, labels, quality, confidence, versions, drift, decisions, queue, lag.
    assert len(charts(at)) >= 12
    frames = {len(df.value) for df in at.dataframe}
    assert 11 in frames  # the newest feedback rows
    assert "no data yet" not in words.lower()


def test_the_page_says_whether_it_shows_the_monitorings_view_or_a_live_read() -> None:
    now = datetime.now(UTC)
    live_reader, _ = sample_reader(now)
    viewed_reader, sample = sample_reader(now)
    built_at = now - timedelta(seconds=15)
    view = asyncio.run(read_view(viewed_reader, built_at, model_name=MODEL_NAME))
    viewed_reader.stored_view = ViewItem(
        view=encode_view(view), built_at=built_at, built_by="monitoring-7"
    )

    live, viewed = app(live_reader), app(viewed_reader)

    no_exception(viewed)
    assert "read live" in texts(live)
    assert "built by the monitoring" not in texts(live)
    assert f"data as of {built_at:%Y-%m-%d %H:%M:%S} UTC, built by the monitoring" in texts(viewed)
    assert "(monitoring-7)" in texts(viewed)
    assert metrics(viewed)["Predictions"][0] == str(sample.predictions_24h)


def test_the_drift_tab_reads_the_psi_of_the_current_models_live_scores() -> None:
    reader, _ = sample_reader(datetime.now(UTC))

    at = app(reader)

    [drift] = [df.value for df in at.dataframe if "psi" in df.value.columns]
    toxic = drift[drift["label"] == "toxic"].iloc[0]
    # The factory baseline holds 10 and 10 rows below and above 0.5; live: 120 vs 30.
    assert toxic["psi"] > 0.1
    assert toxic["stability"] in {"moderate", "significant"}


def test_the_model_history_lists_published_rejected_and_failed() -> None:
    reader, _ = sample_reader(datetime.now(UTC))

    at = app(reader)

    [history] = [df.value for df in at.dataframe if "outcome" in df.value.columns]
    assert list(history["outcome"]) == ["failed", "rejected", "published", "published"]
    [versions] = [df.value for df in at.dataframe if "mean F1 (feedback)" in df.value.columns]
    assert list(versions["version"]) == [VERSION, "6"]
    assert list(versions["predictions"]) == [150, 1]


def test_an_empty_deployment_says_there_is_no_data_yet_on_every_tab() -> None:
    at = app(InMemoryMonitoringReader())

    no_exception(at)
    shown = metrics(at)
    assert shown["Predictions"] == ["0", "0"]
    assert shown["Toxic rate"] == ["n/a", "n/a"]
    assert shown["Latency p95"] == ["n/a", "n/a"]
    words = texts(at)
    for expected in (
        "No predictions yet",
        "no latency data yet",
        "no label data yet",
        "No feedback on stored predictions yet",
        "none has been published",
        "No model history yet",
        "No drift yet",
        "No comment waits for review",
        "No feedback yet",
        "No alert is firing",
        "No alert has fired yet",
        "No pipeline health yet",
        "No consumer lag measured yet",
    ):
        assert expected in words, expected
    assert charts(at) == []


def test_a_failing_reader_shows_an_error_instead_of_a_stack_trace() -> None:
    class Broken(InMemoryMonitoringReader):
        async def current_model(self) -> None:
            raise ConnectionError("the stand-in is down")

    at = app(Broken())

    no_exception(at)
    assert "Cannot read the monitoring data: ConnectionError: the stand-in is down" in texts(at)


def test_the_page_reuses_its_data_until_reload_is_pressed() -> None:
    reader, _ = sample_reader(datetime.now(UTC))
    at = app(reader)
    reads = reader.reads

    at.text_input[1].input("a note").run()
    assert reader.reads == reads
    at.button[0].click().run()  # Reload
    assert reader.reads > reads


def test_the_retrain_button_sends_the_pasted_key_and_shows_the_answer() -> None:
    retrainer = FakeRetrainer()
    at = app(InMemoryMonitoringReader(), retrainer)

    at.text_input[0].input(ADMIN)
    at.text_input[1].input("labels drifted")
    at.button[1].click().run()

    no_exception(at)
    assert retrainer.calls == [(ADMIN, "labels drifted")]
    assert "retrain requested: request id r-1" in [s.value for s in at.success]


def test_the_retrain_button_shows_a_refusal_as_an_error() -> None:
    retrainer = FakeRetrainer()
    at = app(InMemoryMonitoringReader(), retrainer)

    at.text_input[0].input("tox_wrong")
    at.button[1].click().run()

    assert retrainer.calls == [("tox_wrong", None)]
    assert "the API key was not accepted" in texts(at)


def test_the_retrain_button_uses_the_configured_key_when_none_is_pasted() -> None:
    retrainer = FakeRetrainer()
    settings = DashboardSettings(dashboard_api_key=SecretStr(ADMIN))
    at = app(InMemoryMonitoringReader(), retrainer, settings)

    at.button[1].click().run()

    assert retrainer.calls == [(ADMIN, None)]


def _retrainer(handler: Any) -> HttpRetrainer:
    transport = httpx.MockTransport(handler)
    return HttpRetrainer(httpx.Client(base_url="http://api.test", transport=transport))


def test_the_http_retrainer_posts_with_the_key_and_reads_the_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"request_id": "5a3c"})

    answer = _retrainer(handler).request_retrain(ADMIN, "why not")

    assert answer == RetrainAnswer(
        ok=True, message="retrain requested: request id 5a3c", status=202, request_id="5a3c"
    )
    assert seen[0].url.path == "/v1/retrain"
    assert seen[0].headers["X-API-Key"] == ADMIN
    assert json.loads(seen[0].content) == {"note": "why not"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, "the API key was not accepted"), (403, "an admin key is needed"), (500, "refused")],
)
def test_the_http_retrainer_explains_a_refusal(status: int, expected: str) -> None:
    answer = _retrainer(lambda _: httpx.Response(status, json={"detail": "nope"})).request_retrain(
        ADMIN, None
    )

    assert not answer.ok
    assert answer.status == status
    assert expected in answer.message
    assert "nope" in answer.message


def test_the_http_retrainer_says_when_the_api_cannot_be_reached_or_no_key_is_given() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = _retrainer(down).request_retrain(ADMIN, None)
    keyless = _retrainer(down).request_retrain("  ", None)

    assert not unreachable.ok
    assert "cannot be reached" in unreachable.message
    assert not keyless.ok
    assert "admin API key is needed" in keyless.message


def test_the_launch_command_runs_streamlit_headless_on_the_settings_address() -> None:
    settings = DashboardSettings(dashboard_host="0.0.0.0", dashboard_port=9555)

    command = streamlit_command(settings)

    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4].endswith("services/dashboard/app.py")
    pairs = dict(zip(command[5::2], command[6::2], strict=True))
    assert pairs["--server.address"] == "0.0.0.0"
    assert pairs["--server.port"] == "9555"
    assert pairs["--server.headless"] == "true"
    assert pairs["--browser.gatherUsageStats"] == "false"
    assert HEALTH_PATH == "/_stcore/health"
