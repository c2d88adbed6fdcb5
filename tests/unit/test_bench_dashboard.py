"""The dashboard benchmark's verdict on "not measurably more at 1M than at 10k"."""

from __future__ import annotations

import pytest

from bench.dashboard import Measured, figures, paired_difference

pytestmark = pytest.mark.unit


def measured(size: int, loads: list[float]) -> Measured:
    return Measured(size, size, size // 10, 300, 40_460, 20_000, 1_000.0, 400.0, 0, tuple(loads))


SMALL = [30.0, 31.0, 29.0, 35.0, 30.0, 28.0, 32.0, 31.0, 30.0, 29.0]


def test_a_steady_few_milliseconds_more_is_measurable() -> None:
    large = measured(1_000_000, [t + 4.0 + (0.5 if i % 2 else -0.5) for i, t in enumerate(SMALL)])
    difference = paired_difference(large, measured(10_000, SMALL))
    assert difference.mean == pytest.approx(4.0)
    assert difference.low > 3.0
    assert difference.measurable
    [figure] = [f for f in figures([measured(10_000, SMALL), large]) if "minus" in f.name]
    assert figure.met is False
    assert figure.value == pytest.approx(4.0)


def test_differences_that_go_both_ways_are_not_measurable() -> None:
    noise = [3.0, -2.0, 1.0, -4.0, 2.0, -1.0, 4.0, -3.0, 0.5, -0.5]
    large = measured(1_000_000, [t + n for t, n in zip(SMALL, noise, strict=True)])
    difference = paired_difference(large, measured(10_000, SMALL))
    assert difference.low < 0 < difference.high
    assert not difference.measurable
    [figure] = [f for f in figures([measured(10_000, SMALL), large]) if "minus" in f.name]
    assert figure.met is True
    assert figure.target == "not measurably more (95% CI reaches 0)"
