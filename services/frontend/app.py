"""The frontend's Streamlit entry script (``streamlit run services/frontend/app.py``).

Three pages: score a comment, score a CSV, and the moderators' review queue. Every page reaches
the API through the session's ``ToxicApi`` from :func:`services.frontend.bootstrap.wiring`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from services.frontend.bootstrap import wiring
from services.frontend.views.common import key_sidebar

PAGES = Path(__file__).with_name("pages")

st.set_page_config(page_title="toxic: score comments", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "score.py", title="Score a comment", default=True),
        st.Page(PAGES / "batch.py", title="Score a CSV"),
        st.Page(PAGES / "review.py", title="Review queue"),
    ]
)
key_sidebar(wiring().settings)
navigation.run()
