"""Page data as the rows of the page's tables and charts: pure functions over ``PageData``.

Each returns plain dict rows (a DataFrame's records) so the tests read them without Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import TypeAdapter

from contracts import LABELS, Label, LabelMetrics, ReviewPriority
from services.dashboard.data import PageData
from services.dashboard.summaries import (
    confidence_histogram,
    label_quality,
    label_rows,
    percentiles,
    version_row,
)
from shared.items import FeedbackItem, ModelItem, ReviewItem
from shared.monitoring.reader import ModelHistoryEntry
from shared.monitoring.records import PipelineHealth
from shared.monitoring.rollups import (
    LAG_COUNTERS,
    LAG_EDGES_S,
    LATENCY_EDGES_MS,
    latency_counts,
)

__all__ = [
    "Row",
    "confidence_rows",
    "feedback_rows",
    "history_rows",
    "label_frequency_rows",
    "lag_rows",
    "latency_histogram_rows",
    "pending_by_priority",
    "quality_rows",
    "queue_rows",
    "replica_rows",
    "review_rows",
    "version_day_rows",
    "version_rows",
]

Row = dict[str, object]
_METRICS = TypeAdapter(dict[Label, LabelMetrics])


def _edge(edge: float) -> str:
    return "> 1000 ms" if edge == float("inf") else f"<= {edge:g} ms"


def latency_histogram_rows(counters: Mapping[str, object]) -> list[Row]:
    """Predictions per latency bin."""
    return [
        {"bin": i, "latency": _edge(edge), "predictions": count}
        for i, (edge, count) in enumerate(
            zip(LATENCY_EDGES_MS, latency_counts(counters), strict=True)
        )
    ]


def confidence_rows(counters: Mapping[str, object]) -> list[Row]:
    """Predictions per top-score bin (how sure the model was)."""
    hist = confidence_histogram(counters)  # type: ignore[arg-type]
    return [
        {"top score": f"{hist.edges[i]:.1f}-{hist.edges[i + 1]:.1f}", "predictions": count}
        for i, count in enumerate(hist.counts)
    ]


def label_frequency_rows(data: PageData) -> list[Row]:
    """Per label, over the short window: how often flagged, and the mean score."""
    return [
        {
            "label": row.label.value,
            "flagged": row.flagged,
            "frequency": row.frequency,
            "mean score": row.mean_score,
        }
        for row in label_rows(data.hours.total())
    ]


def quality_rows(data: PageData) -> list[Row]:
    """Per label, over the long window: the feedback's confusion counts and what follows."""
    return [
        {
            "label": q.label.value,
            "judged": q.judged,
            "precision": q.precision,
            "recall": q.recall,
            "f1": q.f1,
            "accuracy": q.accuracy,
            "tp": q.tp,
            "fp": q.fp,
            "fn": q.fn,
            "tn": q.tn,
        }
        for q in label_quality(data.days.total())
    ]


def version_rows(data: PageData) -> list[Row]:
    """Each shown model version over the long window, the current one first."""
    rows: list[Row] = []
    for version, table in data.version_days.items():
        row = version_row(version, table.total())
        rows.append(
            {
                "version": version,
                "current": data.current is not None and data.current.model_version == version,
                "predictions": row.predictions,
                "toxic rate": row.toxic_rate,
                "p95 latency ms": row.latency_p95_ms,
                "feedback": row.feedback,
                "feedback accuracy": row.feedback_accuracy,
                "mean F1 (feedback)": row.mean_f1,
            }
        )
    return rows


def version_day_rows(data: PageData) -> list[Row]:
    """Predictions per day per version (long form, for a chart coloured by version).

    Days on which nothing was counted for a version have no row, as they have no rollup item.
    """
    return [
        {"day": day, "version": version, "predictions": predictions}
        for version, table in data.version_days.items()
        for day, predictions, counted in zip(
            table.starts,
            table.column("predictions").tolist(),
            table.counted_rows.tolist(),
            strict=True,
        )
        if counted
    ]


def _means(metrics: Mapping[Label, LabelMetrics]) -> Row:
    if not metrics:
        return {"mean ROC AUC": None, "mean PR AUC": None, "mean F1": None}
    n = len(metrics)
    return {
        "mean ROC AUC": sum(m.roc_auc for m in metrics.values()) / n,
        "mean PR AUC": sum(m.pr_auc for m in metrics.values()) / n,
        "mean F1": sum(m.f1 for m in metrics.values()) / n,
    }


