"""The moderator's page: pending reviews by priority, each approved or removed with a note."""

from __future__ import annotations

import streamlit as st

from contracts import LABELS, Label, ModeratorAction
from services.frontend.bootstrap import Wiring
from services.frontend.models import ReviewItem
from services.frontend.port import ApiCallError
from services.frontend.views.common import pasted_key

__all__ = ["HANDLED", "render", "review_labels"]

HANDLED = "reviews_handled"
"""Session-state key: prediction id -> the action this session took on it."""


def review_labels(chosen: list[str]) -> dict[Label, bool]:
    """The labels a moderator sends: none picked, none sent; else all six, picked ones true.

    With none, the API's meaning holds (approve: not toxic; remove: toxic, other labels
    unjudged); picking labels is a full correction.
    """
    if not chosen:
        return {}
    return {label: label.value in chosen for label in LABELS}


def render(wiring: Wiring) -> None:
    st.title("Review queue")
    key = pasted_key()
    if key is None and wiring.settings.api_key is None:
        st.info("The review queue needs a moderator key: paste one in the sidebar.")
        return
    handled: dict[str, ModeratorAction] = st.session_state.setdefault(HANDLED, {})
    notice = st.session_state.pop("review_notice", None)
    if notice:
        st.success(notice)
    try:
        page = wiring.api.review_queue(limit=wiring.settings.review_page_size, key=key)
    except ApiCallError as problem:
        st.error(problem.message)
        return
    # The queue is updated from events, a moment after an action: hide what was just decided.
    items = [i for i in page.items if str(i.prediction_id) not in handled]
    if not items:
        st.info("No comments wait for review.")
        return
    more = "; more wait beyond these" if page.more else ""
    st.caption(f"{len(items)} pending, high priority first, then oldest{more}.")
    for item in items:
        _item(wiring, item, key, handled)


def _item(
    wiring: Wiring, item: ReviewItem, key: str | None, handled: dict[str, ModeratorAction]
) -> None:
    pid = str(item.prediction_id)
    with st.container(border=True):
        st.markdown(
            f"**{item.priority.value.capitalize()} priority** · model `{item.model_version}` · "
            f"{item.created_at:%Y-%m-%d %H:%M} UTC"
        )
        # st.text shows the comment literally: no Markdown, no HTML.
        st.text(item.text if item.text is not None else "(the text was not stored)")
        if item.context:
            st.caption("In reply to:")
            st.text(item.context)
        top = sorted(LABELS, key=lambda label: -item.scores.get(label, 0.0))[:3]
        st.caption(
            " · ".join(f"{label.value} {item.scores.get(label, 0.0):.2f}" for label in top)
            + f" · flagged: {', '.join(label.value for label in item.flagged) or 'none'}"
        )
        with st.form(f"review-{pid}"):
            chosen = st.multiselect(
                "Labels it has (optional correction)",
                [label.value for label in LABELS],
                key=f"labels-{pid}",
                help="None: approve = not toxic, remove = toxic. Picked: exactly these labels.",
            )
            note = st.text_input("Note (optional)", max_chars=2_000, key=f"note-{pid}")
            approve_column, remove_column = st.columns(2)
            approve = approve_column.form_submit_button("Approve")
            remove = remove_column.form_submit_button("Remove", type="primary")
        if approve or remove:
            action = ModeratorAction.APPROVE if approve else ModeratorAction.REMOVE
            try:
                wiring.api.moderate(
                    item.prediction_id,
                    action,
                    review_labels(chosen),
                    note=note.strip() or None,
                    key=key,
                )
            except ApiCallError as problem:
                st.error(problem.message)
            else:
                handled[pid] = action
                done = "approved" if action is ModeratorAction.APPROVE else "removed"
                st.session_state["review_notice"] = f"Comment {pid} {done}."
                st.rerun()
