"""The frontend on an in-memory API: every page with data and empty, and what it sends.

The app runs in Streamlit's AppTest with ``FakeToxicApi`` in its session state; the parts under
the pages (CSV reading, batch scoring, highlighting, the HTTP adapter's error mapping over
httpx's MockTransport, settings and the launch command) are tested directly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from contracts import LABELS, Label, ModeratorAction, ReviewPriority
from services.frontend.bootstrap import (
    HEALTH_PATH,
    SESSION_API,
    SESSION_SETTINGS,
    streamlit_command,
)
from services.frontend.client import HttpToxicApi
from services.frontend.highlight import highlight_html, marks
from services.frontend.models import Example, Span
from services.frontend.port import ApiCallError, ToxicApi
from services.frontend.settings import FrontendSettings
from services.frontend.uploads import (
    ADDED_COLUMNS,
    UploadError,
    read_upload,
    score_upload,
    to_csv,
)
from services.frontend.views.common import KEY_INPUT, PASTED_KEY
from services.frontend.views.review import review_labels
from tests.fakes.frontend_api import FakeToxicApi, review_item

pytestmark = pytest.mark.unit

APP = Path(__file__).parents[2] / "services" / "frontend" / "app.py"
MODERATOR = "tox_moderator"
CLIENT = "tox_client"


def app(fake: FakeToxicApi, settings: FrontendSettings | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.session_state[SESSION_API] = fake
    if settings is not None:
        at.session_state[SESSION_SETTINGS] = settings
    return at.run()


def on_page(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"pages/{page}.py").run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def chart_rows(at: AppTest) -> list[dict[str, Any]]:
    """The rows of the page's one Vega-Lite chart, wherever Streamlit put them."""
    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    [dataset] = [d for d in chart.proto.datasets if d.name == spec["data"]["name"]]
    frame = convert_arrow_bytes_to_pandas_df(dataset.data.data)
    return [dict(row) for row in frame.to_dict("records")]


def score(at: AppTest, text: str) -> AppTest:
    at.text_area(key="comment").set_value(text)
    return click(at, "Score")


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


# The score page --------------------------------------------------------------------------


def test_the_score_page_starts_with_an_empty_box_and_no_result() -> None:
    at = app(FakeToxicApi())
    no_exception(at)
    assert at.title[0].value == "Score a comment"
    assert at.text_area(key="comment").value == ""
    assert not at.metric
    assert not at.get("vega_lite_chart")
    click(at, "Score")
    assert [w.value for w in at.warning] == ["Type a comment first."]


