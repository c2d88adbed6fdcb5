"""Batches scored in child processes, each holding its own copy of the served model.

Per comment of a batch, a replica's event loop does about half as much work as the model
(validation, moderation, the events, the outbox, the response), and much of both is Python. In a
thread, the two take turns on one interpreter lock, so a replica scoring batches used about 1.4 of
this machine's 2 cores. A child process scores beside the loop instead, under its own lock; what
crosses between them is the texts and a (n, labels) array.

The children load the same verified bytes the replica loaded (``shared.model.artifact.loads``
checks the sha256 again and loads only trusted types). They are started when a model is loaded and
are ready a few seconds later (importing the model's libraries takes most of it); until then, and
whenever they fail, batches score in a thread as before: a request never waits for a child to
start and never fails because one did. When a newer
model is swapped in, the old children finish what they were given and stop. A child stops by
itself when the replica is gone, even after a SIGKILL, and ignores the terminal's Ctrl-C, so a
replica stopping gracefully keeps its children to the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from numpy.typing import NDArray

from shared.logs import get_logger
from shared.model.artifact import loads
from shared.model.toxicity import ToxicityModel

__all__ = ["MAX_RESTART_SECONDS", "RESTART_SECONDS", "ScoringProcesses"]

log = get_logger(__name__)

RESTART_SECONDS = 10.0
"""How long after the children broke (one died, or none could load) new ones are started."""
MAX_RESTART_SECONDS = 300.0

_PARENT_CHECK_SECONDS = 1.0

# --- in a child ---------------------------------------------------------------------------------

_model: ToxicityModel | None = None


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(0)  # the replica is gone: nobody will read an answer


def _start_child(data: bytes, sha256: str, parent: int) -> None:
    global _model
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _model = loads(data, sha256)
    _model.predict_proba(["warm up"])  # builds the n-gram lookup table
    # What is loaded lives as long as the child: out of the cyclic collector's full passes.
    gc.collect()
    gc.freeze()


def _loaded() -> int:
    if _model is None:
        raise RuntimeError("the scoring process has no model")
    return os.getpid()


def _predict_proba(texts: list[str]) -> NDArray[np.float64]:
    if _model is None:
        raise RuntimeError("the scoring process has no model")
    return _model.predict_proba(texts)


# --- in the replica -----------------------------------------------------------------------------


class ScoringProcesses:
    """``processes`` children scoring with the model in ``data`` (whose sha256 is ``sha256``)."""

    def __init__(
        self,
        data: bytes,
        sha256: str,
        version: str,
        processes: int,
        *,
        restart_seconds: float = RESTART_SECONDS,
    ) -> None:
        if processes < 1:
            raise ValueError(f"at least one scoring process, not {processes}")
        self.version = version
        self.processes = processes
        self._data = data
        self._sha256 = sha256
        self._restart_seconds = restart_seconds
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False
        self.fallbacks = 0  # batches given back to the replica to score itself (None)
        self.failures = 0  # times the children broke since they were last ready
        self.pid: int | None = None  # of the first child that loaded

    @property
    def ready(self) -> bool:
        return self._ready and not self._closed

    def start(self) -> None:
        """Start the children in the background; ready once one of them has loaded the model."""
        threading.Thread(target=self._start, name="scoring-processes", daemon=True).start()

    def _start(self) -> None:
        started = time.monotonic()
        with self._lock:
            if self._closed:
                return
            executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child,
                initargs=(self._data, self._sha256, os.getpid()),
            )
            self._executor = executor
            self._ready = False
        # One call per child, submitted at once: each submit that finds no idle child starts
        # one, so all of them start (and load) now rather than in the middle of a request. A
        # submit blocks until its child has imported what it needs (seconds): hence a thread.
        loaded: list[concurrent.futures.Future[int]] = []
        try:
            for _ in range(self.processes):
                loaded.append(executor.submit(_loaded))
        except (BrokenProcessPool, RuntimeError) as exc:  # closed meanwhile, or a child died
            if not self._closed:
                self._broke(f"{type(exc).__name__}: {exc}")
            return

        def done(future: concurrent.futures.Future[int]) -> None:
            if executor is not self._executor or self._ready:
                return
            error = future.exception()
            if error is None:
                # One child is enough to take batches: the others take them once loaded.
                self.pid = future.result()
                self.failures = 0
                self._ready = True
                log.info(
                    "scoring_processes_ready",
                    model_version=self.version,
                    processes=self.processes,
                    seconds=round(time.monotonic() - started, 3),
                )
            elif all(f.done() for f in loaded):
                self._broke(f"{type(error).__name__}: {error}")

        for future in loaded:
            future.add_done_callback(done)

    async def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        """The model's probabilities from a child; None when no child can answer now."""
        executor = self._executor
        if not self.ready or executor is None:
            self.fallbacks += 1
            return None
        try:
            future = executor.submit(_predict_proba, list(texts))
            return await asyncio.wrap_future(future)
        except (BrokenProcessPool, RuntimeError) as exc:  # a child died, or we were closed
            # Every batch in flight fails with the same death: the first one counts it.
            if executor is self._executor and self._ready and not self._closed:
                self._broke(f"{type(exc).__name__}: {exc}")
            self.fallbacks += 1
            return None

    def _broke(self, error: str) -> None:
        self._ready = False
        self.failures += 1
        # Twice as long after each failure in a row (children that cannot load keep failing).
        delay = min(self._restart_seconds * 2 ** (self.failures - 1), MAX_RESTART_SECONDS)
        log.warning(
            "scoring_processes_failed",
            model_version=self.version,
            error=error,
            restart_in_seconds=delay,
        )
        restart = threading.Timer(delay, self._restart)
        restart.daemon = True
        restart.start()

    def _restart(self) -> None:
        with self._lock:
            if self._closed:
                return
            old, self._executor = self._executor, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)
        self._start()

    def close(self) -> None:
        """Stop taking batches; the children finish those they hold, then exit."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
