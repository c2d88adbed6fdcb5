"""`python -m bench.report` runs a benchmark as a process and writes the report from its figures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.harness.processes import run_whole

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


@pytest.mark.timeout(200)  # past the run's own timeout, so that one ends it and says so
def test_the_report_runs_the_bus_benchmark_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    result = run_whole(
        [sys.executable, "-m", "bench.report", "--only", "bus", "--quick", "--out", str(out)],
        timeout=180,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = out.read_text()
    assert "## Machine" in text
    assert "## bus" in text
    assert "| pipeline throughput at 50/s offered |" in text
    assert "events/s" in text
    assert "publish-to-handle p99 at 50/s" in text
