"""Drift of live traffic from the training baseline: PSI, re-binning and the report."""

from __future__ import annotations

import math

import pytest

from contracts import DriftBaseline, Histogram, Label
from contracts.vocabulary import LABELS
from shared.monitoring.drift import (
    EPSILON,
    EdgeMismatchError,
    align,
    drift_report,
    population_stability_index,
    positive_rate_shift,
    rebin,
    stability,
)
from tests import factories

pytestmark = pytest.mark.unit

TENTHS = tuple(i / 10 for i in range(11))
LENGTHS = (0.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 100_001.0)
BASE_COUNTS = (300, 200, 150, 100, 80, 60, 40, 30, 20, 20)


def scores(counts: tuple[int, ...] = BASE_COUNTS, edges: tuple[float, ...] = TENTHS) -> Histogram:
    return Histogram(edges=edges, counts=counts)


def baseline(counts: tuple[int, ...] = BASE_COUNTS) -> DriftBaseline:
    return factories.drift_baseline(
        score_histograms={label: scores(counts) for label in LABELS},
        positive_rates=dict.fromkeys(LABELS, 0.1),
        text_length_histogram=Histogram(edges=LENGTHS, counts=(10,) * 9),
        rows=sum(counts),
    )


def test_identical_distributions_give_psi_zero() -> None:
    assert population_stability_index(BASE_COUNTS, BASE_COUNTS) == 0.0


def test_same_proportions_at_a_different_volume_give_psi_zero() -> None:
    assert population_stability_index(BASE_COUNTS, tuple(3 * c for c in BASE_COUNTS)) == (
        pytest.approx(0.0, abs=1e-12)
    )


def test_psi_matches_the_formula_on_a_small_example() -> None:
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.5 - 0.75) * math.log(0.5 / 0.75)
    assert population_stability_index((25, 75), (50, 50)) == pytest.approx(expected)


def test_a_shifted_distribution_exceeds_the_significant_threshold() -> None:
    shifted = tuple(reversed(BASE_COUNTS))
    psi = population_stability_index(BASE_COUNTS, shifted)
    assert psi > 0.25
    assert stability(psi) == "significant"


def test_a_slight_shift_reads_as_stable() -> None:
    slightly = (290, 205, 150, 100, 80, 62, 40, 31, 21, 21)
    assert stability(population_stability_index(BASE_COUNTS, slightly)) == "stable"


@pytest.mark.parametrize(
    ("psi", "reading"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.1, "moderate"),
        (0.25, "moderate"),
        (0.2501, "significant"),
    ],
)
def test_stability_follows_the_conventional_bands(psi: float, reading: str) -> None:
    assert stability(psi) == reading


def test_empty_bins_do_not_produce_inf_or_nan() -> None:
    psi = population_stability_index((100, 0, 0, 0), (0, 0, 0, 100))
    assert math.isfinite(psi)
    assert psi > 0.25


def test_a_bin_empty_on_both_sides_adds_nothing() -> None:
    assert population_stability_index((50, 0, 50), (50, 0, 50)) == 0.0


def test_the_epsilon_floor_bounds_a_one_sided_empty_bin() -> None:
    psi = population_stability_index((1, 0), (0, 1))
    assert psi == pytest.approx(2 * (1 - EPSILON) * math.log((1 - 0) / EPSILON), rel=1e-3)


def test_psi_refuses_different_bin_counts() -> None:
    with pytest.raises(ValueError, match="same bins"):
        population_stability_index((1, 2), (1, 2, 3))


def test_psi_refuses_an_empty_histogram() -> None:
    with pytest.raises(ValueError, match="empty"):
        population_stability_index((1, 2), (0, 0))


def test_rebin_merges_whole_bins_onto_coarser_edges() -> None:
    assert rebin(scores(), (0.0, 0.5, 1.0)) == (830, 170)


def test_rebin_tolerates_edges_computed_another_way() -> None:
    assert rebin(scores(), (0.0, 0.1 * 3, 1.0)) == (650, 350)


def test_rebin_folds_counts_outside_the_target_range_into_the_outer_bins() -> None:
    assert rebin(scores(), (0.2, 0.5, 0.8)) == (500 + 150 + 100 + 80, 60 + 40 + 30 + 20 + 20)


def test_rebin_refuses_to_split_a_bin() -> None:
    with pytest.raises(EdgeMismatchError, match="split a bin"):
        rebin(scores(), (0.0, 0.55, 1.0))


