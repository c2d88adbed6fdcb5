"""The toxicity model on small synthetic data: shapes, calibration, explanations, files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from contracts.events import DriftBaseline, LabelMetrics
from contracts.vocabulary import LABELS, Label
from services.training.data import LabelledTexts
from services.training.model import fit_model
from services.training.quality import (
    LENGTH_EDGES,
    SCORE_EDGES,
    drift_baseline,
    label_metrics,
)
from services.training.selection import candidates, config_from_params, select
from services.training.splits import split
from shared.model.artifact import (
    TRUSTED_TYPES,
    ModelFileError,
    dumps,
    load,
    loads,
    save,
    sha256_of,
)
from shared.model.calibration import best_f1_threshold, expected_calibration_error
from shared.model.features import NgramFeatures
from shared.model.toxicity import ModelConfig, ToxicityModel

pytestmark = pytest.mark.unit

TRIGGERS = {
    Label.TOXIC: ["awful", "nasty"],
    Label.SEVERE_TOXIC: ["vile"],
    Label.OBSCENE: ["crap", "damn"],
    Label.THREAT: ["smash", "hunt"],
    Label.INSULT: ["moron", "idiot"],
    Label.IDENTITY_HATE: ["zorblings"],
}
BENIGN = [
    "the",
    "a",
    "thanks",
    "article",
    "edit",
    "page",
    "please",
    "source",
    "good",
    "idea",
    "agree",
    "sure",
    "table",
    "map",
    "date",
]
SMALL = ModelConfig(name="small", max_char_features=5_000, max_word_features=5_000, folds=3)


def synthetic(rows: int = 900, seed: int = 3) -> LabelledTexts:
    """Benign words plus trigger words; a trigger sets its label (and toxic), with some noise."""
    rng = random.Random(seed)
    data = []
    for i in range(rows):
        words = [*rng.sample(BENIGN, 5), f"w{i}"]
        labels = dict.fromkeys(LABELS, False)
        for label, triggers in TRIGGERS.items():
            if rng.random() < 0.15:
                words.append(rng.choice(triggers).upper() if rng.random() < 0.3 else triggers[0])
                labels[label] = labels[Label.TOXIC] = True
        if rng.random() < 0.05:
            labels[Label.TOXIC] = not labels[Label.TOXIC]
        rng.shuffle(words)
        data.append((" ".join(words), labels))
    return LabelledTexts.of(data)


@pytest.fixture(scope="module")
def data() -> LabelledTexts:
    return synthetic()


@pytest.fixture(scope="module")
def model(data: LabelledTexts) -> ToxicityModel:
    splits = split(data)
    return fit_model(SMALL, splits.train, splits.validation)


# --- features -----------------------------------------------------------------------------------


def test_a_text_gets_the_same_features_whatever_batch_it_is_in() -> None:
    texts = ["You are an IDIOT!!", "thanks for the edit", "Ça va? 你好 🙂 naïve", "   "]
    features = NgramFeatures(max_char_features=500, max_word_features=500, min_df=1).fit(texts)
    together = features.transform(texts).toarray()
    for i, text in enumerate(texts):
        alone = features.transform([text]).toarray()[0]
        assert np.allclose(together[i], alone)
    norms = np.linalg.norm(together, axis=1)
    assert np.allclose(norms[:3], 1.0)
    assert norms[3] == 0.0


def test_batches_longer_than_a_chunk_are_transformed_row_for_row() -> None:
    texts = [f"comment {i} about edit {i % 7}" for i in range(2_500)]
    features = NgramFeatures(min_df=1).fit(texts)
    matrix = features.transform(texts)
    assert matrix.shape == (2_500, features.n_features)
    assert np.allclose(matrix[2_400].toarray(), features.transform([texts[2_400]]).toarray())


def test_occurrence_spans_index_the_original_text() -> None:
    text = "Ça  va,\tYOU idiot 🙂 idiot"
    features = NgramFeatures(min_df=1).fit([text, "you idiot"])
    found = features.occurrences(text)
    words = {
        text[s:e] for s, e, w in zip(found.starts, found.ends, found.is_word, strict=True) if w
    }
    assert {"Ça", "va", "YOU", "idiot", "YOU idiot"} <= words


# --- model --------------------------------------------------------------------------------------


def test_probabilities_have_one_column_per_label_and_lie_in_the_unit_interval(
    model: ToxicityModel, data: LabelledTexts
) -> None:
    probabilities = model.predict_proba(data.texts[:50])
    assert probabilities.shape == (50, len(LABELS))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert model.predict(data.texts[:50]).shape == (50, len(LABELS))
    assert model.labels == tuple(label.value for label in LABELS)


def test_the_model_learns_the_synthetic_triggers(model: ToxicityModel) -> None:
    scores = model.predict_proba(["the page please hunt smash", "the page please thanks table"])
    threat = LABELS.index(Label.THREAT)
    assert scores[0, threat] > scores[1, threat]
    assert scores[0, 0] > scores[1, 0]


def test_thresholds_are_the_best_f1_on_validation_rows(
    model: ToxicityModel, data: LabelledTexts
) -> None:
    validation = split(data).validation
    probabilities = model.predict_proba(validation.texts)
    for j in range(len(LABELS)):
        expected = best_f1_threshold(validation.labels[:, j], probabilities[:, j])
        assert model.thresholds[j] == pytest.approx(expected)


def test_rows_labelled_only_toxic_train_only_the_toxic_head() -> None:
    base = synthetic(300)
    extra = LabelledTexts.of([(f"qqzzx page {i}", {Label.TOXIC: True}) for i in range(40)])
    train = LabelledTexts(base.texts + extra.texts, np.vstack([base.labels, extra.labels]))
    words_only = ModelConfig(name="w", char_orders=(0, 0), max_char_features=0, stacking=False)
    fitted = fit_model(words_only, train, base)
    column = fitted.features.occurrences("qqzzx").columns
    assert len(column) == 1
    weights = fitted.weights[column[0]]
    assert weights[0] > 0
    assert np.all(weights[1:] == 0)


def test_explanations_are_ngrams_whose_spans_slice_to_themselves(model: ToxicityModel) -> None:
    text = "Thanks, you  MORON!! I will smash   you, 🙂 idiot"
    explained = model.explain(text, top=4)
    assert set(explained) == set(LABELS)
    for contributions in explained.values():
        assert len(contributions) <= 4
        weights = [c.weight for c in contributions]
        assert weights == sorted(weights, reverse=True)
        for c in contributions:
            assert text[c.start : c.end] == c.ngram
            assert c.weight > 0
    assert any("MORON" in c.ngram for c in explained[Label.INSULT])
    assert any("smash" in c.ngram for c in explained[Label.THREAT])
    assert model.explain("   \n ") == {label: [] for label in LABELS}


# --- calibration --------------------------------------------------------------------------------


def test_calibration_error_of_a_hand_example() -> None:
    # Four rows in four different bins of width 1/15: errors .1, .2, .2, .1 averaged over 4.
    y = np.array([0.0, 0.0, 1.0, 1.0])
    p = np.array([0.1, 0.2, 0.8, 0.9])
    assert expected_calibration_error(y, p) == pytest.approx(0.15)
    # One bin [0.6, 0.667): observed rate 0.5, mean probability 0.615.
    y = np.array([1.0, 1.0, 0.0, 0.0])
    p = np.array([0.6, 0.62, 0.61, 0.63])
    assert expected_calibration_error(y, p) == pytest.approx(0.115)
    # A probability of exactly 1 falls in the last bin.
    assert expected_calibration_error(np.array([1.0]), np.array([1.0])) == 0.0


def test_the_best_f1_threshold_of_a_hand_example() -> None:
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.8, 0.9, 0.5])
    # p >= 0.35 flags 4 rows with 3 positives: F1 = 6/7, better than any other cut.
    assert best_f1_threshold(y, p) == pytest.approx(0.35)


def test_a_label_with_too_few_validation_positives_keeps_half_as_threshold() -> None:
    assert best_f1_threshold(np.array([0.0, 0.0, 1.0]), np.array([0.1, 0.2, 0.9])) == 0.5


# --- metrics and baseline -----------------------------------------------------------------------


def test_metrics_and_baseline_are_contract_objects(
    model: ToxicityModel, data: LabelledTexts
) -> None:
    splits = split(data)
    metrics = label_metrics(model, splits.holdout)
    assert set(metrics) == set(LABELS)
    assert all(isinstance(m, LabelMetrics) for m in metrics.values())
    assert metrics[Label.INSULT].roc_auc > 0.8
    baseline = drift_baseline(model, splits.validation)
    assert isinstance(baseline, DriftBaseline)
    assert baseline.rows == len(splits.validation)
    for histogram in baseline.score_histograms.values():
        assert histogram.edges == SCORE_EDGES
        assert sum(histogram.counts) == len(splits.validation)
    assert baseline.text_length_histogram.edges == LENGTH_EDGES
    assert sum(baseline.text_length_histogram.counts) == len(splits.validation)


# --- selection ----------------------------------------------------------------------------------


def test_selection_reports_every_candidate_and_keeps_the_best_on_validation(
    data: LabelledTexts,
) -> None:
    splits = split(data)
    worse = ModelConfig(name="tiny", max_char_features=20, max_word_features=5, stacking=False)
    chosen = select(splits, [worse, SMALL])
    assert set(chosen.validation) == {"tiny", "small"}

    def mean(name: str) -> float:
        return float(np.mean([m.roc_auc for m in chosen.validation[name].values()]))

    assert chosen.config.name == max(chosen.validation, key=mean)
    assert chosen.config.name == "small"
    # the winner is refitted on train + validation rows, keeping what validation chose
    assert chosen.model.fitted_on_validation
    assert not chosen.tuned.fitted_on_validation
    assert np.array_equal(chosen.model.thresholds, chosen.tuned.thresholds)
    assert chosen.model.features.n_features >= chosen.tuned.features.n_features
    assert chosen.baseline.rows == len(splits.validation)


def test_a_configuration_comes_back_from_its_logged_params() -> None:
    for config in candidates():
        assert config_from_params(config.name, config.params()) == config
    logged = {k: str(v) for k, v in SMALL.params().items()}  # as a tracking server returns them
    assert config_from_params("small", logged) == SMALL


# --- files --------------------------------------------------------------------------------------


def test_a_saved_model_loads_back_with_identical_predictions(
    model: ToxicityModel, data: LabelledTexts, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    digest = save(model, path)
    assert digest == sha256_of(path.read_bytes())
    loaded = load(path, digest)
    assert np.array_equal(loaded.predict_proba(data.texts), model.predict_proba(data.texts))
    assert np.array_equal(loaded.thresholds, model.thresholds)


def test_a_tampered_model_file_is_refused(model: ToxicityModel, tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    digest = save(model, path)
    tampered = bytearray(path.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    path.write_bytes(bytes(tampered))
    with pytest.raises(ModelFileError, match="sha256"):
        load(path, digest)


class Gadget:
    """Stands for any type a model file should not be able to bring along."""

    def __init__(self) -> None:
        self.payload = "anything"


def test_a_model_file_with_an_untrusted_type_is_refused_even_with_the_right_sha256(
    model: ToxicityModel,
) -> None:
    smuggled = ToxicityModel(
        config=model.config,
        features=model.features,
        weights=model.weights,
        bias=model.bias,
        calibrator=model.calibrator,
        thresholds=model.thresholds,
    )
    smuggled.__dict__["extra"] = Gadget()
    data = dumps(smuggled)
    with pytest.raises(ModelFileError, match=r"untrusted types: .*Gadget"):
        loads(data, sha256_of(data))


def test_trusted_types_are_named_in_full() -> None:
    assert "shared.model.toxicity.ToxicityModel" in TRUSTED_TYPES
    assert all(name.startswith("shared.model.") for name in TRUSTED_TYPES)