def test_scoring_shows_bars_per_label_the_decision_the_version_and_the_marked_words() -> None:
    fake = FakeToxicApi(model_version="v7")
    at = score(app(fake), "you idiot, I will kill you")
    no_exception(at)
    assert fake.calls == ["predict"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Decision": "Reject", "Confidence": "94%", "Model version": "v7"}
    rows = {row["label"]: row for row in chart_rows(at)}
    assert list(rows) == [label.value for label in LABELS]
    assert rows["toxic"]["score"] == 0.97
    assert rows["threat"]["flagged"] == "flagged"
    assert rows["identity_hate"]["flagged"] == "not flagged"
    [marked] = at.html
    assert ">idiot</mark>" in marked.value
    assert ">kill</mark>" in marked.value
    assert "you <mark" in marked.value  # unmarked words stay as they were
    assert any("top score 0.97 (reject)" in m.value for m in at.markdown)


def test_highlighting_escapes_the_comment_so_markup_in_it_stays_text() -> None:
    at = score(app(FakeToxicApi()), "<script>alert('x')</script> idiot <b>")
    no_exception(at)
    [marked] = at.html
    assert "<script>" not in marked.value
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in marked.value
    assert "&lt;b&gt;" in marked.value
    assert ">idiot</mark>" in marked.value


def test_a_clean_comment_marks_nothing_and_is_allowed() -> None:
    at = score(app(FakeToxicApi()), "thank you for the kind words")
    no_exception(at)
    assert {m.label: m.value for m in at.metric}["Decision"] == "Allow"
    assert "<mark" not in at.html[0].value


def test_correct_feedback_sends_the_prediction_id_as_correct() -> None:
    fake = FakeToxicApi()
    at = score(app(fake), "you fool")
    click(at, "Yes, the flagged labels are right")
    no_exception(at)
    [sent] = fake.feedback
    [prediction_id] = fake.predictions
    assert sent.prediction_id == prediction_id
    assert sent.correct is True
    assert sent.labels is None
    assert at.success[0].value.startswith("Thanks: feedback ")


def test_label_corrections_send_all_six_labels_and_the_note() -> None:
    fake = FakeToxicApi()
    at = score(app(fake), "you fool")
    [prediction_id] = fake.predictions
    boxes = {c.label: c for c in at.checkbox}
    assert [label for label, box in boxes.items() if box.value] == ["toxic", "insult"]
    boxes["insult"].uncheck()
    boxes["threat"].check()
    at.text_input(key=f"note-{prediction_id}").set_value("a threat, not an insult")
    [submit] = [b for b in at.button if b.label == "Send corrections"]
    submit.click().run()
    no_exception(at)
    [sent] = fake.feedback
    assert sent.correct is False
    assert sent.labels == {
        Label.TOXIC: True,
        Label.SEVERE_TOXIC: False,
        Label.OBSCENE: False,
        Label.THREAT: True,
        Label.INSULT: False,
        Label.IDENTITY_HATE: False,
    }
    assert sent.note == "a threat, not an insult"
    assert "corrected labels recorded" in at.success[0].value


def test_a_random_example_fills_the_box_and_shows_its_own_labels() -> None:
    labels = {label: label in (Label.TOXIC, Label.OBSCENE) for label in LABELS}
    fake = FakeToxicApi(
        examples=[Example(text="what a damn mess", labels=labels, model_version="fake-v1")]
    )
    at = click(app(fake), "Load a random example")
    no_exception(at)
    assert at.text_area(key="comment").value == "what a damn mess"
    assert "toxic, obscene" in at.caption[0].value
    click(at, "Score")
    assert fake.calls == ["random_example", "predict"]
    assert ">damn</mark>" in at.html[0].value


def test_an_unreachable_api_is_a_clear_error_on_every_page() -> None:
    fake = FakeToxicApi(down=True)
    at = app(fake)
    at.sidebar.text_input(key=KEY_INPUT).set_value(MODERATOR).run()
    at = score(at, "hello")
    assert errors(at) == [
        "The API at http://fake is not reachable (connection refused). "
        "Is `toxic serve api` running?"
    ]
    assert not at.metric
    click(at, "Load a random example")
    assert "not reachable" in errors(at)[0]
    at = on_page(at, "review")
    assert "not reachable" in errors(at)[0]
    no_exception(at)


def test_a_refused_comment_shows_the_apis_own_message() -> None:
    at = score(app(FakeToxicApi()), "x" * 10_001)
    no_exception(at)
    assert errors(at) == [
        "The API refused the request (422): text: 10001 characters is over the limit of "
        "10000 (TOXIC_MAX_TEXT_CHARS)"
    ]


def test_rate_limited_and_unavailable_say_when_to_try_again() -> None:
    fake = FakeToxicApi(refuse_next=(429, "rate limit exceeded for this key", 3))
    at = score(app(fake), "hello")
    assert errors(at) == [
        "The API is busy (429): rate limit exceeded for this key. Try again in 3 s."
    ]
    at = click(at, "Load a random example")  # the fake has no examples: 503, Retry-After 2
    assert errors(at) == [
        "The API cannot answer right now (503): no model is loaded yet. Try again in 2 s."
    ]


# The CSV page -----------------------------------------------------------------------------


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def test_the_csv_page_without_a_file_names_its_limits() -> None:
    settings = FrontendSettings(max_upload_rows=5_000, max_upload_mb=3, batch_size=250)
    at = on_page(app(FakeToxicApi(), settings), "batch")
    no_exception(at)
    assert at.title[0].value == "Score a CSV of comments"
    assert "up to 5,000 rows and 3 MB per upload" in at.markdown[0].value
    assert "250 comments per call" in at.markdown[0].value
    assert [i.value for i in at.info] == ["Choose a CSV file to score."]
    assert not at.get("download_button")


def test_an_uploaded_csv_is_scored_in_batches_and_offered_for_download() -> None:
    fake = FakeToxicApi()
    settings = FrontendSettings(batch_size=2)
    at = on_page(app(fake, settings), "batch")
    data = csv_bytes(
        ["id", "comment_text"],
        [["1", "you idiot"], ["2", "  "], ["3", "you fool"], ["4", "lovely day"]],
    )
    at.file_uploader[0].set_value(("comments.csv", data, "text/csv")).run()
    no_exception(at)
    assert "4 rows; comments in `comment_text`" in at.caption[0].value
    click(at, "Score the file")
    no_exception(at)
    assert fake.batch_sizes == [2, 1]  # the blank row is not sent
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Allow": "1", "Review": "1", "Reject": "1", "Not scored": "1"}
    table = at.dataframe[0].value
    assert list(table["id"]) == ["1", "2", "3", "4"]
    assert list(table["decision"]) == ["reject", "", "review", "allow"]
    assert list(table["error"])[1] == "empty comment: not scored"
    [download] = at.get("download_button")
    assert download.proto.label == "Download the scored CSV"


@pytest.mark.parametrize(
    ("data", "settings", "message"),
    [
        (b"", {}, "the file is empty"),
        (b"id,body\n1,hello\n", {}, "needs a `comment_text` or `text` column"),
        (b"text\n", {}, "has a header but no comments"),
        (b"text\na\nb\nc\n", {"max_upload_rows": 2}, "more than 2 rows, the limit per upload"),
        ("text\n\u00e9\n".encode("latin-1"), {}, "is not UTF-8"),
    ],
)
def test_a_csv_that_cannot_be_scored_is_a_clear_error(
    data: bytes, settings: dict[str, Any], message: str
) -> None:
    fake = FakeToxicApi()
    at = on_page(app(fake, FrontendSettings(**settings)), "batch")
    at.file_uploader[0].set_value(("bad.csv", data, "text/csv")).run()
    no_exception(at)
    [error] = errors(at)
    assert error.startswith("bad.csv: ")
    assert message in error
    assert not [b for b in at.button if b.label == "Score the file"]
    assert fake.calls == []


def test_a_refused_batch_names_the_csv_row() -> None:
    fake = FakeToxicApi()
    at = on_page(app(fake, FrontendSettings(batch_size=2)), "batch")
    data = csv_bytes(["text"], [["fine"], ["fine too"], ["ok"], ["y" * 10_001]])
    at.file_uploader[0].set_value(("long.csv", data, "text/csv")).run()
    click(at, "Score the file")
    no_exception(at)
    assert errors(at) == [
        "Scoring rows 3-4 failed. The API refused the request (422): row 4: 10001 characters "
        "is over the limit of 10000 (TOXIC_MAX_TEXT_CHARS)"
    ]
    assert not at.get("download_button")


def test_read_upload_refuses_a_file_over_the_size_limit_and_unsafe_shapes() -> None:
    with pytest.raises(UploadError, match=r"over the limit of 1 MB per upload"):
        read_upload(b"text\n" + b"a" * 1_048_576, max_rows=10, max_bytes=1_048_576)
    with pytest.raises(UploadError, match="repeated: text"):
        read_upload(b"text,text\na,b\n", max_rows=10, max_bytes=10_000)
    with pytest.raises(UploadError, match="row 1 has 3 fields but the header has 2"):
        read_upload(b"id,text\n1,a,b\n", max_rows=10, max_bytes=10_000)
    with pytest.raises(UploadError, match="already has the column"):
        read_upload(b"text,decision\na,b\n", max_rows=10, max_bytes=10_000)


def test_read_upload_prefers_comment_text_keeps_quoted_commas_and_a_bom() -> None:
    data = '\ufeffid,text,comment_text\n1,ignored,"hello, world"\n2,x\n\n'.encode()
    upload = read_upload(data, max_rows=2, max_bytes=10_000)
    assert upload.text_column == "comment_text"
    assert upload.columns == ("id", "text", "comment_text")
    assert [r["comment_text"] for r in upload.rows] == ["hello, world", ""]


def test_score_upload_chunks_at_the_apis_batch_limit_and_keeps_row_order() -> None:
    fake = FakeToxicApi()
    texts = [f"comment {i} idiot" if i % 7 == 0 else f"comment {i}" for i in range(2_500)]
    upload = read_upload(
        csv_bytes(["text"], [[t] for t in texts]), max_rows=10_000, max_bytes=10**7
    )
    seen: list[tuple[int, int]] = []
    rows = score_upload(fake, upload, batch_size=1_000, progress=lambda d, t: seen.append((d, t)))
    assert fake.batch_sizes == [1_000, 1_000, 500]
    assert seen == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    assert [r["text"] for r in rows] == texts
    assert [r["decision"] for r in rows[:2]] == ["reject", "allow"]
    with pytest.raises(ValueError, match="batch_size must be 1 to 1000"):
        score_upload(fake, upload, batch_size=1_001)
    written = list(csv.DictReader(io.StringIO(to_csv(upload.columns, rows).decode())))
    assert list(written[0]) == ["text", *ADDED_COLUMNS]
    assert float(written[0]["score_toxic"]) == pytest.approx(0.97)
    assert written[0]["flagged"] == "toxic;insult"


# The review page --------------------------------------------------------------------------


def moderator_app(fake: FakeToxicApi, key: str = MODERATOR) -> AppTest:
    at = app(fake)
    at.sidebar.text_input(key=KEY_INPUT).set_value(key).run()
    assert at.session_state[PASTED_KEY] == key
    return on_page(at, "review")


def test_the_review_page_asks_for_a_key_before_calling_the_api() -> None:
    fake = FakeToxicApi()
    at = on_page(app(fake), "review")
    no_exception(at)
    assert [i.value for i in at.info] == [
        "The review queue needs a moderator key: paste one in the sidebar."
    ]
    assert fake.calls == []


def test_an_empty_review_queue_says_so() -> None:
    at = moderator_app(FakeToxicApi(moderator_keys={MODERATOR}))
    no_exception(at)
    assert [i.value for i in at.info] == ["No comments wait for review."]


def test_a_client_key_on_the_review_page_is_refused_with_the_reason() -> None:
    fake = FakeToxicApi(moderator_keys={MODERATOR}, client_keys={CLIENT})
    at = moderator_app(fake, CLIENT)
    assert errors(at) == [
        "The API refused the request (403): this route needs the moderator role. This needs a "
        "key with a higher role (the review queue needs a moderator key)."
    ]


def test_the_review_queue_lists_high_priority_first_and_approve_sends_the_action() -> None:
    fake = FakeToxicApi(moderator_keys={MODERATOR})
    low = review_item("damn it", ReviewPriority.LOW, minutes_ago=30)
    high = review_item("I will kill you", ReviewPriority.HIGH, minutes_ago=1)
    medium = review_item("you fool", ReviewPriority.MEDIUM, minutes_ago=10)
    fake.reviews = [low, medium, high]
    at = moderator_app(fake)
    no_exception(at)
    assert [t.value for t in at.text] == ["I will kill you", "you fool", "damn it"]
    assert "3 pending" in at.caption[0].value
    approve = [b for b in at.button if b.label == "Approve"]
    approve[1].click().run()
    no_exception(at)
    [done] = fake.moderated
    assert done.prediction_id == medium.prediction_id
    assert done.action is ModeratorAction.APPROVE
    assert done.labels == {}
    assert done.note is None
    assert done.key == MODERATOR
    assert [t.value for t in at.text] == ["I will kill you", "damn it"]
    assert at.success[0].value == f"Comment {medium.prediction_id} approved."


def test_remove_sends_the_corrected_labels_and_the_note() -> None:
    fake = FakeToxicApi(moderator_keys={MODERATOR})
    item = review_item("I will kill you", ReviewPriority.HIGH)
    fake.reviews = [item]
    at = moderator_app(fake)
    pid = item.prediction_id
    at.multiselect(key=f"labels-{pid}").set_value(["threat", "severe_toxic"])
    at.text_input(key=f"note-{pid}").set_value("a real threat")
    [remove] = [b for b in at.button if b.label == "Remove"]
    remove.click().run()
    no_exception(at)
    [done] = fake.moderated
    assert done.action is ModeratorAction.REMOVE
    assert done.labels == {label: label in (Label.THREAT, Label.SEVERE_TOXIC) for label in LABELS}
    assert done.note == "a real threat"
    assert [i.value for i in at.info] == ["No comments wait for review."]


def test_an_action_the_api_refuses_shows_its_message_and_keeps_the_item() -> None:
    fake = FakeToxicApi(moderator_keys={MODERATOR})
    item = review_item("you fool")
    fake.reviews = [item]
    at = moderator_app(fake)
    fake.refuse_next = (409, f"prediction {item.prediction_id} was already reviewed", None)
    [approve] = [b for b in at.button if b.label == "Approve"]
    approve.click().run()
    assert errors(at) == [
        f"The API refused the request (409): prediction {item.prediction_id} was already reviewed"
    ]
    assert fake.moderated == []


def test_a_review_without_stored_text_says_so_and_shows_its_context() -> None:
    fake = FakeToxicApi(moderator_keys={MODERATOR})
    fake.reviews = [
        review_item("you fool").model_copy(update={"text": None, "context": "<i>earlier</i>"})
    ]
    at = moderator_app(fake)
    no_exception(at)
    assert [t.value for t in at.text] == ["(the text was not stored)", "<i>earlier</i>"]


def test_an_unreachable_api_while_scoring_a_csv_keeps_the_page_usable() -> None:
    fake = FakeToxicApi(down=True)
    at = on_page(app(fake), "batch")
    at.file_uploader[0].set_value(("c.csv", b"text\nhello\n", "text/csv")).run()
    click(at, "Score the file")
    no_exception(at)
    assert errors(at) == [
        "Scoring row 1 failed. The API at http://fake is not reachable (connection "
        "refused). Is `toxic serve api` running?"
    ]
    assert not at.get("download_button")


def test_review_labels_send_nothing_or_all_six() -> None:
    assert review_labels([]) == {}
    assert review_labels(["insult"]) == {label: label is Label.INSULT for label in LABELS}


# Parts under the pages ----------------------------------------------------------------------


def test_overlapping_spans_merge_and_spans_outside_the_text_are_dropped() -> None:
    def span(start: int, end: int, weight: float) -> Span:
        return Span(ngram="?", start=start, end=end, weight=weight)

    found = marks(
        "you utter idiot",
        [
            (Label.TOXIC, span(4, 9, 0.5)),
            (Label.INSULT, span(4, 15, 2.0)),
            (Label.TOXIC, span(0, 3, 0.0)),  # raised nothing
            (Label.TOXIC, span(10, 99, 1.0)),  # past the end
        ],
    )
    assert [(m.start, m.end, m.weight, m.labels) for m in found] == [
        (4, 15, 2.0, {Label.TOXIC, Label.INSULT})
    ]


def test_highlight_uses_the_top_label_when_nothing_is_flagged() -> None:
    prediction = FakeToxicApi().score("well damn")
    prediction = prediction.model_copy(update={"flagged": []})
    assert ">damn</mark>" in highlight_html("well damn", prediction)


def http_api(handler: Callable[[httpx.Request], httpx.Response], key: str | None = None) -> Any:
    http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(handler))
    return HttpToxicApi(http, api_key=key)


