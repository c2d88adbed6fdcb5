"""`python -m bench.api_load --quick` runs end to end and measures every phase (not its targets).

It runs as its own process, as a person runs it: the benchmark configures logging and its own
event loop for the whole interpreter, which must not leak into the test session.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bench.results import load
from tests.harness.processes import run_whole

pytestmark = pytest.mark.integration

ROW = re.compile(
    r"^(?P<phase>single @ 50/s|single saturated|single @ 50/s during swap|batch of 1000)"
    r"\s+(?P<rps>[\d,.]+)\s+(?P<comments>[\d,]+)\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)"
    r"\s+(?P<p99>[\d.]+)\s+(?P<failed>\d+)\s"
)


@pytest.mark.timeout(330)  # past the run's own timeout, so that one ends it and says so
def test_the_quick_api_load_benchmark_measures_every_phase_of_both_setups(tmp_path: Path) -> None:
    result = run_whole(
        [
            sys.executable,
            "-m",
            "bench.api_load",
            "--quick",
            "--tiny-model",
            "--logs",
            str(tmp_path),
            "--json",
            str(tmp_path / "figures.json"),
        ],
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = result.stdout
    sections = report.split("set-up: ")[1:]
    assert [s.splitlines()[0] for s in sections[:2]] == ["API alone", "whole mesh"]
    for section in sections[:2]:
        rows = {m["phase"]: m for line in section.splitlines() if (m := ROW.match(line))}
        assert set(rows) == {
            "single @ 50/s",
            "single saturated",
            "single @ 50/s during swap",
            "batch of 1000",
        }
        for row in rows.values():
            assert float(row["rps"].replace(",", "")) > 0
            assert float(row["p99"]) > 0
        assert int(rows["batch of 1000"]["comments"].replace(",", "")) >= 1000
        swap = re.search(
            r"first answer of v2: ([\d.]+) s; failed requests during the swap run: (\d+)", section
        )
        assert swap is not None, "the new model never answered"
    assert re.search(r"in-process predict_proba, batches of 1000: [\d,]+ comments/s", report)
    bench, figures = load(tmp_path / "figures.json")
    judged = {f.name: f for f in figures if f.target is not None}
    assert bench == "api_load"
    assert {"batch / in-process (API alone)", "model swap (API alone)"} <= set(judged)
    assert judged["model swap (API alone)"].target == "<= 2 s"
    assert any(f.name == "single saturated (whole mesh)" and f.value for f in figures)
