"""`python -m bench.api_load --quick` runs end to end and measures every phase (not its targets)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import api_load

pytestmark = pytest.mark.integration


def test_the_quick_api_load_benchmark_measures_every_phase_of_both_setups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = api_load.main(["--quick", "--tiny-model", "--logs", str(tmp_path)])

    assert report.in_process > 0
    for setup in (api_load.ALONE, api_load.MESH):
        phases = {phase.name: phase for phase in report.phases[setup]}
        assert set(phases) == {
            "single @ 50/s",
            "single saturated",
            "single @ 50/s during swap",
            "batch of 1000",
        }
        for phase in phases.values():
            assert phase.run.ok > 0, (setup, phase.name)
            assert phase.run.per_second > 0
            assert math.isfinite(phase.run.percentile_ms(0.99))
        assert phases["batch of 1000"].comments_per_second >= 1000
        assert math.isfinite(report.swaps[setup]), f"{setup}: the new model never answered"
        assert report.outbox_depth[setup] >= 0
    assert {check.what for check in report.checks} >= {"single saturated", "model swap"}
    printed = capsys.readouterr().out
    assert "set-up: API alone" in printed
    assert "set-up: whole mesh" in printed
