"""The frontend in a real browser: headless Chromium scores a typed comment against a live system.

The stand-in, a champion, `toxic serve api` and `toxic serve frontend` run as they do for a
person; Playwright drives Debian's Chromium (Playwright's own browser download does not work
here). The screenshot is kept in the test's tmp dir (and in $TOXIC_SCREENSHOTS_DIR/frontend.png
when set).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from contracts import LABELS
from services.frontend.bootstrap import HEALTH_PATH
from shared.artifacts import ArtifactStore
from shared.aws import open_clients
from shared.infra import InfraSpec, ensure
from shared.settings import AwsSettings
from tests.browser.screenshots import keep
from tests.harness.api import Start, api_env, run_replica
from tests.harness.champion import publish_champion
from tests.harness.ports import free_port
from tests.harness.processes import http_ready, toxic_command

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
COMMENT = "You are a stupid fool and everyone knows it"


async def _deploy_champion(aws: AwsSettings) -> None:
    async with open_clients(aws) as clients:
        spec = InfraSpec.for_prefix(aws.prefix)
        await ensure(clients, spec)
        await publish_champion(ArtifactStore(clients.s3, spec.bucket.name), "v1")


# Most of its time is the API's start: 58 s of a 92 s run while other suites loaded both cores.
@pytest.mark.timeout(300)
def test_the_frontend_scores_a_typed_comment_and_shows_bars_per_label(
    aws_settings: AwsSettings, processes: Start, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (`.ci/run` installs Debian's chromium)")
    # Synchronous on purpose: Playwright's sync API runs its own event loop.
    asyncio.run(_deploy_champion(aws_settings))
    replica, env = api_env(aws_settings, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The frontend starts while the API loads its model; neither needs the other to start.
    frontend = processes(
        "frontend",
        toxic_command("serve", "frontend"),
        env={"TOXIC_FRONTEND_PORT": str(port), "TOXIC_FRONTEND_API_URL": replica.url},
    )
    run_replica(processes, replica, env)
    frontend.wait_until(http_ready(f"{url}{HEALTH_PATH}"), 60, what="healthy")

    shot = tmp_path / "frontend.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)
            page.get_by_role("textbox", name="Comment").fill(COMMENT)
            page.get_by_role("button", name="Score", exact=True).click()

            version = page.get_by_test_id("stMetric").filter(has_text="Model version")
            expect(version).to_contain_text("v1", timeout=60_000)
            chart = page.get_by_test_id("stVegaLiteChart")
            # The first run of a session imports the chart libraries: allow it some time.
            expect(chart.locator("svg")).to_be_visible(timeout=30_000)
            for label in LABELS:
                # The chart renders as SVG: each label's name is text on its bar's axis.
                name = chart.locator("svg text", has_text=re.compile(f"^{label.value}$"))
                expect(name).to_have_count(1)
                expect(name).to_be_visible()
            expect(chart.locator("svg path[aria-roledescription='bar']")).to_have_count(len(LABELS))
            marked = page.locator("mark.toxic-span")
            expect(marked.first).to_be_visible()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert shot.stat().st_size > 10_000
    keep(shot, "frontend.png")
