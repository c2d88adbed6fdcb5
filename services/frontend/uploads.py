"""CSV uploads: read a file of comments within named limits, score it in batch calls, write it out.

Limits, each refused with a message that names it: the file's size
(``TOXIC_FRONTEND_MAX_UPLOAD_MB``), its rows (``TOXIC_FRONTEND_MAX_UPLOAD_ROWS``), and one batch
call's comments (``TOXIC_FRONTEND_BATCH_SIZE``, at most the API's 1,000). Rows whose comment is
blank are kept in the output, unscored, with the reason in ``error``: the API would refuse the
whole batch for one of them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from contracts import LABELS
from services.frontend.models import Prediction
from services.frontend.port import ApiCallError, ToxicApi
from services.frontend.settings import API_BATCH_LIMIT

__all__ = [
    "ADDED_COLUMNS",
    "TEXT_COLUMNS",
    "Row",
    "Upload",
    "UploadError",
    "read_upload",
    "score_upload",
    "to_csv",
]

TEXT_COLUMNS = ("comment_text", "text")
"""The column holding the comments, in order of preference (Jigsaw's name first)."""

SCORE_COLUMNS = tuple(f"score_{label.value}" for label in LABELS)
ADDED_COLUMNS = (*SCORE_COLUMNS, "flagged", "decision", "prediction_id", "model_version", "error")
"""Columns the scored table adds after the upload's own."""

Row = dict[str, str]
Progress = Callable[[int, int], None]


class UploadError(ValueError):
    """The upload cannot be scored; the message says why in plain words."""


@dataclass(frozen=True)
class Upload:
    """The rows of an uploaded CSV, every value a string, and which column holds the comment."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    text_column: str


def read_upload(data: bytes, *, max_rows: int, max_bytes: int) -> Upload:
    """Parse ``data`` as a UTF-8 CSV of comments, or raise :class:`UploadError`."""
    if len(data) > max_bytes:
        raise UploadError(
            f"the file is {len(data) / 1_048_576:.1f} MB, over the limit of "
            f"{max_bytes / 1_048_576:g} MB per upload (TOXIC_FRONTEND_MAX_UPLOAD_MB)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"the file is not UTF-8 text (byte {exc.start} is not valid)") from None
    if not text.strip():
        raise UploadError("the file is empty: it needs a header row and at least one comment")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
        column = next((name for name in TEXT_COLUMNS if name in header), None)
        if column is None:
            found = ", ".join(repr(name) for name in header[:20]) or "none"
            raise UploadError(
                "the CSV needs a `comment_text` or `text` column with the comments "
                f"(its columns: {found})"
            )
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise UploadError(f"column names must be unique; repeated: {', '.join(duplicated)}")
        clashing = [name for name in header if name in ADDED_COLUMNS]
        if clashing:
            raise UploadError(
                f"the CSV already has the column(s) {', '.join(clashing)}, which scoring adds; "
                "rename them first"
            )
        rows: list[Row] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # a blank line, as spreadsheets leave at the end
            if len(values) > len(header):
                raise UploadError(
                    f"row {len(rows) + 1} has {len(values)} fields but the header has "
                    f"{len(header)}; quote commas inside comments"
                )
            if len(rows) == max_rows:
                raise UploadError(
                    f"the CSV has more than {max_rows:,} rows, the limit per upload "
                    "(TOXIC_FRONTEND_MAX_UPLOAD_ROWS); split it"
                )
            padded = [*values, *[""] * (len(header) - len(values))]
            rows.append(dict(zip(header, padded, strict=True)))
    except csv.Error as exc:
        raise UploadError(f"the file is not valid CSV (line {reader.line_num}): {exc}") from None
    if not rows:
        raise UploadError("the CSV has a header but no comments")
    return Upload(columns=tuple(header), rows=tuple(rows), text_column=column)


def _scored(row: Row, prediction: Prediction) -> Row:
    return {
        **row,
        **{f"score_{label.value}": f"{prediction.scores[label]:.6f}" for label in LABELS},
        "flagged": ";".join(label.value for label in prediction.flagged),
        "decision": prediction.moderation.decision.value,
        "prediction_id": str(prediction.prediction_id),
        "model_version": prediction.model_version,
        "error": "",
    }


def _unscored(row: Row, reason: str) -> Row:
    return {**row, **dict.fromkeys(ADDED_COLUMNS[:-1], ""), "error": reason}


def score_upload(
    api: ToxicApi,
    upload: Upload,
    *,
    batch_size: int,
    key: str | None = None,
    progress: Progress | None = None,
) -> list[Row]:
    """Every row of ``upload`` with its scores, scored in calls of ``batch_size`` comments."""
    if not 1 <= batch_size <= API_BATCH_LIMIT:
        raise ValueError(f"batch_size must be 1 to {API_BATCH_LIMIT}, got {batch_size}")
    out: list[Row] = [
        _unscored(row, "empty comment: not scored") if not row[upload.text_column].strip() else row
        for row in upload.rows
    ]
    wanted = [i for i, row in enumerate(upload.rows) if row[upload.text_column].strip()]
    done = 0
    for chunk in _chunks(wanted, batch_size):
        texts = [upload.rows[i][upload.text_column] for i in chunk]
        try:
            result = api.score_batch(texts, key=key)
        except ApiCallError as problem:
            raise _located(problem, chunk) from None
        if len(result.predictions) != len(chunk):
            raise ApiCallError(
                f"the API scored {len(result.predictions)} of the {len(chunk)} comments sent"
            )
        for i, prediction in zip(chunk, result.predictions, strict=True):
            out[i] = _scored(upload.rows[i], prediction)
        done += len(chunk)
        if progress is not None:
            progress(done, len(wanted))
    return out


def _located(problem: ApiCallError, chunk: Sequence[int]) -> ApiCallError:
    """``problem`` with the API's "texts.N" turned into the CSV's row number (1 = first row)."""

    def row(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"row {chunk[index] + 1}" if index < len(chunk) else match.group(0)

    message = re.sub(r"\btexts\.(\d+)", row, problem.message)
    first, last = chunk[0] + 1, chunk[-1] + 1
    where = f"row {first}" if first == last else f"rows {first}-{last}"
    return ApiCallError(
        f"Scoring {where} failed. {message}",
        status=problem.status,
        retry_after=problem.retry_after,
    )


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def to_csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    """The scored table as UTF-8 CSV: the upload's columns, then :data:`ADDED_COLUMNS`."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=[*columns, *ADDED_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
