"""The dashboard benchmark's verdict on "not measurably more at 1M than at 10k"."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bench.dashboard import Measured, figures, paired_difference

pytestmark = pytest.mark.unit


def measured(size: int, loads: list[float]) -> Measured:
    return Measured(
        size, size, size // 10, 300, 40_460, 20_000, 1_000.0, 400.0, 0, tuple(loads), tuple(loads)
    )


# p50 30 ms: the margin is 3 ms.
SMALL = [30.0, 31.0, 29.0, 35.0, 30.0, 28.0, 32.0, 31.0, 30.0, 29.0] * 2


def with_differences(differences: list[float]) -> Measured:
    return measured(1_000_000, [t + d for t, d in zip(SMALL, differences, strict=True)])


def verdict(large: Measured) -> bool | None:
    [figure] = [f for f in figures([measured(10_000, SMALL), large]) if "minus" in f.name]
    return figure.met


def test_a_steady_five_milliseconds_more_is_measurable() -> None:
    difference = paired_difference(
        with_differences([5.0, 4.5, 5.5, 5.0] * 5), measured(10_000, SMALL)
    )
    assert difference.median == pytest.approx(5.0)
    assert difference.margin == pytest.approx(3.0)
    assert 4.5 <= difference.low <= difference.high <= 5.5
    assert not difference.within_margin
    assert verdict(with_differences([5.0, 4.5, 5.5, 5.0] * 5)) is False


def test_a_small_difference_inside_the_margin_passes() -> None:
    differences = [0.5, -0.5, 1.0, 0.0, 1.5, -1.0, 0.5, 2.0, 0.0, 1.0] * 2
    difference = paired_difference(with_differences(differences), measured(10_000, SMALL))
    assert difference.high <= 3.0
    assert verdict(with_differences(differences)) is True


def test_one_stray_slow_load_does_not_decide_but_a_noisy_run_cannot_pass() -> None:
    stray = [0.2] * 19 + [40.0]
    assert verdict(with_differences(stray)) is True
    noisy = [12.0, -11.0, 9.0, -8.0, 10.0, -12.0, 11.0, -9.0, 8.0, -10.0] * 2
    difference = paired_difference(with_differences(noisy), measured(10_000, SMALL))
    assert difference.low < 0 < 3.0 < difference.high
    assert verdict(with_differences(noisy)) is False


def test_too_few_pairs_give_no_interval_and_no_pass() -> None:
    difference = paired_difference(measured(2, [30.0, 31.0]), measured(1, [30.0, 31.0]))
    assert (difference.low, difference.high) == (-math.inf, math.inf)
    assert not difference.within_margin


def test_more_pairs_decide_what_twenty_cannot_while_p95_stays_over_the_first_loads() -> None:
    # Loads that vary by several ms either way around a +0.8 ms median: twenty pairs bound the
    # median only to +3.5 ms (beyond the 3 ms margin), a hundred to +2.0 ms.
    differences = [6.0, -5.0, 4.0, -3.0, 0.5, 1.0, -2.0, 3.5, -6.0, 2.0]

    def sizes(rounds: int) -> tuple[Measured, Measured]:
        small = (SMALL * (rounds // len(SMALL)))[:rounds]
        large = [t + d for t, d in zip(small, differences * (rounds // 10), strict=True)]
        args = (300, 40_460, 20_000, 1_000.0, 400.0, 0)
        return (
            Measured(1_000_000, 1_000_000, 1_000, *args, tuple(large[:20]), tuple(large)),
            Measured(10_000, 10_000, 100, *args, tuple(small[:20]), tuple(small)),
        )

    twenty = paired_difference(*sizes(20))
    assert twenty.pairs == 20
    assert twenty.high > twenty.margin == pytest.approx(3.0)
    hundred = paired_difference(*sizes(100))
    assert hundred.pairs == 100
    assert hundred.median == pytest.approx(twenty.median)
    assert hundred.low < 0 < hundred.high <= hundred.margin
    large, small = sizes(100)
    assert figures([small, large])[-1].met is True
    # p50 and p95 read the first twenty loads only: slow loads after them move neither.
    slower = replace(large, paired_ms=(*large.paired_ms[:20], *[500.0] * 80))
    assert (slower.p50, slower.p95) == (large.p50, large.p95) == (30.75, 36.0)
