"""Polling with a deadline, for tests that wait on other processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    what: str,
    timeout: float = 20.0,
    *,
    every: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """The first truthy result of ``probe``, polled every ``every`` s until ``timeout``.

    ``describe`` adds context to the failure (such as a process's log).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(every)
    detail = f"\n{describe()}" if describe else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
