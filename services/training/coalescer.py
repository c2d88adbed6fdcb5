"""Single-flight training with coalescing.

Each ``RetrainRequested`` handler call waits here until a run that began after its request
arrived has finished, so the consumer deletes no request before the run covering it is done.
Requests that arrive during a run collapse into one follow-up run. Across the deployment, a
lease makes sure only one run happens at a time, whatever the number of training workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from contracts import Envelope, RetrainRequested
from shared.bus import Publisher
from shared.errors import RetryableError
from shared.lease import Lease
from shared.logs import get_logger

__all__ = ["Coalescer", "RunTraining"]

log = get_logger(__name__)

# One run for a batch of requests; returns the event that reports how it ended
# (ModelPublished, ModelRejected or TrainingFailed), which the coalescer publishes.
RunTraining = Callable[[Sequence[RetrainRequested]], Awaitable[Envelope]]


class Coalescer:
    """Collects requests, runs training for them one run at a time, and says when each is done."""

    def __init__(
        self,
        run_training: RunTraining,
        publisher: Publisher,
        lease: Lease,
        *,
        lease_retry_seconds: float = 5.0,
        lease_renew_seconds: float = 60.0,
    ) -> None:
        self._run_training = run_training
        self._publisher = publisher
        self._lease = lease
        self._lease_retry = lease_retry_seconds
        self._lease_renew = lease_renew_seconds
        self._pending: dict[str, tuple[RetrainRequested, asyncio.Future[None]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.runs: list[list[str]] = []

    async def handle(self, event: RetrainRequested) -> None:
        """The handler: returns once a run covering ``event`` has finished and been reported."""
        key = str(event.request_id)
        if key in self._pending:
            done = self._pending[key][1]
        else:
            done = asyncio.get_running_loop().create_future()
            self._pending[key] = (event, done)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_all())
        # shield: a cancelled handler must not cancel the run other requests wait on.
        await asyncio.shield(done)

    async def _run_all(self) -> None:
        while self._pending:
            batch = dict(self._pending)
            self._pending.clear()
            try:
                await self._one_run([event for event, _ in batch.values()])
            except Exception as exc:
                log.error("training_run_crashed", error=str(exc), exc_info=True)
                for _, done in batch.values():
                    if not done.done():
                        done.set_exception(RetryableError(f"training run crashed: {exc}"))
                continue
            for _, done in batch.values():
                if not done.done():
                    done.set_result(None)

    async def _one_run(self, requests: list[RetrainRequested]) -> None:
        while not await self._lease.acquire():
            log.info("training_lease_busy", retry_in_seconds=self._lease_retry)
            await asyncio.sleep(self._lease_retry)
        renewer = asyncio.create_task(self._keep_lease())
        try:
            ids = [str(r.request_id) for r in requests]
            self.runs.append(ids)
            log.info("training_run_started", requests=len(ids), request_ids=ids)
            outcome = await self._run_training(requests)
            await self._publisher.publish([outcome])
            log.info("training_run_finished", outcome=getattr(outcome, "event_type", "?"))
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await self._lease.release()

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self._lease_renew)
            if not await self._lease.renew():
                log.error("training_lease_lost")