def test_the_adapter_satisfies_the_port_and_sends_the_key_and_explain() -> None:
    seen: list[httpx.Request] = []
    prediction = FakeToxicApi().score("you fool")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=prediction.model_dump_json())

    api: ToxicApi = http_api(handler, key="configured")
    assert api.predict("you fool") == prediction
    api.predict("you fool", key="pasted")
    assert json.loads(seen[0].content) == {"text": "you fool", "explain": True}
    assert [r.headers["x-api-key"] for r in seen] == ["configured", "pasted"]


@pytest.mark.parametrize(
    ("response", "message", "retry_after"),
    [
        (
            httpx.Response(422, json={"error": {"code": 422, "message": "text: too long"}}),
            "The API refused the request (422): text: too long",
            None,
        ),
        (
            httpx.Response(401, json={"error": {"code": 401, "message": "needs a key"}}),
            "The API refused the request (401): needs a key. Paste a valid API key in the sidebar.",
            None,
        ),
        (
            httpx.Response(
                503,
                json={"error": {"code": 503, "message": "the outbox is full"}},
                headers={"Retry-After": "5"},
            ),
            "The API cannot answer right now (503): the outbox is full. Try again in 5 s.",
            5.0,
        ),
        (
            httpx.Response(500, text="Internal Server Error"),
            "The API failed (500): Internal Server Error",
            None,
        ),
        (
            httpx.Response(200, json={"unexpected": True}),
            "The API answered /v1/predict with something this app cannot read",
            None,
        ),
    ],
)
def test_the_adapter_turns_every_failure_into_one_readable_error(
    response: httpx.Response, message: str, retry_after: float | None
) -> None:
    api = http_api(lambda _: response)
    with pytest.raises(ApiCallError) as caught:
        api.predict("hello")
    assert caught.value.message.startswith(message)
    assert caught.value.retry_after == retry_after


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "The API at http://api.test is not reachable (connection refused). "
            "Is `toxic serve api` running?",
        ),
        (httpx.ReadTimeout("timed out"), "The API at http://api.test did not answer within"),
    ],
)
def test_the_adapter_says_when_the_api_cannot_be_reached(
    exception: Exception, message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(ApiCallError) as caught:
        http_api(handler).random_example()
    assert caught.value.message.startswith(message)
    assert caught.value.status is None


def test_settings_validate_their_limits_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIC_FRONTEND_PORT", "8600")
    monkeypatch.setenv("TOXIC_FRONTEND_API_URL", "http://api.example:9000/")
    monkeypatch.setenv("TOXIC_FRONTEND_API_KEY", " ")
    settings = FrontendSettings()
    assert settings.port == 8600
    assert settings.api_url == "http://api.example:9000"
    assert settings.api_key is None
    with pytest.raises(ValidationError, match="batch_size"):
        FrontendSettings(batch_size=1_001)
    with pytest.raises(ValidationError, match="http"):
        FrontendSettings(api_url="ftp://somewhere")
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_the_launch_command_runs_streamlit_headless_on_the_settings_address() -> None:
    command = streamlit_command(FrontendSettings(host="0.0.0.0", port=8600, max_upload_mb=7))
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4].endswith("services/frontend/app.py")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.address": "0.0.0.0",
        "--server.port": "8600",
        "--server.headless": "true",
        "--server.maxUploadSize": "7",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "viewer",
        "--global.developmentMode": "false",
    }
    assert HEALTH_PATH == "/_stcore/health"
