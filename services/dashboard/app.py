"""The dashboard page (run by ``toxic serve dashboard``; see ``services.dashboard.bootstrap``).

One page of tabs over one :class:`~services.dashboard.data.PageData`, loaded at most every
``TOXIC_DASHBOARD_REFRESH_SECONDS`` per session (or when "Reload" is pressed): Streamlit runs this
script again on every click, and typing a key must not read the rollups again.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import streamlit as st

from services.dashboard import sections
from services.dashboard.bootstrap import wiring
from services.dashboard.data import PageData
from shared.logs import get_logger

log = get_logger("services.dashboard.app")

_DATA = "toxic_dashboard_data"
_LOADED_AT = "toxic_dashboard_loaded_at"

st.set_page_config(page_title="Toxic comments: dashboard", layout="wide")
st.title("Toxic comments: monitoring dashboard")

wired = wiring()
reload = st.button("Reload")
loaded_at = st.session_state.get(_LOADED_AT)
stale = loaded_at is None or time.monotonic() - loaded_at > wired.settings.dashboard_refresh_seconds
data: PageData | None = st.session_state.get(_DATA)
if reload or stale or data is None:
    try:
        data = wired.load(datetime.now(UTC))
    except Exception as exc:  # the page's edge: say what failed instead of a stack trace
        log.warning("dashboard_load_failed", error=repr(exc))
        st.error(f"Cannot read the monitoring data: {type(exc).__name__}: {exc}")
        st.stop()
    st.session_state[_DATA] = data
    st.session_state[_LOADED_AT] = time.monotonic()

assert data is not None
sections.render(data, wired)
