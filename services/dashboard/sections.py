"""The page's tabs: Streamlit calls over ``PageData``; numbers come from ``tables`` and co.

Every section says plainly when there is nothing to show yet ("no data yet"), rather than
drawing an empty chart or failing on an empty frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import streamlit as st

from services.dashboard import tables
from services.dashboard.bootstrap import Wiring
from services.dashboard.data import PageData
from services.dashboard.summaries import Kpis, drift_rows, kpis, trend

__all__ = ["TABS", "render"]

TABS = (
    "Overview",
    "Latency",
    "Labels and feedback",
    "Models",
    "Drift",
    "Moderation",
    "Alerts",
    "Pipeline",
    "Retrain",
)
_RETRAIN_ANSWER = "toxic_dashboard_retrain_answer"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _naive(value: object) -> object:
    # Times are shown in UTC without a zone: pandas deprecates handing zone-aware columns on.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _frame(rows: Sequence[dict[str, object]]) -> list[dict[str, object]]:
    """Records Streamlit turns into its own DataFrame (so no pandas types are needed here)."""
    return [{name: _naive(value) for name, value in row.items()} for row in rows]


def _metrics(numbers: Kpis, pending: str) -> None:
    columns = st.columns(6)
    columns[0].metric("Predictions", f"{numbers.predictions:,}")
    columns[1].metric("Toxic rate", _pct(numbers.toxic_rate))
    columns[2].metric("Feedback received", f"{numbers.feedback:,}")
    columns[3].metric("User accuracy", _pct(numbers.feedback_accuracy))
    columns[4].metric("Latency p95", _ms(numbers.latency_p95_ms))
    columns[5].metric("Pending reviews", pending)


def _pending(data: PageData) -> str:
    count = len(data.reviews)
    return f"{count}+" if count >= data.limits.reviews else str(count)


def _source(data: PageData) -> str:
    """Where the rollups came from: the monitoring's view (and when), or a live read."""
    if data.view_built_at is not None:
        return (
            f"data as of {data.view_built_at:%Y-%m-%d %H:%M:%S} UTC, built by the monitoring "
            f"({data.view_built_by})"
        )
    return f"data as of {data.window.now:%Y-%m-%d %H:%M:%S} UTC, read live"


def overview(data: PageData) -> None:
    window = data.window
    current = data.current.model_version if data.current else "none published yet"
    st.caption(f"Current model version: {current} · {_source(data)}")
    st.subheader(f"Last {window.hours} h")
    _metrics(kpis(data.hours.total()), _pending(data))
    st.caption(
        "Totals over whole hours (the first may start up to 59 minutes before the window); "
        "the per-minute charts cover the window exactly."
    )
    st.subheader(f"Last {window.days} days")
    _metrics(kpis(data.days.total()), _pending(data))
    if data.empty:
        st.info("No predictions yet: the charts appear once the monitoring has counted some.")
        return
    minutes, days = trend(data.minutes), trend(data.days)
    st.markdown(f"**Predictions per minute, last {window.hours} h**")
    st.line_chart(_frame([{"at": r.at, "predictions": r.predictions} for r in minutes]), x="at")
    st.markdown(f"**Predictions and feedback per day, last {window.days} days**")
    st.bar_chart(
        _frame([{"day": r.at, "predictions": r.predictions, "feedback": r.feedback} for r in days]),
        x="day",
    )
    st.markdown("**Toxic rate and user accuracy per day**")
    st.line_chart(
        _frame(
            [
                {"day": r.at, "toxic rate": r.toxic_rate, "user accuracy": r.feedback_accuracy}
                for r in days
            ]
        ),
        x="day",
    )


