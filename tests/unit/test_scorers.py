"""Scoring processes: real child processes holding the tiny model, as a replica starts them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from services.api.scorers import ScoringProcesses
from shared.model.artifact import dumps, sha256_of
from tests.harness.champion import tiny_model
from tests.harness.processes import alive, scoring_children

pytestmark = pytest.mark.unit

TEXTS = ["you are a wonderful person", "shut up you idiot", "I will find you", "thanks!"] * 5


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.05)


@pytest.fixture
def model_bytes() -> tuple[bytes, str]:
    data = dumps(tiny_model())
    return data, sha256_of(data)


@pytest.fixture
def started(model_bytes: tuple[bytes, str]) -> Iterator[ScoringProcesses]:
    scorer = ScoringProcesses(*model_bytes, "v1", 1)
    scorer.start()
    try:
        wait_for(lambda: scorer.ready)
        yield scorer
    finally:
        scorer.close()


async def test_a_child_scores_as_the_model_does_in_process(
    started: ScoringProcesses,
) -> None:
    scorer = started
    answered = await scorer.predict_proba(TEXTS)
    assert answered is not None
    np.testing.assert_array_equal(answered, tiny_model().predict_proba(TEXTS))
    assert scorer.pid not in (None, os.getpid())


async def test_every_child_starts_at_once_and_one_loaded_makes_them_ready(
    model_bytes: tuple[bytes, str],
) -> None:
    before = set(scoring_children(os.getpid()))
    scorer = ScoringProcesses(*model_bytes, "v1", 2)
    assert await scorer.predict_proba(TEXTS) is None  # not started: the replica scores itself
    scorer.start()
    try:
        # Both start now, not in a later request.
        wait_for(lambda: len(set(scoring_children(os.getpid())) - before) == 2)
        wait_for(lambda: scorer.ready)
        assert scorer.pid in set(scoring_children(os.getpid()))
        answered = await scorer.predict_proba(TEXTS)
        assert answered is not None
        assert answered.shape == (len(TEXTS), 6)
    finally:
        scorer.close()


async def test_children_refuse_bytes_that_do_not_match_the_sha256(
    model_bytes: tuple[bytes, str],
) -> None:
    data, sha256 = model_bytes
    scorer = ScoringProcesses(data[:-10] + b"0123456789", sha256, "v1", 1, restart_seconds=60)
    scorer.start()
    try:
        wait_for(lambda: scorer.failures == 1)
        assert not scorer.ready
        assert await scorer.predict_proba(TEXTS) is None
    finally:
        scorer.close()


async def test_a_dead_child_gives_its_batch_back_and_is_replaced_after_a_pause(
    model_bytes: tuple[bytes, str],
) -> None:
    scorer = ScoringProcesses(*model_bytes, "v1", 1, restart_seconds=1.0)
    scorer.start()
    try:
        wait_for(lambda: scorer.ready)
        first = scorer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not alive(first))
        # Broken: the replica scores these; three batches in flight count one failure.
        answers = await asyncio.gather(*(scorer.predict_proba(TEXTS) for _ in range(3)))
        assert answers == [None, None, None]
        assert (scorer.fallbacks, scorer.failures, scorer.ready) == (3, 1, False)
        wait_for(lambda: scorer.ready)  # a new child, a second later
        assert scorer.pid not in (None, first)
        assert await scorer.predict_proba(TEXTS) is not None
        assert scorer.failures == 0
    finally:
        scorer.close()


async def test_closed_children_take_nothing_more_and_exit(
    started: ScoringProcesses,
) -> None:
    scorer = started
    pid = scorer.pid
    assert pid is not None
    scorer.close()
    assert await scorer.predict_proba(TEXTS) is None
    wait_for(lambda: not alive(pid), seconds=10)


def test_children_exit_when_the_replica_is_killed(model_bytes: tuple[bytes, str]) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from services.api.scorers import ScoringProcesses
        data = sys.stdin.buffer.read()
        scorer = ScoringProcesses(data, sys.argv[1], "v1", 1)
        scorer.start()
        while not scorer.ready:
            time.sleep(0.05)
        print("child", scorer.pid, flush=True)
        time.sleep(600)
        """
    )
    data, sha256 = model_bytes
    replica = subprocess.Popen(
        [sys.executable, "-c", script, sha256],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=False,
    )
    assert replica.stdin is not None
    assert replica.stdout is not None
    replica.stdin.write(data)
    replica.stdin.close()
    line = b""
    while not line.startswith(b"child "):  # the replica's log lines come first
        line = replica.stdout.readline()
        assert line, "the replica ended before its child was ready"
    child = int(line.split()[1])
    assert alive(child)
    replica.send_signal(signal.SIGKILL)
    replica.wait()
    replica.stdout.close()
    wait_for(lambda: not alive(child), seconds=10)
