"""Training data: validation errors name the file, dedup merges labels, the splits are fixed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from contracts.vocabulary import Label
from services.training import sources
from services.training.data import (
    LabelledTexts,
    TrainingDataError,
    deduplicate,
    digest,
    normalise,
    read_csv,
    read_files,
    text_key,
)
from services.training.sources import (
    KaggleUnavailableError,
    Origin,
    load_training_data,
)
from services.training.splits import Part, part_of, split
from shared.errors import PoisonError

pytestmark = pytest.mark.unit

HEADER = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(TrainingDataError) as caught:
        read_csv(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


# --- validation ---------------------------------------------------------------------------------


def test_a_file_without_the_text_column_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "no_text.csv", "id,text,toxic\n1,hello,0\n")
    assert "no 'comment_text' column" in refusal(path)


def test_a_label_other_than_zero_or_one_names_the_first_bad_row_and_column(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "bad_label.csv",
        "comment_text,toxic,insult\nfine,0,0\nalso fine,1,1\nbad,1,yes\nworse,2,2\n",
    )
    message = refusal(path)
    assert "row 3" in message
    assert "'insult'" in message
    assert "'yes'" in message


def test_a_blank_label_cell_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "blank_label.csv", "comment_text,toxic\nhello,\n")
    assert "column 'toxic'" in refusal(path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert "empty" in refusal(write(tmp_path, "empty.csv", ""))


def test_a_file_with_only_a_header_is_refused(tmp_path: Path) -> None:
    assert "no rows" in refusal(write(tmp_path, "header_only.csv", HEADER))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refusal(tmp_path / "absent.csv")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "folder.csv"
    directory.mkdir()
    assert "directory" in refusal(directory)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.csv", "comment_text,toxic\ncaf\xe9,0\n".encode("latin-1"))
    assert "not UTF-8" in refusal(path)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    nul = write(tmp_path, "nul.csv", b"comment_text,toxic\n\x00\x01\x02,0\n")
    assert "binary file, not CSV" in refusal(nul)
    zipped = write(tmp_path, "model.csv", b"PK\x03\x04\x14\x00\x08\x08\xa7\xb3\x00\xff")
    assert "not UTF-8" in refusal(zipped)


def test_a_row_with_the_wrong_number_of_fields_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "comment_text,toxic\nhello,0\nhi,0,1\n")
    assert "row 2" in refusal(path)


def test_a_data_error_is_poison_and_a_value_error() -> None:
    assert issubclass(TrainingDataError, PoisonError)
    assert issubclass(TrainingDataError, ValueError)


# --- reading ------------------------------------------------------------------------------------


def test_unicode_text_is_kept_and_other_columns_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "unicode.csv",
        HEADER + 'a1,"Ça va? 你好 — naïve 🙂",0,0,0,0,0,0\na2,"line one\nline two",1,0,1,0,1,0\n',
    )
    data = read_csv(path)
    assert data.texts == ("Ça va? 你好 — naïve 🙂", "line one\nline two")
    assert data.labels.tolist() == [[0.0] * 6, [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]


def test_a_toxic_only_file_leaves_the_other_labels_unlabelled(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path, "binary.csv", "comment_text,toxic\nyou fool,1\nhello,0\n"))
    assert data.labels[:, 0].tolist() == [1.0, 0.0]
    assert np.isnan(data.labels[:, 1:]).all()
    assert data.labelled(Label.TOXIC).all()
    assert not data.labelled(Label.INSULT).any()


def test_rows_with_blank_text_are_dropped(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path, "blank.csv", 'comment_text,toxic\n"  ",1\nhi,0\n'))
    assert data.texts == ("hi",)


# --- dedup --------------------------------------------------------------------------------------


def test_duplicates_across_files_become_one_row_with_merged_labels(tmp_path: Path) -> None:
    binary = write(tmp_path, "binary.csv", 'comment_text,toxic\n"You  FOOL",1\nhello,0\n')
    multi = write(
        tmp_path, "multi.csv", HEADER + "x,you fool,0,0,0,0,1,0\ny,something else,0,0,0,0,0,0\n"
    )
    data = read_files([binary, multi])
    assert len(data) == 3
    row = [normalise(text) for text in data.texts].index("you fool")
    # toxic: the copies disagree (1 and 0), the positive wins; insult comes from the only copy
    # that has it; the rest from the multi-label copy.
    assert data.labels[row].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    hello = [normalise(text) for text in data.texts].index("hello")
    assert np.isnan(data.labels[hello, 1:]).all()


def test_deduplication_does_not_depend_on_the_order_of_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", 'comment_text,toxic\n"Hello there",0\nbye,1\n')
    second = write(tmp_path, "b.csv", 'comment_text,toxic\n"hello   there",1\nnew,0\n')
    one, other = read_files([first, second]), read_files([second, first])
    assert one.texts == other.texts
    assert np.array_equal(one.labels, other.labels, equal_nan=True)


def test_normalisation_lowercases_and_collapses_whitespace() -> None:
    assert normalise("  Hello\t\n  WORLD  ") == "hello world"
    expected = hashlib.sha256(b"hello world").hexdigest()
    assert text_key("Hello   World") == expected


# --- splits -------------------------------------------------------------------------------------


def test_a_known_text_lands_on_its_known_side() -> None:
    # sha256 of the normalised text ends in ...91 (held out), ...0c (validation), ...56 (train).
    assert text_key("see you tomorrow").endswith("91")
    assert part_of(text_key("  See you TOMORROW ")) is Part.HOLDOUT
    assert text_key("great article").endswith("0c")
    assert part_of(text_key("Great article")) is Part.VALIDATION
    assert text_key("you are great").endswith("56")
    assert part_of(text_key("you are great")) is Part.TRAIN


def test_about_one_in_eight_texts_is_held_out_and_a_quarter_of_the_rest_validates() -> None:
    data = LabelledTexts.of((f"comment number {i}", {Label.TOXIC: i % 2 == 0}) for i in range(8000))
    splits = split(data)
    assert 0.11 < len(splits.holdout) / len(data) < 0.14
    assert 0.22 < len(splits.validation) / (len(data) - len(splits.holdout)) < 0.28
    assert len(splits.train) + len(splits.validation) + len(splits.holdout) == len(data)
    held = set(splits.holdout.keys)
    assert all(int(key[-1], 16) < 2 for key in held)
    assert held.isdisjoint(splits.validation.keys)
    assert held.isdisjoint(splits.train.keys)


# --- digest -------------------------------------------------------------------------------------


def sample() -> LabelledTexts:
    return LabelledTexts.of(
        [
            ("first comment", {Label.TOXIC: False}),
            ("second comment", {Label.TOXIC: True, Label.INSULT: True}),
            ("third comment", dict.fromkeys(Label, False)),
        ]
    )


def test_the_same_rows_in_any_order_give_the_same_digest() -> None:
    data = sample()
    reordered = data.subset(np.array([2, 0, 1]))
    with_duplicate = deduplicate([data, data.subset(np.array([0]))])
    assert digest(data) == digest(reordered) == digest(with_duplicate)
    assert len(digest(data)) == 64


def test_a_changed_label_or_text_changes_the_digest() -> None:
    data = sample()
    relabelled = LabelledTexts(data.texts, data.labels.copy())
    relabelled.labels[0, 0] = 1.0
    unlabelled = LabelledTexts(data.texts, data.labels.copy())
    unlabelled.labels[2, 3] = np.nan
    retexted = LabelledTexts(("first comment!", *data.texts[1:]), data.labels)
    digests = {digest(d) for d in (data, relabelled, unlabelled, retexted)}
    assert len(digests) == 4


# --- sources ------------------------------------------------------------------------------------


def test_given_paths_are_read_and_never_fall_back(tmp_path: Path) -> None:
    good = write(tmp_path, "good.csv", "comment_text,toxic\nhello,0\n")
    data = load_training_data([good], kaggle=None)
    assert data.origin is Origin.FILES
    assert data.rows.texts == ("hello",)
    with pytest.raises(TrainingDataError, match=r"bad\.csv"):
        load_training_data([good, write(tmp_path, "bad.csv", "text\nhello\n")], kaggle=None)


def test_kaggle_is_used_when_no_path_is_given(tmp_path: Path) -> None:
    downloaded = write(tmp_path, "train.csv", HEADER + "k,a kaggle row,0,0,0,0,0,0\n")
    data = load_training_data(kaggle=lambda: downloaded)
    assert data.origin is Origin.KAGGLE
    assert data.rows.texts == ("a kaggle row",)


def test_without_kaggle_the_starter_set_is_used_with_a_loud_warning() -> None:
    def offline() -> Path:
        raise KaggleUnavailableError("no network")

    with capture_logs() as logs:
        data = load_training_data(kaggle=offline)
    assert data.origin is Origin.STARTER
    assert 150 <= len(data.rows) <= 300
    positives = np.nansum(data.rows.labels, axis=0)
    assert (positives >= 3).all(), "every label has a few positives"
    events = {entry["event"]: entry for entry in logs}
    assert events["kaggle_unavailable"]["reason"] == "no network"
    assert events["starter_data_used"]["log_level"] == "warning"
    assert "STARTER SET" in events["starter_data_used"]["message"]


def test_kaggle_download_fails_fast_when_the_host_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sources, "KAGGLE_HOST", "127.0.0.1")  # nothing listens on 443 here
    began = time.monotonic()
    with pytest.raises(KaggleUnavailableError, match="not reachable"):
        sources.download_from_kaggle(timeout=2.0)
    assert time.monotonic() - began < 3.0
