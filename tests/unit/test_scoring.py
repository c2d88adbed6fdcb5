"""`toxic score`'s CSV handling: rows kept in order, label columns replaced, clear errors."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from contracts import LABELS
from services.training.data import TrainingDataError
from services.training.scoring import score_csv

pytestmark = pytest.mark.unit


class LengthScorer:
    """Scores a text by its length, so each output row shows which input it came from."""

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        lengths = np.array([len(t) / 1000 for t in texts], dtype=np.float64)
        return np.tile(lengths[:, None], (1, len(LABELS)))


def test_rows_keep_their_order_and_columns_and_labels_are_replaced(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'id,comment_text,toxic,note\n1,hello,1,a\n2,"a longer, quoted one",0,b\n3,é,1,c\n',
        encoding="utf-8",
    )
    target = tmp_path / "out.csv"

    assert score_csv(LengthScorer(), source, target) == 3

    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "comment_text", "toxic", "note"] + [
        label.value for label in LABELS if label.value != "toxic"
    ]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert [r["note"] for r in rows] == ["a", "b", "c"]
    assert rows[1]["comment_text"] == "a longer, quoted one"
    assert rows[1]["toxic"] == "0.020000"
    assert rows[2]["identity_hate"] == "0.001000"


def test_a_file_without_the_text_column_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("id,text\n1,hello\n")

    with pytest.raises(TrainingDataError, match=r"bad\.csv: has no 'comment_text' column"):
        score_csv(LengthScorer(), source, tmp_path / "out.csv")


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"nothing\.csv: cannot be read"):
        score_csv(LengthScorer(), tmp_path / "nothing.csv", tmp_path / "out.csv")