def _metrics_of(text: str | None) -> dict[Label, LabelMetrics]:
    return {} if text is None else _METRICS.validate_json(text)


def history_rows(history: list[ModelHistoryEntry]) -> list[Row]:
    """Published models, rejected candidates and failed runs, newest first, with metrics."""
    rows: list[Row] = []
    for entry in history:
        if isinstance(entry, ModelItem):
            rows.append(
                {
                    "at": entry.published_at,
                    "outcome": "published",
                    "version": entry.model_version,
                    **_means(entry.metrics),
                    "training rows": entry.row_counts.train,
                    "details": f"data {entry.training_data_digest[:12]}",
                }
            )
        else:
            details = "; ".join(entry.reasons) if entry.outcome == "rejected" else entry.error
            if entry.outcome == "failed" and entry.stage:
                details = f"{entry.stage}: {details}"
            rows.append(
                {
                    "at": entry.occurred_at,
                    "outcome": entry.outcome,
                    "version": entry.candidate_version or "",
                    **_means(_metrics_of(entry.candidate_metrics_json)),
                    "training rows": None,
                    "details": details or "",
                }
            )
    return rows


def _age(now: datetime, then: datetime) -> str:
    seconds = max((now - then).total_seconds(), 0.0)
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def feedback_rows(rows: list[FeedbackItem]) -> list[Row]:
    """The newest feedback rows, newest first."""
    return [
        {
            "at": row.created_at,
            "source": row.feedback_source.value,
            "action": row.moderator_action.value if row.moderator_action else "",
            "version": row.model_version,
            "labels": ", ".join(
                f"{label.value}={'yes' if row.true_labels[label] else 'no'}"
                for label in LABELS
                if label in row.true_labels
            ),
            "prediction": str(row.prediction_id) if row.prediction_id else "",
            "note": row.note or "",
        }
        for row in rows
    ]


def review_rows(items: list[ReviewItem], now: datetime) -> list[Row]:
    """Pending reviews, highest priority and oldest first."""
    return [
        {
            "priority": item.priority.value,
            "waiting": _age(now, item.created_at),
            "version": item.model_version,
            "flagged": ", ".join(label.value for label in item.flagged),
            "top score": max(item.scores.values(), default=0.0),
            "text": (item.text or "")[:120],
        }
        for item in items
    ]


def pending_by_priority(items: list[ReviewItem]) -> list[Row]:
    return [
        {"priority": p.value, "pending": sum(1 for i in items if i.priority is p)}
        for p in ReviewPriority
    ]


def queue_rows(health: PipelineHealth) -> list[Row]:
    """Every queue and DLQ; the oldest message's age is "n/a" where it cannot be read."""
    return [
        {
            "queue": q.name,
            "dead letter": q.dead_letter,
            "visible": q.visible,
            "in flight": q.in_flight,
            "delayed": q.delayed,
            "oldest age": "n/a"
            if q.oldest_age_seconds is None
            else f"{q.oldest_age_seconds:.0f} s",
        }
        for q in health.queues
    ]


def replica_rows(health: PipelineHealth) -> list[Row]:
    return [
        {
            "instance": r.instance,
            "endpoint": r.endpoint or "",
            "ready": "n/a" if r.ready is None else ("yes" if r.ready else "no"),
            "outbox depth": "n/a" if r.outbox_depth is None else r.outbox_depth,
            "model version": r.model_version or "",
            "error": r.error or "",
        }
        for r in health.replicas
    ]


def lag_rows(data: PageData) -> list[Row]:
    """Consumer lag p50/p95/p99 per hour of the short window (seconds), where it was measured."""
    counts = data.hours.columns(LAG_COUNTERS)
    p50, p95, p99 = (percentiles(counts, LAG_EDGES_S, q) for q in (0.5, 0.95, 0.99))
    return [
        {"hour": hour, "p50 s": a, "p95 s": b, "p99 s": c}
        for hour, a, b, c in zip(data.hours.starts, p50, p95, p99, strict=True)
        if a is not None
    ]