def test_align_leaves_equal_edges_alone() -> None:
    assert align(scores(), scores((1,) * 10)) == (BASE_COUNTS, (1,) * 10)


def test_align_rebins_a_finer_live_histogram_onto_the_baseline_edges() -> None:
    coarse = Histogram(edges=(0.0, 0.5, 1.0), counts=(80, 20))
    fine = Histogram(edges=(0.0, 0.25, 0.5, 0.75, 1.0), counts=(40, 40, 10, 10))
    assert align(coarse, fine) == ((80, 20), (80, 20))


def test_align_uses_the_edges_both_share_when_neither_is_finer() -> None:
    quarters = Histogram(edges=(0.0, 0.25, 0.5, 0.75, 1.0), counts=(1, 2, 3, 4))
    assert align(scores(), quarters) == ((830, 170), (3, 7))


def test_align_refuses_edges_that_share_fewer_than_two_points() -> None:
    other = Histogram(edges=(0.05, 0.55, 1.05), counts=(1, 1))
    with pytest.raises(EdgeMismatchError, match="share fewer than two"):
        align(scores(), other)


def test_positive_rate_shift_is_live_minus_baseline() -> None:
    shift = positive_rate_shift({Label.TOXIC: 0.1, Label.THREAT: 0.01}, {Label.TOXIC: 0.3})
    assert shift == {Label.TOXIC: pytest.approx(0.2)}


def test_report_of_unchanged_traffic_shows_no_drift() -> None:
    report = drift_report(
        baseline(),
        {label: scores() for label in LABELS},
        live_text_lengths=Histogram(edges=LENGTHS, counts=(20,) * 9),
        live_positive_rates=dict.fromkeys(LABELS, 0.1),
    )
    assert report.label_psi == dict.fromkeys(LABELS, 0.0)
    assert report.max_psi == 0.0
    assert report.drifted_labels == ()
    assert not report.drifted
    assert report.text_length_psi == 0.0
    assert not report.text_length_drifted
    assert report.positive_rate_shift == dict.fromkeys(LABELS, 0.0)


def test_report_names_the_labels_whose_psi_exceeds_the_threshold() -> None:
    live = {label: scores() for label in LABELS} | {
        Label.INSULT: scores(tuple(reversed(BASE_COUNTS)))
    }
    report = drift_report(baseline(), live, threshold=0.2)
    assert report.drifted_labels == (Label.INSULT,)
    assert report.max_psi == report.label_psi[Label.INSULT]
    assert report.max_psi is not None
    assert report.max_psi > 0.2


def test_report_threshold_is_a_parameter() -> None:
    live = {Label.TOXIC: scores((290, 205, 150, 100, 80, 62, 40, 31, 21, 21))}
    psi = drift_report(baseline(), live).label_psi[Label.TOXIC]
    assert drift_report(baseline(), live, threshold=psi / 2).drifted_labels == (Label.TOXIC,)
    assert drift_report(baseline(), live, threshold=psi).drifted_labels == ()


def test_report_skips_labels_with_too_few_live_rows() -> None:
    few = scores((0, 0, 0, 0, 0, 0, 0, 0, 0, 99))
    report = drift_report(baseline(), {Label.TOXIC: few, Label.THREAT: scores()}, min_count=100)
    assert set(report.label_psi) == {Label.THREAT}


def test_report_without_enough_live_rows_has_no_max_psi() -> None:
    report = drift_report(baseline(), {Label.TOXIC: scores((1,) * 10)}, min_count=100)
    assert report.label_psi == {}
    assert report.max_psi is None
    assert not report.drifted


def test_report_flags_a_text_length_shift_without_counting_it_as_score_drift() -> None:
    long_texts = Histogram(edges=LENGTHS, counts=(0,) * 8 + (500,))
    report = drift_report(baseline(), {}, live_text_lengths=long_texts)
    assert report.text_length_drifted
    assert report.max_psi is None


def test_report_raises_a_clear_error_for_unalignable_live_edges() -> None:
    odd = Histogram(edges=(0.05, 0.55, 1.05), counts=(100, 100))
    with pytest.raises(EdgeMismatchError):
        drift_report(baseline(), {Label.TOXIC: odd})


def test_align_accepts_an_open_ended_last_bin() -> None:
    baseline_lengths = Histogram(edges=(0.0, 20.0, 100.0, math.inf), counts=(5, 5, 5))
    live_lengths = Histogram(edges=(0.0, 20.0, 50.0, math.inf), counts=(1, 2, 3))
    assert align(baseline_lengths, live_lengths) == ((5, 10), (1, 5))
