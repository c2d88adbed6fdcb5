"""The benchmark report says what was measured, against which target, and what failed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.report import BENCHES, Outcome, render
from bench.results import Figure, load, write

pytestmark = pytest.mark.unit

HOST = [("CPU", "test CPU, 2 logical cores")]
STARTED = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)


def outcome(name: str, figures: list[Figure], returncode: int = 0) -> Outcome:
    bench = next(b for b in BENCHES if b.name == name)
    command = ["python", "-m", bench.module, "--json", "x.json"]
    return Outcome(bench, command, 12.0, returncode, "printed by the bench\n", figures)


def test_figures_survive_the_round_trip_through_json(tmp_path: Path) -> None:
    figures = [Figure("batch throughput", 19_500.0, "comments/s", ">= 70%", False, "48%")]
    write(tmp_path / "r.json", "api_load", figures)

    assert load(tmp_path / "r.json") == ("api_load", figures)


def test_a_missed_target_and_a_failed_bench_are_named_in_the_summary() -> None:
    text = render(
        [
            outcome(
                "api_load",
                [
                    Figure("single p99 at 200 req/s", 1.46, "ms", "<= 10 ms", True),
                    Figure("batch share of in-process", 48.0, "%", ">= 70%", False),
                    Figure("saturated", 1374.0, "req/s"),
                ],
            ),
            outcome("bus", [], returncode=2),
        ],
        quick=False,
        started=STARTED,
        host=HOST,
    )

    assert "1 of 2 targets met." in text
    assert "- missed (api_load): batch share of in-process: 48 %, target >= 70%" in text
    assert "- **bus failed** (exit 2)" in text
    assert "| single p99 at 200 req/s | 1.46 ms | <= 10 ms | met |" in text
    assert "| saturated | 1,374 req/s | none set |" in text
    assert "Command: `python -m bench.api_load` (12 s, exit 0)" in text
    assert "test CPU, 2 logical cores" in text
    assert "Quick run" not in text


def test_a_quick_run_says_its_numbers_are_not_to_be_quoted() -> None:
    text = render([outcome("bus", [])], quick=True, started=STARTED, host=HOST)

    assert "**Quick run**" in text
    assert "bench.report --quick" in text
