"""The supervisor of `toxic up` with tiny real children (`python -c`): prefixed logs, restarts
with backoff, stops in order, nothing left behind, not even after a SIGKILL of the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from services.up.supervisor import Backoff, ChildSpec, Supervisor

pytestmark = pytest.mark.unit


class Lines:
    """What the supervisor printed, for assertions (thread-safe: pumps run on threads)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    @property
    def all(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def index(self, text: str) -> int:
        return next(i for i, line in enumerate(self.all) if text in line)

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.all:
                if text in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} in {self.all}")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_every_line_a_child_prints_carries_its_name() -> None:
    lines = Lines()
    supervisor = Supervisor(lines, width=6)
    child = supervisor.start(ChildSpec("echo", python("print('hello'); print('world')")))
    assert child.wait(10) == 0
    assert "echo   | hello" in lines.all
    assert "echo   | world" in lines.all


def test_a_child_is_healthy_once_it_printed_its_ready_line() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    code = "import time; time.sleep(0.5); print('consumer_started', flush=True); time.sleep(60)"
    supervisor.start(ChildSpec("worker", python(code), ready_line="consumer_started"))
    child = supervisor.child("worker")
    assert child is not None
    assert not child.healthy()
    assert supervisor.wait_healthy(["worker"], timeout=10) == []
    supervisor.stop(["worker"])
    assert not child.alive


def test_a_crashing_child_is_restarted_with_a_doubling_backoff() -> None:
    lines = Lines()
    supervisor = Supervisor(lines, backoff=Backoff(first=0.1, most=0.4, stable_after=60))
    supervisor.start(ChildSpec("flaky", python("print('up'); raise SystemExit(3)")))
    deadline = time.monotonic() + 20
    while supervisor.restarts("flaky") < 4 and time.monotonic() < deadline:
        supervisor.tend()
        time.sleep(0.02)
    supervisor.stop(["flaky"])
    said = [line for line in lines.all if "restarting in" in line]
    assert said[:4] == [
        "flaky exited with status 3; restarting in 0.1 s (failure 1 in a row)",
        "flaky exited with status 3; restarting in 0.2 s (failure 2 in a row)",
        "flaky exited with status 3; restarting in 0.4 s (failure 3 in a row)",
        "flaky exited with status 3; restarting in 0.4 s (failure 4 in a row)",
    ]
    assert sum("flaky restarted" in line for line in lines.all) >= 4


def test_an_essential_child_that_exits_stops_everything() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start(
        ChildSpec("stand-in", python("raise SystemExit(2)"), ready_line="ready", essential=True)
    )
    with pytest.raises(RuntimeError, match="stand-in exited with status 2"):
        supervisor.wait_healthy(["stand-in"], timeout=10)


def test_groups_stop_in_the_order_given() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    code = """
        import signal, sys, time
        def bye(*_):
            print('bye', flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print('ready', flush=True)
        time.sleep(60)
    """
    for name in ("api", "logger"):
        supervisor.start(ChildSpec(name, python(code), ready_line="ready"))
    assert supervisor.wait_healthy(["api", "logger"], timeout=10) == []
    supervisor.stop_all([["api"], ["logger"]])
    assert lines.index("api        | bye") < lines.index("api stopped (status 0)")
    assert lines.index("api stopped (status 0)") < lines.index("logger     | bye")
    assert lines.index("logger     | bye") < lines.index("logger stopped (status 0)")


def test_a_child_that_ignores_sigterm_is_killed_with_its_children_after_its_timeout() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    code = """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
        print('grandchild', grandchild.pid, flush=True)
        time.sleep(60)
    """
    child = supervisor.start(ChildSpec("stubborn", python(code), stop_timeout=0.5))
    grandchild = int(lines.wait_for("grandchild ").rsplit(" ", 1)[1])
    started = time.monotonic()
    statuses = supervisor.stop(["stubborn"])
    assert time.monotonic() - started < 5
    assert statuses["stubborn"] == 128 + signal.SIGKILL
    assert not alive(child.pid)
    assert eventually(lambda: not alive(grandchild), 5)


PARENT = """
import sys, time
from services.up.supervisor import ChildSpec, Supervisor
supervisor = Supervisor()
code = ("import subprocess, sys, time; "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('grandchild', g.pid, flush=True); time.sleep(60)")
child = supervisor.start(ChildSpec("sleepy", [sys.executable, "-c", code]))
print("guard", child.pid, flush=True)
time.sleep(60)
"""


def test_a_sigkilled_parent_leaves_no_child_and_no_grandchild_behind() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert parent.stdout is not None
    pids: dict[str, int] = {}
    while len(pids) < 2:
        line = parent.stdout.readline()
        assert line, "the parent exited early"
        words = line.split()
        if words[-2] in ("guard", "grandchild"):
            pids[words[-2]] = int(words[-1])
    parent.kill()
    parent.wait()
    parent.stdout.close()
    assert eventually(lambda: not alive(pids["guard"]), 10)
    assert eventually(lambda: not alive(pids["grandchild"]), 10)
