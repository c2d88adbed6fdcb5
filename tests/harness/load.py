"""A steady request load in a background thread, remembering what the API acknowledged."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

__all__ = ["Load", "steady_load"]


@dataclass
class Load:
    """Single predictions at ``per_second``, alternating between ``urls``.

    ``acknowledged`` maps every prediction id the API answered 200 for to the model version that
    scored it; ``failures`` holds every request that did not get a 200.
    """

    urls: list[str]
    per_second: float = 20.0
    acknowledged: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            for n in itertools.count():
                if self.stopped.is_set():
                    return
                url = self.urls[n % len(self.urls)]
                try:
                    response = http.post(f"{url}/v1/predict", json={"text": f"comment number {n}"})
                except httpx.HTTPError as exc:
                    self.failures.append(f"{url}: {exc!r}")
                else:
                    if response.status_code == 200:
                        body = response.json()
                        self.acknowledged[body["prediction_id"]] = body["model_version"]
                    else:
                        self.failures.append(f"{url}: {response.status_code} {response.text}")
                time.sleep(1 / self.per_second)


@contextmanager
def steady_load(urls: list[str], per_second: float = 20.0) -> Iterator[Load]:
    """Run a :class:`Load` for the duration of the block (it may also be stopped earlier)."""
    load = Load(urls, per_second)
    thread = threading.Thread(target=load.run, daemon=True, name="steady-load")
    thread.start()
    try:
        yield load
    finally:
        load.stopped.set()
        thread.join(timeout=15)
