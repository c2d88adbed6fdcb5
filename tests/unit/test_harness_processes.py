"""The test harness's own process helpers: what a run starts ends with it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.processes import alive, run_whole

pytestmark = pytest.mark.unit


def test_run_whole_returns_the_output_and_exit_code() -> None:
    result = run_whole([sys.executable, "-c", "print('out'); raise SystemExit(3)"], timeout=30)
    assert (result.returncode, result.stdout) == (3, "out\n")


def test_an_overrunning_run_is_killed_with_what_it_started(tmp_path: Path) -> None:
    started = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '120'])\n"
        f"open({str(started)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    began = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_whole([sys.executable, "-c", script], timeout=3)
    assert time.monotonic() - began < 30
    grandchild = int(started.read_text())
    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)
