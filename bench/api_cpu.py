"""CPU per comment of ``POST /v1/predict/batch`` in process: the replica's own work and the model's.

    uv run python -m bench.api_cpu [--requests 10] [--rounds 5] [--single]

Throughput on a machine others share says little; CPU time says more. This calls the real app
(routes, validation, scoring service, an outbox on disk) over ASGI, without sockets, once with
the benchmark's model and once with that model's answers for the batch precomputed, so the
second run times only the replica's own work. Each figure is the best of ``--rounds``, in
microseconds of this process's CPU (all threads) per comment. ``--single`` sends one comment a
request instead of 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from starlette.types import Message

from bench.api_load import MAX_TEXT_CHARS
from bench.workload import DEFAULT_DATA, comments, read_data, realistic_model
from services.api.app import build_app
from services.api.outbox import Outbox
from shared.bus import InMemoryBroker
from shared.logs import configure_logging
from shared.model.toxicity import Contribution, ToxicityModel
from tests.harness.api_context import fake_context, serving_model

__all__ = ["main"]


class Precomputed:
    """A model that answers a known batch with the real model's probabilities, at no cost."""

    def __init__(self, model: ToxicityModel, batch: Sequence[str]) -> None:
        self._model = model
        self._answers = model.predict_proba(batch)
        self.thresholds = model.thresholds

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return self._answers[: len(texts)].copy()

    def explain(self, text: str, top: int = 5) -> dict[Any, list[Contribution]]:
        return self._model.explain(text, top)


async def _cpu_per_comment(model: object, body: bytes, path: str, per: int, count: int) -> float:
    context, _ = fake_context(serving=serving_model(model, "bench"))  # type: ignore[arg-type]
    state = Path(tempfile.mkdtemp(prefix="api-cpu-"))
    outbox = Outbox(state / "outbox.sqlite3", InMemoryBroker(), capacity=100_000_000)
    context.service._sink = outbox  # the real outbox on disk, as a replica has
    context.outbox = outbox
    app = build_app(context.settings, context.metrics)
    app.state.context = context
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def call() -> None:
        sent: list[Message] = []
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if delivered:
                await asyncio.sleep(3600)
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(dict(scope, state={}), receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path} answered {sent[0]['status']}: {sent[1:]}")

    for _ in range(3):  # warm up
        await call()
    gc.collect()
    began = time.process_time()
    for _ in range(count):
        await call()
    spent = time.process_time() - began
    await outbox.close(drain_timeout=0)
    return spent / (count * per) * 1e6


async def run(requests: int, rounds: int, single: bool) -> None:
    data = read_data(DEFAULT_DATA)
    texts = comments(data, MAX_TEXT_CHARS)
    model = realistic_model(data, DEFAULT_DATA, 20_000).model
    batch = texts[:1_000]
    per = 1 if single else len(batch)
    path = "/v1/predict" if single else "/v1/predict/batch"
    body = json.dumps({"text": batch[0]} if single else {"texts": batch}).encode()
    count = requests * (len(batch) // per)
    answers = Precomputed(model, batch)
    whole: list[float] = []
    own: list[float] = []
    alone: list[float] = []
    for _ in range(rounds):
        whole.append(await _cpu_per_comment(model, body, path, per, count))
        own.append(await _cpu_per_comment(answers, body, path, per, count))
        began = time.process_time()
        for _ in range(requests):
            model.predict_proba(batch)
        alone.append((time.process_time() - began) / (requests * len(batch)) * 1e6)
    print(f"{path}, {per} comment(s) a request; CPU us per comment, best of {rounds}:")
    print(f"  request with the model:      {min(whole):7.1f}  (all: {_all(whole)})")
    print(f"  request, answers precomputed: {min(own):7.1f}  (all: {_all(own)})")
    print(f"  model alone, batches of 1000: {min(alone):7.1f}  (all: {_all(alone)})")


def _all(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="batches timed per round (10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is kept (5)")
    parser.add_argument("--single", action="store_true", help="one comment a request")
    args = parser.parse_args(argv)
    configure_logging("ERROR")  # the outboxes are closed with their events on purpose
    asyncio.run(run(args.requests, args.rounds, args.single))


if __name__ == "__main__":
    main()
