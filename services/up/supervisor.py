"""Child processes of ``toxic up``: started through the guard, watched, restarted, stopped.

Every line a child prints is echoed with its name in front. A child is healthy when it is alive,
its health URL (if any) answers 200 and the line it prints once ready (if any) has appeared. A
child that exits on its own is started again after a backoff that doubles with each failure in a
row (1 s, 2 s, 4 s ... 30 s) and resets once it has stayed up for a while; a child marked
``essential`` (the stand-in, MLflow) is not restarted: its exit stops ``toxic up``.

All ``Popen`` calls happen on the thread that created the supervisor: Linux sends the
parent-death signal when the *thread* that forked a child ends, not the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from services.up.guard import die_with_parent

__all__ = ["Backoff", "Child", "ChildSpec", "Supervisor", "http_ok"]

Echo = Callable[[str], None]


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child and how to tell that it is healthy."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    ready_line: str | None = None
    essential: bool = False
    stop_timeout: float = 20.0


@dataclass(frozen=True)
class Backoff:
    """Delay before the n-th restart in a row: ``first * 2**(n-1)``, at most ``most``."""

    first: float = 1.0
    most: float = 30.0
    stable_after: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.most, self.first * 2 ** max(0, failures - 1)))


class Child:
    """One running child: its process (the guard), its echoed output, what it has printed."""

    def __init__(self, spec: ChildSpec, echo: Echo, width: int) -> None:
        self.spec = spec
        self._echo = echo
        self._width = width
        self._ready_seen = threading.Event()
        command = [
            sys.executable,
            "-m",
            "services.up.guard",
            "--grace",
            str(self.spec.stop_timeout),
            "--parent",
            str(os.getpid()),
            "--",
            *self.spec.command,
        ]
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.spec.env},
            # Its own session: Ctrl-C reaches `toxic up` alone, which stops children in order.
            start_new_session=True,
            preexec_fn=die_with_parent,  # the point: die with `toxic up`
        )
        assert self.process.stdout is not None
        self._pump = threading.Thread(
            target=self._read, args=(self.process.stdout,), name=f"log-{self.spec.name}"
        )
        self._pump.daemon = True
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self, stream: IO[bytes]) -> None:
        prefix = f"{self.spec.name:<{self._width}} | "
        marker = self.spec.ready_line
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if marker is not None and marker in line:
                self._ready_seen.set()
            self._echo(prefix + line)
        stream.close()

    def healthy(self) -> bool:
        if not self.alive:
            return False
        if self.spec.ready_line is not None and not self._ready_seen.is_set():
            return False
        return self.spec.health_url is None or http_ok(self.spec.health_url)

    def terminate(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout``; output drained."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._pump.join(timeout=2)
        return status

    def kill(self) -> None:
        """SIGKILL the guard's whole session: the guard, the command and its descendants."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in _session_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()


def _session_members(session: int) -> list[int]:
    """Processes of a session (the guard gives the command a group of its own inside it)."""
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields after the name: state, ppid, pgrp, session
            members.append(int(entry))
    return members


@dataclass
class _Slot:
    spec: ChildSpec
    child: Child | None = None
    failures: int = 0
    restart_at: float | None = None
    stopping: bool = False
    restarts: int = 0


def _status(status: int | None) -> str:
    # uvicorn ends by re-raising the SIGTERM it handled: 143 is a graceful stop, not a failure.
    if status is not None and status > 128 and status - 128 in signal.valid_signals():
        return f"status {status}: ended by {signal.Signals(status - 128).name}"
    return f"status {status}"


class Supervisor:
    """Starts children, restarts those that crash, stops them in the order asked."""

    def __init__(
        self,
        echo: Echo = print,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int = 10,
    ) -> None:
        self._echo_lock = threading.Lock()
        self._raw_echo = echo
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._width = width
        self._slots: dict[str, _Slot] = {}

    def echo(self, line: str) -> None:
        """Print one line; children's lines and ours never interleave mid-line."""
        with self._echo_lock:
            self._raw_echo(line)

    def start(self, spec: ChildSpec) -> Child:
        if spec.name in self._slots and self._slots[spec.name].child is not None:
            raise ValueError(f"{spec.name} is already running")
        slot = self._slots.setdefault(spec.name, _Slot(spec))
        slot.child = Child(spec, self.echo, self._width)
        return slot.child

    def child(self, name: str) -> Child | None:
        slot = self._slots.get(name)
        return slot.child if slot else None

    def forget(self, name: str) -> None:
        """Drop a child that has exited and is not to be restarted (a one-off job)."""
        slot = self._slots.pop(name, None)
        if slot is not None and slot.child is not None and slot.child.alive:
            raise ValueError(f"{name} is still running")

    @property
    def names(self) -> list[str]:
        return list(self._slots)

    def restarts(self, name: str) -> int:
        return self._slots[name].restarts

    def wait_healthy(
        self,
        names: Iterable[str],
        timeout: float,
        poll_every: float = 0.2,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[str]:
        """Wait until every named child is healthy; returns those that were not in time.

        Crashed children are restarted meanwhile; an essential one's exit raises RuntimeError.
        """
        pending = list(names)
        deadline = self._clock() + timeout
        while pending and self._clock() < deadline and not cancelled():
            self.tend()
            pending = [n for n in pending if not (c := self.child(n)) or not c.healthy()]
            if pending:
                time.sleep(poll_every)
        return pending

    def tend(self) -> None:
        """Notice exits, restart what is due; raises RuntimeError when an essential child exits."""
        now = self._clock()
        for name, slot in self._slots.items():
            child = slot.child
            if slot.stopping:
                continue
            if child is not None and not child.alive:
                status = child.wait(1)
                if slot.spec.essential:
                    raise RuntimeError(f"{name} exited with status {status}")
                if now - child.started >= self._backoff.stable_after:
                    slot.failures = 0
                slot.failures += 1
                delay = self._backoff.delay(slot.failures)
                slot.child = None
                slot.restart_at = now + delay
                self.echo(
                    f"{name} exited with status {status}; restarting in {delay:g} s "
                    f"(failure {slot.failures} in a row)"
                )
            elif child is None and slot.restart_at is not None and now >= slot.restart_at:
                slot.restart_at = None
                slot.restarts += 1
                slot.child = Child(slot.spec, self.echo, self._width)
                self.echo(f"{name} restarted (pid {slot.child.pid})")

    def stop(self, names: Sequence[str]) -> dict[str, int | None]:
        """Stop these children together: SIGTERM, wait, SIGKILL what outlives its timeout."""
        slots = [self._slots[n] for n in names if n in self._slots]
        for slot in slots:
            slot.stopping = True
            slot.restart_at = None
            if slot.child is not None:
                slot.child.terminate()
        statuses: dict[str, int | None] = {}
        began = self._clock()
        for slot in slots:
            child = slot.child
            if child is None:
                continue
            # The guard kills its command after stop_timeout; a little more for it to report.
            remaining = max(0.0, slot.spec.stop_timeout + 2 - (self._clock() - began))
            status = child.wait(remaining)
            if status is None:
                self.echo(f"{slot.spec.name} did not stop in {slot.spec.stop_timeout:g} s; killed")
                child.kill()
            statuses[slot.spec.name] = status
            self.echo(f"{slot.spec.name} stopped ({_status(status)})")
            slot.child = None
        return statuses

    def stop_all(self, order: Sequence[Sequence[str]]) -> None:
        """Stop in groups, in order (children not named keep running)."""
        for group in order:
            self.stop(group)
