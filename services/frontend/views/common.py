"""Pieces every page uses: the pasted API key, the score chart."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import altair as alt
import streamlit as st

from contracts import LABELS, Label
from services.frontend.settings import FrontendSettings

__all__ = ["KEY_INPUT", "PASTED_KEY", "key_sidebar", "pasted_key", "score_chart"]

KEY_INPUT = "api_key_input"
"""Session-state key of the sidebar's key field."""
PASTED_KEY = "api_key"
"""Session-state key where the pasted key is kept for the whole session."""


def _keep_key() -> None:
    st.session_state[PASTED_KEY] = st.session_state.get(KEY_INPUT, "")


def key_sidebar(settings: FrontendSettings) -> None:
    """The sidebar: which API this is, and a field to paste a key into."""
    # Streamlit drops a widget's state on a run that does not draw it; the key is kept apart
    # so that it survives whatever a page does, and the field is refilled from it.
    if KEY_INPUT not in st.session_state and PASTED_KEY in st.session_state:
        st.session_state[KEY_INPUT] = st.session_state[PASTED_KEY]
    with st.sidebar:
        st.caption(f"API: {settings.api_url}")
        configured = " (empty: the configured key)" if settings.api_key else ""
        st.text_input(
            f"API key{configured}",
            key=KEY_INPUT,
            type="password",
            on_change=_keep_key,
            help="Sent as X-API-Key. The review queue needs a moderator or admin key.",
        )


def pasted_key() -> str | None:
    """The key pasted in the sidebar, or None to use the configured one."""
    value = st.session_state.get(PASTED_KEY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def score_chart(scores: Mapping[Label, float], flagged: Collection[Label]) -> alt.Chart:
    """One horizontal bar per label, 0 to 1, flagged labels in red."""
    rows = [
        {
            "label": label.value,
            "score": round(float(scores.get(label, 0.0)), 4),
            "flagged": "flagged" if label in flagged else "not flagged",
        }
        for label in LABELS
    ]
    order = [label.value for label in LABELS]
    chart: alt.Chart = (
        # SVG, not canvas: the label names stay text a screen reader (and a browser test) finds.
        alt.Chart(alt.InlineData(values=rows), usermeta={"embedOptions": {"renderer": "svg"}})
        .mark_bar()
        .encode(
            x=alt.X("score:Q", scale=alt.Scale(domain=[0, 1]), title="score"),
            y=alt.Y("label:N", sort=order, title=None),
            color=alt.Color(
                "flagged:N",
                scale=alt.Scale(domain=["flagged", "not flagged"], range=["#e63946", "#7a9cc6"]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["label:N", alt.Tooltip("score:Q", format=".3f"), "flagged:N"],
        )
        # A fixed band per label, so no axis label is dropped for lack of room.
        .properties(height=alt.Step(32))
    )
    return chart
