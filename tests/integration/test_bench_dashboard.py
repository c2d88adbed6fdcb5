"""`python -m bench.dashboard` at a tiny size runs end to end and prints its table (not its target).

It runs as its own process, as a person runs it: the benchmark configures logging for the whole
interpreter, which must not leak into the test session.
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
    r"^\s*(?P<predictions>[\d,]+)\s+(?P<items>[\d,]+)\s+(?P<minutes>[\d,]+)"
    r"\s+(?P<values>[\d,]+)\s+(?P<bytes>[\d,]+)\s+(?P<build>\d+)\s+(?P<refresh>\d+)"
    r"\s+(?P<p50>[\d.]+)\s+(?P<p95>[\d.]+)$"
)


@pytest.mark.timeout(300)
def test_the_dashboard_benchmark_seeds_loads_and_reports_p50_and_p95(tmp_path: Path) -> None:
    figures = tmp_path / "dashboard.json"
    result = run_whole(
        [
            *(sys.executable, "-m", "bench.dashboard", "--sizes", "300", "600", "--loads", "3"),
            *("--pairs", "5", "--days", "2", "--json", str(figures)),
        ],
        timeout=280,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    rows = [m for line in result.stdout.splitlines() if (m := ROW.match(line))]
    assert len(rows) == 2, result.stdout
    row, larger = rows
    # Poisson draws around 300 over two days; the last 24 h hold about half, by minute.
    assert 200 <= int(row["predictions"].replace(",", "")) <= 400
    assert int(row["items"].replace(",", "")) > int(row["minutes"].replace(",", "")) > 50
    assert int(row["values"].replace(",", "")) > int(row["minutes"].replace(",", ""))
    assert 0 < float(row["p50"]) <= float(row["p95"])
    assert 0 < int(row["bytes"].replace(",", "")) < 400_000
    assert int(row["build"]) > 0
    # Every measured load was served from the stored view, none read the rollups live.
    assert "read the rollups live" not in result.stdout
    # Five measured rounds and two warm-up rounds of each size; p50 and p95 over the first three.
    assert result.stdout.count(", view") == 14
    assert "p50 and p95 over 3 loads per size" in result.stdout
    assert re.search(r"^(PASS|MISS): p95 [\d.]+ ms at [\d,]+ predictions", result.stdout, re.M)
    assert re.search(r"^MISS: at [\d,]+ minus at [\d,]+: median [+-][\d.]+ ms", result.stdout, re.M)
    assert result.stdout.count("(warm-up)") == 4
    bench, written = load(figures)
    assert bench == "dashboard"
    [difference] = [f for f in written if "minus" in f.name]
    assert difference.met is not None
    assert (difference.target or "").startswith("95% CI within +")
    assert difference.met is False  # five paired loads cannot bound the median at 95%
    assert "over 5 paired loads" in difference.note
    _, p95 = [f for f in written if f.name.startswith("page data p95")]  # the larger size's
    assert p95.value is not None
    assert p95.value == pytest.approx(float(larger["p95"]), abs=0.06)
    assert p95.target == "<= 300 ms"
    assert p95.met is (p95.value <= 300)
    size, _ = [f for f in written if f.name.startswith("view size")]
    assert size.unit == "KB"
    assert size.value == pytest.approx(int(row["bytes"].replace(",", "")) / 1000)
    assert any(f.name.startswith("view build") and f.target is None for f in written)
