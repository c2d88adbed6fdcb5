"""Score a CSV of comments in batch calls and download the scored table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath

import streamlit as st

from services.frontend.bootstrap import Wiring
from services.frontend.port import ApiCallError
from services.frontend.uploads import Row, Upload, UploadError, read_upload, score_upload, to_csv
from services.frontend.views.common import pasted_key

__all__ = ["BATCH_RESULT", "BatchResult", "render"]

BATCH_RESULT = "batch_result"
"""Session-state key of the last scored upload."""
PREVIEW_ROWS = 200


@dataclass(frozen=True)
class BatchResult:
    """A scored upload, kept while the same file stays selected."""

    file_id: str
    name: str
    upload: Upload
    rows: list[Row]


def render(wiring: Wiring) -> None:
    settings = wiring.settings
    st.title("Score a CSV of comments")
    st.write(
        f"A UTF-8 CSV with a `comment_text` (or `text`) column: up to "
        f"{settings.max_upload_rows:,} rows and {settings.max_upload_mb} MB per upload, sent to "
        f"the API {settings.batch_size:,} comments per call. The download adds a score per "
        "label, the flagged labels, the decision, the prediction id and the model version."
    )
    uploaded = st.file_uploader("CSV file", type=["csv"], key="upload")
    if uploaded is None:
        st.info("Choose a CSV file to score.")
        return
    try:
        upload = read_upload(
            uploaded.getvalue(),
            max_rows=settings.max_upload_rows,
            max_bytes=settings.max_upload_bytes,
        )
    except UploadError as problem:
        st.error(f"{uploaded.name}: {problem}")
        return
    st.caption(f"{len(upload.rows):,} rows; comments in `{upload.text_column}`.")
    file_id = f"{uploaded.file_id}:{uploaded.name}:{uploaded.size}"
    if st.button("Score the file", type="primary"):
        progress = st.progress(0.0, text="Scoring...")

        def advance(done: int, total: int) -> None:
            progress.progress(done / total, text=f"Scored {done:,} of {total:,} comments")

        try:
            rows = score_upload(
                wiring.api,
                upload,
                batch_size=settings.batch_size,
                key=pasted_key(),
                progress=advance,
            )
        except ApiCallError as problem:
            progress.empty()
            st.error(problem.message)
            return
        progress.empty()
        st.session_state[BATCH_RESULT] = BatchResult(file_id, uploaded.name, upload, rows)
    result = st.session_state.get(BATCH_RESULT)
    if isinstance(result, BatchResult) and result.file_id == file_id:
        _show(result)


def _show(result: BatchResult) -> None:
    decisions = Counter(row["decision"] for row in result.rows if row["decision"])
    skipped = sum(1 for row in result.rows if row["error"])
    allow, review, reject, unscored = st.columns(4)
    allow.metric("Allow", decisions["allow"])
    review.metric("Review", decisions["review"])
    reject.metric("Reject", decisions["reject"])
    unscored.metric("Not scored", skipped)
    shown = result.rows[:PREVIEW_ROWS]
    more = f" (the first {PREVIEW_ROWS})" if len(result.rows) > PREVIEW_ROWS else ""
    st.caption(f"Scored table{more}:")
    st.dataframe(shown, width="stretch", hide_index=True)
    stem = PurePath(result.name).stem or "comments"
    st.download_button(
        "Download the scored CSV",
        data=to_csv(result.upload.columns, result.rows),
        file_name=f"{stem}-scored.csv",
        mime="text/csv",
        type="primary",
    )
