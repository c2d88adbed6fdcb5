"""The periodic half of the monitoring: judge the rules, record what fired, ask for retrains.

Every ``evaluate_seconds`` each monitoring process reads the last 24 hours of rollups and the
current model's baseline, builds a :class:`MonitoringSnapshot`, evaluates the rules and writes:

- ``active/<rule>`` for every rule firing now (and deletes those that stopped);
- a history entry when a rule starts firing, changes severity, or asks for a retrain;
- for each retrain reason: a conditional claim (``retrain/<reason>``, written only when the last
  one is older than the cooldown), and only the process whose claim succeeded publishes
  ``RetrainRequested``. Competing monitoring consumers thus ask at most once per cooldown. When
  the publish fails the claim is given back, so the next evaluation tries again.

Windows: toxic rate and prediction volume over the last 24 hours (all versions); feedback
accuracy and drift over the current model's last 24 hours (all versions until a ModelPublished
has named one), drift against its baseline; feedback volume over the current model's day items
since it was published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contracts import DriftBaseline, RetrainRequested, Source
from contracts.vocabulary import RetrainReason
from services.monitoring.repository import AlertStore
from services.monitoring.rules import Firing, MonitoringSnapshot, RuleSettings, evaluate
from shared.bus import Publisher
from shared.logs import get_logger
from shared.monitoring.drift import EdgeMismatchError
from shared.monitoring.reader import MonitoringReader
from shared.monitoring.records import ActiveAlert, FiringRecord, RetrainClaim
from shared.monitoring.rollups import ALL_VERSIONS
from shared.monitoring.windows import (
    bucket_range,
    feedback_accuracy,
    judged_feedback,
    live_drift,
    total,
    toxic_rate,
)

__all__ = ["Evaluation", "Evaluator"]

log = get_logger(__name__)

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation saw and did."""

    snapshot: MonitoringSnapshot
    firings: tuple[Firing, ...]
    requested: tuple[RetrainRequested, ...]


class Evaluator:
    def __init__(
        self,
        reader: MonitoringReader,
        alerts: AlertStore,
        publisher: Publisher,
        rules: RuleSettings,
        source: Source,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._reader = reader
        self._alerts = alerts
        self._publisher = publisher
        self._rules = rules
        self._source = source
        self._clock = clock

    async def snapshot(self, now: datetime) -> MonitoringSnapshot:
        """What the rules look at, read from the rollups."""
        first, last = bucket_range("hour", now - WINDOW + timedelta(hours=1), now)
        window = total(await self._reader.rollups("hour", ALL_VERSIONS, first, last))
        current = await self._reader.current_model()
        max_psi = None
        feedback_since_model = 0
        # Accuracy judges the model serving now: feedback on a replaced model says nothing of it.
        judged = window
        if current is not None:
            baseline = await self._reader.baseline(current.model_version)
            live = total(await self._reader.rollups("hour", current.model_version, first, last))
            judged = live
            if baseline is not None:
                try:
                    report = live_drift(
                        DriftBaseline.model_validate_json(baseline.baseline_json),
                        live,
                        threshold=self._rules.drift_psi,
                    )
                    max_psi = report.max_psi
                except EdgeMismatchError as exc:
                    log.warning("drift_not_comparable", error=str(exc))
            since = bucket_range("day", current.published_at, now)
            days = total(await self._reader.rollups("day", current.model_version, *since))
            feedback_since_model = int(days.get("feedback", 0))
        claims = await self._reader.retrain_claims()
        return MonitoringSnapshot(
            now=now,
            predictions_last_24h=int(window.get("predictions", 0)),
            feedback_accuracy=feedback_accuracy(judged),
            feedback_count=judged_feedback(judged),
            toxic_rate=toxic_rate(window),
            toxic_rate_predictions=int(window.get("predictions", 0)),
            max_drift_psi=max_psi,
            feedback_since_model=feedback_since_model,
            last_retrain={RetrainReason(c.reason): c.requested_at for c in claims},
        )

    async def run_once(self) -> Evaluation:
        now = self._clock()
        snapshot = await self.snapshot(now)
        firings = tuple(evaluate(snapshot, self._rules))
        active = {alert.rule: alert for alert in await self._reader.active_alerts()}
        requested: list[RetrainRequested] = []
        for firing in firings:
            before = active.pop(firing.rule, None)
            request = await self._ask_for_retrain(firing, now)
            if request is not None:
                requested.append(request)
            changed = before is None or before.severity != firing.severity.value
            if changed or request is not None:
                await self._alerts.add_firing(
                    FiringRecord(
                        rule=firing.rule,
                        severity=firing.severity.value,
                        message=firing.message,
                        value=firing.value,
                        threshold=firing.threshold,
                        at=now,
                        retrain_reason=None if request is None else request.reason.value,
                        retrain_request_id=None if request is None else request.request_id,
                    )
                )
                log.info("alert_fired", rule=firing.rule, severity=firing.severity.value)
            since = now if changed or before is None else before.since
            await self._alerts.put_active(
                ActiveAlert(
                    rule=firing.rule,
                    severity=firing.severity.value,
                    message=firing.message,
                    value=firing.value,
                    threshold=firing.threshold,
                    since=since,
                    seen_at=now,
                )
            )
        for rule in active:
            await self._alerts.clear_active(rule)
            log.info("alert_cleared", rule=rule)
        return Evaluation(snapshot, firings, tuple(requested))

    async def _ask_for_retrain(self, firing: Firing, now: datetime) -> RetrainRequested | None:
        reason = firing.retrain_reason
        if reason is None:
            return None
        event = RetrainRequested(
            source=self._source,
            reason=reason,
            requested_by=f"monitoring:{firing.rule}",
            note=firing.message[:2_000],
        )
        claim = RetrainClaim(
            reason=reason.value, requested_at=now, request_id=event.request_id, rule=firing.rule
        )
        if not await self._alerts.claim_retrain(claim, now - self._rules.retrain_cooldown):
            log.info("retrain_already_claimed", reason=reason.value)
            return None
        try:
            await self._publisher.publish([event])
        except Exception:
            await self._alerts.release_retrain(claim)
            raise
        log.info("retrain_requested", reason=reason.value, request_id=str(event.request_id))
        return event
