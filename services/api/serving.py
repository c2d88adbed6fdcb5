"""The model a replica serves: loaded through the champion pointer, verified, swapped atomically.

The champion pointer in S3 (``models/champion.json``, written by training after MLflow's alias
moved) names the model to serve. A replica reads it at start, again whenever a ``ModelPublished``
reaches its own queue, and every ``reconcile_seconds`` by ETag, so a missed event cannot leave it
on a stale model. Loading happens off the event loop: the file's sha256 must match the pointer's
and the manifest's, skops loads only the trusted model types, and the model scores one comment
before it is swapped in. The swap is one attribute assignment: a request holds the
``ServingModel`` it started with, so none sees a half-loaded model. A model that fails any check
is refused; the current one keeps serving and the refusal is logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from shared.artifacts import ChampionPointer, Manifest, PointerRead
from shared.errors import NotFoundError, RetryableError
from shared.logs import get_logger
from shared.model.artifact import ModelFileError, loads
from shared.model.toxicity import ToxicityModel

__all__ = [
    "BatchScorer",
    "ModelReloader",
    "ModelSlot",
    "ModelSource",
    "ReloadStats",
    "ServingModel",
]

log = get_logger(__name__)


class ModelSource(Protocol):
    """Where models come from: ``shared.artifacts.ArtifactStore`` in production."""

    async def read_champion(self, if_none_match: str | None = None) -> PointerRead: ...

    async def get_manifest(self, key: str) -> Manifest: ...

    async def get_bytes(self, key: str) -> bytes: ...


class BatchScorer(Protocol):
    """Scores batches beside the event loop: ``services.api.scorers.ScoringProcesses``."""

    @property
    def ready(self) -> bool: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    async def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64] | None:
        """The probabilities, or None when it cannot answer now (the caller scores itself)."""
        ...


@dataclass(frozen=True)
class ServingModel:
    """A loaded model and what is known about it; never changes once built."""

    model: ToxicityModel
    manifest: Manifest
    loaded_at: float
    # Scores batches with a copy of ``model`` in child processes; None: the replica does.
    scorer: BatchScorer | None = None

    @property
    def version(self) -> str:
        return self.manifest.model_version


@dataclass
class ReloadStats:
    loads: int = 0
    refusals: int = 0
    failures: int = 0
    last_swap_seconds: float | None = None
    last_error: str | None = None


class ModelSlot:
    """The model requests use now; ``current`` is replaced whole, never changed in place."""

    def __init__(self) -> None:
        self.current: ServingModel | None = None

    def require(self) -> ServingModel:
        model = self.current
        if model is None:
            raise RetryableError("no model is loaded yet; this replica is not ready")
        return model


class ModelReloader:
    """Keeps ``slot`` on the champion: at start, on ``ModelPublished`` and periodically."""

    def __init__(
        self,
        source: ModelSource,
        slot: ModelSlot,
        *,
        on_swap: Callable[[ServingModel], None] | None = None,
        scorers: Callable[[bytes, str, str], BatchScorer] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``scorers(data, sha256, version)`` makes an unstarted batch scorer for a model."""
        self._source = source
        self._slot = slot
        self._on_swap = on_swap
        self._scorers = scorers
        self._clock = clock
        self._etag: str | None = None
        self._lock = asyncio.Lock()
        self.stats = ReloadStats()

    async def reconcile(self, *, force: bool = False) -> bool:
        """Load the champion if it is not what is served; True when a new model was swapped in.

        ``force`` reads the pointer without its ETag (a ``ModelPublished`` says it changed).
        Errors are counted and logged, never raised: the current model keeps serving.
        """
        async with self._lock:
            started = self._clock()
            try:
                read = await self._source.read_champion(None if force else self._etag)
            except NotFoundError:
                log.info("no_champion_yet")
                return False
            except Exception as exc:  # S3 unreachable: try again at the next tick
                self._fail("pointer_unreadable", exc)
                return False
            if read.pointer is None:
                return False
            pointer = read.pointer
            current = self._slot.current
            if current is not None and current.manifest.sha256 == pointer.sha256:
                self._etag = read.etag
                return False
            try:
                loaded = await self._load(pointer)
            except Exception as exc:  # not the file's fault (S3 down): retried next tick
                self._fail("model_unloadable", exc, model_version=pointer.model_version)
                return False
            # Remembered even after a refusal: the periodic check then skips this pointer, and
            # only a new pointer or a ModelPublished (force) makes the replica try again.
            self._etag = read.etag
            if loaded is None:
                return False
            self._slot.current = loaded
            if current is not None and current.scorer is not None:
                current.scorer.close()  # after what it holds: requests pinned it
            self.stats.loads += 1
            self.stats.last_swap_seconds = self._clock() - started
            log.info(
                "model_swapped",
                model_version=loaded.version,
                previous=current.version if current else None,
                seconds=round(self.stats.last_swap_seconds, 3),
            )
            if self._on_swap is not None:
                self._on_swap(loaded)
            return True

    async def _load(self, pointer: ChampionPointer) -> ServingModel | None:
        try:
            manifest = await self._source.get_manifest(pointer.manifest_key)
            if manifest.sha256 != pointer.sha256:
                raise ModelFileError(
                    f"manifest of {pointer.model_version} names sha256 {manifest.sha256},"
                    f" the champion pointer {pointer.sha256}"
                )
            data = await self._source.get_bytes(manifest.model_key)
            model = await asyncio.to_thread(_load_and_warm, data, pointer.sha256)
        except ModelFileError as exc:
            self.stats.refusals += 1
            self.stats.last_error = str(exc)
            log.error("model_refused", model_version=pointer.model_version, error=str(exc))
            return None
        scorer = None
        if self._scorers is not None:
            scorer = self._scorers(data, pointer.sha256, manifest.model_version)
            # Serving starts now, batches in a thread; children take them once they have loaded.
            scorer.start()
        return ServingModel(model=model, manifest=manifest, loaded_at=time.time(), scorer=scorer)

    def close(self) -> None:
        """Stop the served model's scoring processes (the replica stops)."""
        current = self._slot.current
        if current is not None and current.scorer is not None:
            current.scorer.close()

    def _fail(self, event: str, exc: Exception, **context: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.warning(event, error=self.stats.last_error, **context)

    async def run(self, every_seconds: float, stop: asyncio.Event) -> None:
        """Reconcile every ``every_seconds`` until ``stop``; faster while nothing is loaded.

        The first check comes after one period: start-up has just reconciled.
        """
        while True:
            wait = every_seconds if self._slot.current else min(every_seconds, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                return
            await self.reconcile()


def _load_and_warm(data: bytes, sha256: str) -> ToxicityModel:
    model = loads(data, sha256)
    # The first transform builds the n-gram lookup table: do it here, not in a request.
    model.predict_proba(["warm up"])
    return model