def latency(data: PageData) -> None:
    window = data.window
    if not data.minutes.counted:
        st.info(f"No predictions in the last {window.hours} h: no latency data yet.")
        return
    rows = trend(data.minutes)
    st.markdown(f"**Latency percentiles per minute, last {window.hours} h (ms)**")
    st.line_chart(
        _frame(
            [
                {
                    "at": r.at,
                    "p50": r.latency_p50_ms,
                    "p95": r.latency_p95_ms,
                    "p99": r.latency_p99_ms,
                }
                for r in rows
                if r.predictions
            ]
        ),
        x="at",
    )
    st.markdown("**Latency histogram**")
    st.bar_chart(
        _frame(tables.latency_histogram_rows(data.hours.total())), x="latency", y="predictions"
    )
    days = trend(data.days)
    st.markdown(f"**Latency percentiles per day, last {window.days} days (ms)**")
    st.line_chart(
        _frame(
            [
                {
                    "day": r.at,
                    "p50": r.latency_p50_ms,
                    "p95": r.latency_p95_ms,
                    "p99": r.latency_p99_ms,
                }
                for r in days
                if r.predictions
            ]
        ),
        x="day",
    )


def labels_and_feedback(data: PageData) -> None:
    if data.hours.counted:
        st.markdown(f"**Per-label frequency and mean score, last {data.window.hours} h**")
        frequency = _frame(tables.label_frequency_rows(data))
        st.bar_chart(frequency, x="label", y=["frequency", "mean score"], stack=False)
        st.dataframe(frequency, hide_index=True)
        st.markdown("**Confidence: the top score of each prediction**")
        st.bar_chart(
            _frame(tables.confidence_rows(data.hours.total())), x="top score", y="predictions"
        )
    else:
        st.info(f"No predictions in the last {data.window.hours} h: no label data yet.")
    quality = tables.quality_rows(data)
    st.markdown(f"**Feedback precision, recall and F1 per label, last {data.window.days} days**")
    if not any(row["judged"] for row in quality):
        st.info("No feedback on stored predictions yet: precision and recall need some.")
        return
    frame = _frame(quality)
    st.bar_chart(frame, x="label", y=["precision", "recall", "f1"], stack=False)
    st.dataframe(frame, hide_index=True)


def models(data: PageData) -> None:
    if data.current is not None:
        st.markdown(
            f"Current model: **{data.current.model_name} {data.current.model_version}**, "
            f"published {data.current.published_at:%Y-%m-%d %H:%M} UTC"
        )
    versions = tables.version_rows(data)
    st.markdown(f"**Model versions, last {data.window.days} days**")
    if versions:
        st.dataframe(_frame(versions), hide_index=True)
        per_day = tables.version_day_rows(data)
        if per_day:
            st.bar_chart(_frame(per_day), x="day", y="predictions", color="version")
    else:
        st.info("No model version known yet: none has been published.")
    st.markdown("**Model history: published, rejected and failed**")
    history = tables.history_rows(data.history)
    if history:
        st.dataframe(_frame(history), hide_index=True)
    else:
        st.info("No model history yet.")


def drift(data: PageData) -> None:
    if data.current is None:
        st.info("No drift yet: no model has been published.")
        return
    st.markdown(
        f"**Population stability index per label: {data.current.model_version}'s training "
        f"baseline vs its last {data.window.hours} h**"
    )
    rows, why_not = drift_rows(data.baseline, data.live_hours.total())
    if why_not is not None:
        st.info(why_not)
        return
    frame = _frame(rows)
    if any(row["psi"] is not None for row in rows):
        st.bar_chart(frame, x="label", y="psi")
    else:
        st.info("Too few live predictions of the current model for a PSI yet (needs 100).")
    st.dataframe(frame, hide_index=True)
    st.caption("PSI below 0.1 is stable, 0.1 to 0.25 moderate, above 0.25 significant.")


def moderation(data: PageData) -> None:
    numbers = kpis(data.hours.total())
    st.markdown(f"**Decisions, last {data.window.hours} h**")
    if numbers.predictions:
        st.bar_chart(
            _frame([{"decision": d.value, "predictions": n} for d, n in numbers.decisions.items()]),
            x="decision",
            y="predictions",
        )
    else:
        st.info("No decisions yet.")
    st.markdown(f"**Review queue: {_pending(data)} pending**")
    if data.reviews:
        st.bar_chart(_frame(tables.pending_by_priority(data.reviews)), x="priority", y="pending")
        st.dataframe(_frame(tables.review_rows(data.reviews, data.window.now)), hide_index=True)
    else:
        st.info("No comment waits for review.")
    st.markdown(f"**Newest feedback (up to {data.limits.feedback_rows})**")
    if data.feedback:
        st.dataframe(_frame(tables.feedback_rows(data.feedback)), hide_index=True)
    else:
        st.info("No feedback yet.")


