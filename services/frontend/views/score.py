"""Score a comment: bars per label, the decision, the model version, the words that drove it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from contracts import LABELS, Decision, Label
from services.frontend.bootstrap import Wiring
from services.frontend.highlight import highlight_html, shown_labels
from services.frontend.models import Prediction
from services.frontend.port import ApiCallError
from services.frontend.views.common import pasted_key, score_chart

__all__ = ["COMMENT", "SCORED", "Scored", "render"]

COMMENT = "comment"
"""Session-state key of the comment box."""
SCORED = "scored"
"""Session-state key of the last scored comment."""

_DECISION_WORDS = {
    Decision.ALLOW: "Allow",
    Decision.REVIEW: "Review",
    Decision.REJECT: "Reject",
}


@dataclass(frozen=True)
class Scored:
    """A comment as it was sent and what the API answered."""

    text: str
    prediction: Prediction


def render(wiring: Wiring) -> None:
    st.title("Score a comment")
    api, key = wiring.api, pasted_key()
    if st.button("Load a random example", help="A comment of the model's training set."):
        try:
            example = api.random_example(key=key)
        except ApiCallError as problem:
            st.error(problem.message)
        else:
            st.session_state[COMMENT] = example.text
            st.session_state.pop(SCORED, None)
            true = [label.value for label in LABELS if example.labels.get(label)]
            st.caption(f"Its own labels in the training set: {', '.join(true) or 'none'}")
    text = st.text_area("Comment", key=COMMENT, height=140, placeholder="Type a comment")
    if st.button("Score", type="primary"):
        if not text.strip():
            st.warning("Type a comment first.")
        else:
            try:
                st.session_state[SCORED] = Scored(text, api.predict(text, key=key))
            except ApiCallError as problem:
                st.session_state.pop(SCORED, None)
                st.error(problem.message)
    scored = st.session_state.get(SCORED)
    if isinstance(scored, Scored):
        _result(scored)
        _feedback(wiring, scored.prediction)


def _result(scored: Scored) -> None:
    p = scored.prediction
    m = p.moderation
    decision, confidence, version = st.columns(3)
    decision.metric("Decision", _DECISION_WORDS[m.decision])
    confidence.metric("Confidence", f"{m.confidence:.0%}")
    version.metric("Model version", p.model_version)
    priority = f" Review priority: {m.priority.value}." if m.priority else ""
    st.write(f"{m.reasoning}{priority}")
    st.subheader("Scores per label")
    st.altair_chart(
        score_chart(p.scores, p.flagged), width="stretch", alt="Score per label, 0 to 1"
    )
    st.caption(
        " · ".join(f"{label.value} {p.scores.get(label, 0.0):.3f}" for label in LABELS)
        + f" · flagged: {', '.join(label.value for label in p.flagged) or 'none'}"
    )
    st.subheader("What drove the score")
    names = ", ".join(label.value for label in shown_labels(p))
    st.caption(f"Marked: the words that raised {names or 'the scores'} most.")
    st.html(highlight_html(scored.text, p))


def _feedback(wiring: Wiring, prediction: Prediction) -> None:
    st.subheader("Was this right?")
    api, key = wiring.api, pasted_key()
    # Widget keys carry the prediction id: a new score starts from its own flagged labels.
    pid = prediction.prediction_id
    if st.button("Yes, the flagged labels are right"):
        try:
            receipt = api.feedback_correct(prediction.prediction_id, key=key)
        except ApiCallError as problem:
            st.error(problem.message)
        else:
            st.success(f"Thanks: feedback {receipt.feedback_id} recorded.")
    with st.form(f"corrections-{pid}"):
        st.write("Or give the true labels:")
        columns = st.columns(3)
        chosen: dict[Label, bool] = {}
        for i, label in enumerate(LABELS):
            chosen[label] = columns[i % 3].checkbox(
                label.value,
                value=label in prediction.flagged,
                key=f"true-{pid}-{label.value}",
            )
        note = st.text_input("Note (optional)", max_chars=2_000, key=f"note-{pid}")
        if st.form_submit_button("Send corrections"):
            try:
                receipt = api.feedback_labels(
                    prediction.prediction_id, chosen, note=note.strip() or None, key=key
                )
            except ApiCallError as problem:
                st.error(problem.message)
            else:
                st.success(f"Thanks: corrected labels recorded (feedback {receipt.feedback_id}).")
