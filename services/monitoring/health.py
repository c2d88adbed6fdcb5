"""Pipeline health: every queue's depth, each API replica's readiness and outbox, consumer lag.

Queue counts come from SQS (visible, in flight, delayed) for every queue of the spec, its
dead-letter queues and the live replica queues. The age of the oldest message is a CloudWatch
metric (``ApproximateAgeOfOldestMessage``), which AWS has and the stand-in does not: on the
stand-in the :class:`OldestAge` port is :class:`NoOldestAge` and the dashboard shows n/a.

Replicas are found by their queues (fresh heartbeat, ``endpoint`` tag) and asked ``/readyz``,
which reports the outbox depth; a replica that does not answer is listed with the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from services.monitoring.handlers import LagGauge
from shared.aws import AwsClients
from shared.infra import InfraSpec, live_replicas
from shared.infra.messaging import find_queue
from shared.monitoring.records import PipelineHealth, QueueDepth, ReplicaHealth

__all__ = ["CloudWatchOldestAge", "HealthProbe", "NoOldestAge", "OldestAge"]

_COUNTS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


class OldestAge(Protocol):
    async def oldest_age_seconds(self, queue_name: str) -> float | None: ...


class NoOldestAge:
    """The stand-in has no CloudWatch: the age is unknown."""

    async def oldest_age_seconds(self, queue_name: str) -> float | None:
        return None


class CloudWatchOldestAge:
    """The newest ``ApproximateAgeOfOldestMessage`` datapoint of the last 15 minutes."""

    def __init__(self, cloudwatch: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._cloudwatch = cloudwatch
        self._clock = clock

    async def oldest_age_seconds(self, queue_name: str) -> float | None:
        now = self._clock()
        response = await self._cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - timedelta(minutes=15),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
        points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return float(points[-1]["Maximum"]) if points else None


class HealthProbe:
    """Measures the pipeline of one deployment."""

    def __init__(
        self,
        clients: AwsClients,
        spec: InfraSpec,
        http: httpx.AsyncClient,
        lag: LagGauge,
        instance: str,
        *,
        oldest_age: OldestAge | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clients = clients
        self._spec = spec
        self._http = http
        self._lag = lag
        self._instance = instance
        self._oldest_age = oldest_age or NoOldestAge()
        self._clock = clock

    async def _queue(self, name: str, url: str | None, dead_letter: bool) -> QueueDepth | None:
        if url is None:
            url = await find_queue(self._clients.sqs, name)
            if url is None:
                return None
        try:
            response = await self._clients.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=list(_COUNTS.values()),  # type: ignore[arg-type]
            )
        except self._clients.sqs.exceptions.QueueDoesNotExist:
            return None
        attributes: dict[str, str] = {str(k): v for k, v in response.get("Attributes", {}).items()}
        counts = {field: int(attributes.get(key, "0")) for field, key in _COUNTS.items()}
        age = await self._oldest_age.oldest_age_seconds(name)
        return QueueDepth(name=name, dead_letter=dead_letter, oldest_age_seconds=age, **counts)

    async def _replica(self, instance: str, endpoint: str | None) -> ReplicaHealth:
        if endpoint is None:
            return ReplicaHealth(instance=instance, endpoint=None, error="no endpoint tag")
        try:
            response = await self._http.get(f"{endpoint}/readyz")
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return ReplicaHealth(instance=instance, endpoint=endpoint, error=str(exc) or "error")
        depth = body.get("outbox_depth")
        return ReplicaHealth(
            instance=instance,
            endpoint=endpoint,
            ready=response.status_code == 200,
            outbox_depth=int(depth) if isinstance(depth, int) else None,
            model_version=body.get("model_version"),
        )

    async def measure(self) -> PipelineHealth:
        now = self._clock()
        replicas = await live_replicas(self._clients, self._spec, now=now.timestamp())
        dead_letters = {q.name for q in self._spec.static_queues if not q.subscribed}
        queue_reads = [
            self._queue(q.name, None, q.name in dead_letters) for q in self._spec.static_queues
        ]
        queue_reads += [self._queue(r.name, r.url, False) for r in replicas]
        queues = [q for q in await asyncio.gather(*queue_reads) if q is not None]
        answers = await asyncio.gather(
            *(
                self._replica(r.name.removeprefix(self._spec.replica_queue_prefix), r.endpoint)
                for r in replicas
            )
        )
        lag = self._lag.seconds if self._lag.observed_at is not None else None
        return PipelineHealth(
            measured_at=now,
            measured_by=self._instance,
            queues=tuple(queues),
            replicas=tuple(answers),
            consumer_lag_seconds=lag,
        )
