"""The dashboard in a real browser: headless Chromium shows a live system's counts and charts.

The stand-in, a champion (published as the training does: pointer in S3 and ``ModelPublished`` on
the bus), `toxic serve api`, `logger`, `monitoring` and `dashboard` run as they do for a person.
N comments are scored through the API; once the monitoring's rollups count N, Playwright drives
Debian's Chromium to the dashboard and checks the count, the model version and the charts. The
screenshot is kept in the test's tmp dir (and in $TOXIC_SCREENSHOTS_DIR/dashboard.png when set).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from services.dashboard.bootstrap import HEALTH_PATH
from shared.artifacts import ArtifactStore
from shared.aws import open_clients
from shared.infra import InfraSpec, ensure
from shared.monitoring.reader import DynamoMonitoringReader
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests.browser.screenshots import keep
from tests.harness.api import Start, api_env, logger_env, run_replica, start_logger
from tests.harness.champion import publish_champion
from tests.harness.ports import free_port
from tests.harness.processes import http_ready, toxic_command
from tests.harness.waiting import eventually

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
MODEL_NAME = "toxicity"
SENT = 12
COMMENTS = ("what a thoughtful reply", "you are a stupid fool", "thanks, fixed the typo")


async def _deploy_champion(aws: AwsSettings) -> None:
    """The champion as the training publishes one: files and pointer in S3, then the event."""
    async with open_clients(aws) as clients:
        spec = InfraSpec.for_prefix(aws.prefix)
        await ensure(clients, spec)
        store = ArtifactStore(clients.s3, spec.bucket.name)
        published = await publish_champion(store, "v1", model_name=MODEL_NAME)
        publisher = await open_publisher(clients, spec)
        await publisher.publish([published.event(store)])


async def _score_and_wait(aws: AwsSettings, api_url: str) -> None:
    """Score ``SENT`` comments, then wait until the rollups and the current model show them."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for i in range(SENT):
            answer = await http.post("/v1/predict", json={"text": COMMENTS[i % len(COMMENTS)]})
            assert answer.status_code == 200, answer.text
    async with open_clients(aws) as clients:
        reader = DynamoMonitoringReader(clients.dynamodb, InfraSpec.for_prefix(aws.prefix))

        async def counted() -> bool:
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            days = await reader.rollups("day", "*", today, today)
            current = await reader.current_model()
            total = sum(int(counters.get("predictions", 0)) for _, counters in days)
            return total == SENT and current is not None

        await eventually(counted, f"the rollups to count {SENT} predictions", 60, every=0.5)


# Most of its time is the processes' start (the API loads its model) on a shared machine.
@pytest.mark.timeout(300)
def test_the_dashboard_shows_the_predictions_sent_the_model_version_and_charts(
    aws_settings: AwsSettings, processes: Start, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (`.ci/run` installs Debian's chromium)")
    # Synchronous on purpose: Playwright's sync API runs its own event loop.
    asyncio.run(_deploy_champion(aws_settings))
    replica, env = api_env(aws_settings, tmp_path)
    start_logger(processes, aws_settings)
    # The view every second: the page, opened after the rollups count SENT, shows a view that does.
    monitoring_env = {
        **logger_env(aws_settings),
        "TOXIC_VIEW_SECONDS": "1",
        "TOXIC_MODEL_NAME": MODEL_NAME,
    }
    processes("monitoring", toxic_command("serve", "monitoring"), env=monitoring_env)
    run_replica(processes, replica, env)
    asyncio.run(_score_and_wait(aws_settings, replica.url))

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dashboard = processes(
        "dashboard",
        toxic_command("serve", "dashboard"),
        env={
            "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
            "TOXIC_PREFIX": aws_settings.prefix,
            "TOXIC_MODEL_NAME": MODEL_NAME,
            "TOXIC_DASHBOARD_PORT": str(port),
            "TOXIC_DASHBOARD_API_URL": replica.url,
        },
    )
    dashboard.wait_until(http_ready(f"{url}{HEALTH_PATH}"), 60, what="healthy")

    shot = tmp_path / "dashboard.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(url)
            predictions = page.get_by_test_id("stMetric").filter(has_text="Predictions")
            expect(predictions.first).to_contain_text(str(SENT), timeout=60_000)
            expect(predictions).to_have_count(2)
            expect(predictions.nth(1)).to_contain_text(str(SENT))
            expect(page.get_by_text("Current model version: v1")).to_be_visible()
            expect(page.get_by_text("built by the monitoring")).to_be_visible()
            charts = page.get_by_test_id("stVegaLiteChart").filter(visible=True)
            # The first run of a session imports the chart libraries: allow it some time.
            expect(charts.first.locator("svg, canvas").first).to_be_visible(timeout=30_000)
            # The page draws its charts one after another: wait for a third, not count at once.
            expect(charts.nth(2).locator("svg, canvas").first).to_be_visible(timeout=30_000)
            page.get_by_role("tab", name="Models").click()
            expect(page.get_by_text("published").first).to_be_visible()
            page.get_by_role("tab", name="Overview").click()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert shot.stat().st_size > 10_000
    keep(shot, "dashboard.png")
