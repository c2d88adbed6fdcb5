"""``python -m services.up.guard --grace S -- COMMAND...``: one child of ``toxic up``, and all of
its descendants, stopped together.

``toxic up`` starts every process through this guard. The guard runs COMMAND in a process group
of its own and, on SIGTERM, sends SIGTERM to that whole group, waits until every member has
exited (``--grace`` seconds at most, then SIGKILL), and exits with COMMAND's status. It asks the
kernel (``prctl(PR_SET_PDEATHSIG)``) for that same SIGTERM when ``toxic up`` dies, even by
SIGKILL, so nothing is orphaned. The group matters: ``mlflow server`` runs its web server as a
child of its own, which a signal to ``mlflow`` alone would leave running.

Only the standard library is imported: the guard starts once per child and must start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

__all__ = ["die_with_parent", "main"]

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.05


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies do not count.

    An orphaned descendant that exited stays a zombie until PID 1 reaps it, which some
    container inits never do; ``killpg(pgid, 0)`` would count it as alive forever.
    """
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp, ...
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def run(command: list[str], grace: float, parent: int) -> int:
    """Run ``command`` until it exits or this guard is told to stop; returns its status."""
    die_with_parent()
    if os.getppid() != parent:
        return 1  # the parent died before the request above took effect
    # The command dies with the guard too, should the guard itself be killed.
    child = subprocess.Popen(command, process_group=0, preexec_fn=die_with_parent)
    stop_requested: list[float] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop_requested:
            stop_requested.append(time.monotonic())
            _signal_group(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status: int | None = None
    while True:
        if status is None:
            status = child.poll()
        if status is not None and not _group_alive(child.pid):
            return status if status >= 0 else 128 - status
        if status is not None and not stop_requested:
            # COMMAND exited and left descendants behind: stop them too.
            on_signal(signal.SIGTERM, None)
        if stop_requested and time.monotonic() - stop_requested[0] > grace:
            _signal_group(child.pid, signal.SIGKILL)
        time.sleep(_POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.up.guard")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds before SIGKILL")
    parser.add_argument("--parent", type=int, required=True, help="pid of toxic up")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --")
    return run(command, args.grace, args.parent)


if __name__ == "__main__":
    raise SystemExit(main())
