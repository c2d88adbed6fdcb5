"""Real service processes for tests: started on free ports, awaited until ready, stopped cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "ServiceProcess",
    "alive",
    "http_ready",
    "run_whole",
    "scoring_children",
    "toxic_command",
]


def toxic_command(*args: str) -> list[str]:
    """The `toxic` CLI run by this interpreter, so the test's environment is the one used."""
    return [sys.executable, "-m", "services.cli", *args]


def scoring_children(pid: int) -> list[int]:
    """The multiprocessing children of process ``pid`` (a replica's scoring processes), not its
    resource tracker."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
            except FileNotFoundError:  # ended meanwhile
                continue
    return sorted(found)


def run_whole(
    command: Sequence[str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end, output captured, in a process group of its own: when it
    overruns ``timeout`` (or the test is interrupted) the whole group is killed, so what it
    started (a benchmark's stand-in and services) does not outlive it."""
    with subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):  # the whole group had ended meanwhile
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def alive(pid: int) -> bool:
    """Process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness check: ``url`` answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check


class ServiceProcess:
    """One child process with its output in a log file, for a test to start and stop."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_dir / f"{name}.log"
        self._env = {**os.environ, **(env or {})}
        self._ready = ready
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._require().pid

    @property
    def returncode(self) -> int | None:
        return self._require().poll()

    def _require(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._process

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        """Start the process and wait until its readiness check passes."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=self._env
            )
        if self._ready is not None:
            self.wait_until(self._ready, timeout, what="ready")
        return self

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self._require().poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.returncode} before it was {what}:\n{self.log()}"
                )
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} was not {what} within {timeout}s:\n{self.log()}")

    def signal(self, sig: signal.Signals) -> None:
        self._require().send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self._require().wait(timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; returns the exit code."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
