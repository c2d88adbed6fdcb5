"""A light HTTP/1.1 load generator on asyncio streams: fixed-rate (open loop) and saturating.

It shares two cores with the API it measures, so it does as little as it can per request: every
request is prebuilt bytes, a response is read only as far as its status, ``Content-Length`` and
one JSON field (``model_version``), and connections are kept alive.

- :func:`open_loop` sends at a fixed rate on a clock. A request's latency counts from when it was
  due, not from when a connection was free to send it, so a server that stalls cannot hide the
  stall by slowing the generator down (coordinated omission): requests that wait for a free
  connection carry their wait in their latency. Timers fire up to a millisecond late, which would
  add the generator's own timer error to every latency; so the clock releases a request up to
  ``EARLY`` seconds before it is due, and a request sent early counts from when it was sent.
- :func:`closed_loop` keeps N connections busy, each sending its next request as soon as the
  previous answer is read: the most the server can answer.

Both run a warm-up first, which is not measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = ["Connection", "Run", "Sample", "closed_loop", "open_loop", "post", "requests_for"]

_VERSION = b'"model_version":"'
EARLY = 0.001


def post(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    """One keep-alive POST with a JSON body, as bytes ready to write."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def requests_for(host: str, port: int, path: str, bodies: Sequence[object]) -> list[bytes]:
    """One prebuilt POST per JSON-serialisable body."""
    return [post(host, port, path, json.dumps(b).encode()) for b in bodies]


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: when its latency starts and when it was answered (perf_counter seconds).

    ``start`` is when the request was due, or when it was sent if that was earlier.
    """

    start: float
    done: float
    status: int  # 0: the connection failed
    version: str | None

    @property
    def latency_ms(self) -> float:
        return (self.done - self.start) * 1000.0


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader, self._writer = reader, writer
        return reader, writer

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request``, return the status and body of its response."""
        if self._reader is None or self._writer is None:
            reader, writer = await self._open()
        else:
            reader, writer = self._reader, self._writer
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lowered = head.lower()
            at = lowered.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("a response without Content-Length")
            end = lowered.index(b"\r\n", at + 2)
            body = await reader.readexactly(int(lowered[at + 17 : end]))
            if b"\r\nconnection: close" in lowered:
                await self.close()
            return status, body
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _version(body: bytes) -> str | None:
    at = body.find(_VERSION)
    if at < 0:
        return None
    start = at + len(_VERSION)
    return body[start : body.index(b'"', start)].decode()


async def _send(connection: Connection, request: bytes, due: float) -> Sample:
    start = min(due, time.perf_counter())
    try:
        status, body = await connection.exchange(request)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        return Sample(start, time.perf_counter(), 0, None)
    return Sample(start, time.perf_counter(), status, _version(body))


@dataclass
class Run:
    """The measured samples of one load run and the window they were sent in."""

    samples: list[Sample] = field(default_factory=list)
    window: float = 0.0  # seconds of sending that were measured
    started: float = 0.0  # perf_counter at the start of the measured window

    @property
    def ok(self) -> int:
        return sum(1 for s in self.samples if s.status == 200)

    @property
    def failed(self) -> int:
        return len(self.samples) - self.ok

    @property
    def per_second(self) -> float:
        """Answered requests (status 200) per second of the measured window."""
        return self.ok / self.window if self.window > 0 else math.nan

    def percentile_ms(self, q: float) -> float:
        """The ``q`` quantile (nearest rank) of every measured request's latency, in ms."""
        latencies = sorted(s.latency_ms for s in self.samples)
        if not latencies:
            return math.nan
        return latencies[min(len(latencies) - 1, max(0, math.ceil(q * len(latencies)) - 1))]


def _cycle(requests: Sequence[bytes]) -> Iterator[bytes]:
    while True:
        yield from requests


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    seconds: float,
    *,
    warmup: float,
    connections: int = 16,
    drain_timeout: float = 30.0,
) -> Run:
    """Send ``rate`` requests a second for ``warmup + seconds``; measure those due after warm-up."""
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    samples: list[Sample] = []
    began = time.perf_counter()
    measured_from = began + warmup
    ends = measured_from + seconds

    async def worker() -> None:
        connection = Connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                due, request = item
                sample = await _send(connection, request, due)
                if due >= measured_from:
                    samples.append(sample)
        finally:
            await connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    upcoming = _cycle(requests)
    interval = 1.0 / rate
    sent = 0
    while (due := began + sent * interval) < ends:
        delay = due - time.perf_counter() - EARLY
        if delay > 0:
            await asyncio.sleep(delay)
        # Everything due by now goes out, even after a late wake-up: the clock sets the rate.
        now = time.perf_counter() + EARLY
        while (due := began + sent * interval) <= now and due < ends:
            queue.put_nowait((due, next(upcoming)))
            sent += 1
    for _ in workers:
        queue.put_nowait(None)
    _, late = await asyncio.wait(workers, timeout=drain_timeout)
    for task in late:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return Run(samples, seconds, measured_from)


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    seconds: float,
    *,
    warmup: float,
    connections: int = 8,
) -> Run:
    """Keep ``connections`` requests in flight for ``warmup + seconds``; measure the answers
    that came after the warm-up."""
    samples: list[Sample] = []
    began = time.perf_counter()
    measured_from = began + warmup
    ends = measured_from + seconds

    async def worker(offset: int) -> None:
        connection = Connection(host, port)
        upcoming = _cycle([*requests[offset:], *requests[:offset]])
        try:
            while time.perf_counter() < ends:
                sample = await _send(connection, next(upcoming), math.inf)
                if measured_from <= sample.done <= ends:
                    samples.append(sample)
        finally:
            await connection.close()

    spread = max(1, len(requests) // connections)
    await asyncio.gather(*(worker(i * spread % len(requests)) for i in range(connections)))
    return Run(samples, seconds, measured_from)