def alerts(data: PageData) -> None:
    st.markdown("**Firing now**")
    if data.active_alerts:
        for alert in data.active_alerts:
            show = st.error if alert.severity == "error" else st.warning
            show(f"{alert.rule}: {alert.message} (since {alert.since:%Y-%m-%d %H:%M} UTC)")
    else:
        st.success("No alert is firing.")
    st.markdown("**Alert history**")
    if data.firings:
        st.dataframe(
            _frame(
                [
                    {
                        "at": f.at,
                        "rule": f.rule,
                        "severity": f.severity,
                        "message": f.message,
                        "value": f.value,
                        "threshold": f.threshold,
                        "retrain": f.retrain_reason or "",
                    }
                    for f in data.firings
                ]
            ),
            hide_index=True,
        )
    else:
        st.info("No alert has fired yet.")
    if data.retrain_claims:
        st.markdown("**Last retrain asked for, per reason**")
        st.dataframe(
            _frame(
                [
                    {
                        "reason": c.reason,
                        "at": c.requested_at,
                        "rule": c.rule,
                        "request": str(c.request_id),
                    }
                    for c in data.retrain_claims
                ]
            ),
            hide_index=True,
        )


def pipeline(data: PageData) -> None:
    health = data.health
    if health is None:
        st.info("No pipeline health yet: the monitoring has not measured the queues.")
    else:
        st.caption(f"Measured {health.measured_at:%Y-%m-%d %H:%M:%S} UTC by {health.measured_by}")
        lag = health.consumer_lag_seconds
        dead = sum(q.visible + q.in_flight + q.delayed for q in health.queues if q.dead_letter)
        columns = st.columns(2)
        columns[0].metric("Messages in dead-letter queues", f"{dead:,}")
        columns[1].metric("Consumer lag", "n/a" if lag is None else f"{lag:.1f} s")
        queues = _frame(tables.queue_rows(health))
        if queues:
            st.bar_chart(queues, x="queue", y=["visible", "in flight", "delayed"])
            st.dataframe(queues, hide_index=True)
        st.markdown("**API replicas**")
        if health.replicas:
            st.dataframe(_frame(tables.replica_rows(health)), hide_index=True)
        else:
            st.info("No API replica found.")
    lag_rows = tables.lag_rows(data)
    st.markdown(f"**Monitoring consumer lag per hour, last {data.window.hours} h (s)**")
    if lag_rows:
        st.line_chart(_frame(lag_rows), x="hour")
    else:
        st.info("No consumer lag measured yet.")


def retrain(wired: Wiring) -> None:
    st.markdown("Ask the training service for a new model (an admin key is needed).")
    preset = wired.settings.dashboard_api_key
    key = st.text_input(
        "Admin API key",
        type="password",
        placeholder="set TOXIC_DASHBOARD_API_KEY or paste one"
        if preset is None
        else "from settings",
    )
    note = st.text_input("Note (optional)", max_chars=500)
    if st.button("Request retrain"):
        use = key or (preset.get_secret_value() if preset else "")
        st.session_state[_RETRAIN_ANSWER] = wired.retrainer.request_retrain(use, note or None)
    answer = st.session_state.get(_RETRAIN_ANSWER)
    if answer is not None:
        (st.success if answer.ok else st.error)(answer.message)


def render(data: PageData, wired: Wiring) -> None:
    """Every tab of the page."""
    tabs = st.tabs(list(TABS))
    with tabs[0]:
        overview(data)
    with tabs[1]:
        latency(data)
    with tabs[2]:
        labels_and_feedback(data)
    with tabs[3]:
        models(data)
    with tabs[4]:
        drift(data)
    with tabs[5]:
        moderation(data)
    with tabs[6]:
        alerts(data)
    with tabs[7]:
        pipeline(data)
    with tabs[8]:
        retrain(wired)
