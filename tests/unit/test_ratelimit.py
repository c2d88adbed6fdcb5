"""The per-key token bucket: bursts, waits, refills, independence and bounded memory."""

from __future__ import annotations

import math

import pytest

from services.api.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_new_caller_may_send_a_full_burst_and_is_then_refused(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=2.0, burst=5, clock=clock)

    allowed = [limiter.check("key-a") for _ in range(5)]
    refused = limiter.check("key-a")

    assert allowed == [None] * 5
    assert refused == pytest.approx(0.5)  # one token at 2 per second


def test_waiting_the_returned_delay_is_exactly_enough(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=3.0, burst=1, clock=clock)
    assert limiter.check("key-a") is None
    clock.now += 0.1

    wait = limiter.check("key-a")
    refused_at = clock.now
    assert wait is not None
    assert wait == pytest.approx(1 / 3 - 0.1)
    clock.now = refused_at + wait * 0.99
    assert limiter.check("key-a") is not None
    clock.now = refused_at + wait  # float rounding must not make an exact wait fall short

    assert limiter.check("key-a") is None


def test_retry_after_rounds_up_to_whole_seconds_at_a_slow_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=0.4, burst=1, clock=clock)
    limiter.check("key-a")

    wait = limiter.check("key-a")

    assert wait == pytest.approx(2.5)
    assert wait is not None
    assert math.ceil(wait) == 3


def test_tokens_refill_at_the_rate_but_never_beyond_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10.0, burst=4, clock=clock)
    for _ in range(4):
        limiter.check("key-a")

    clock.now += 0.25  # 2.5 tokens back
    refilled = [limiter.check("key-a") for _ in range(3)]
    assert refilled[:2] == [None, None]
    assert refilled[2] == pytest.approx(0.05)  # half a token short

    clock.now += 3600  # a long quiet spell refills only up to the burst
    outcomes = [limiter.check("key-a") for _ in range(5)]
    assert outcomes[:4] == [None] * 4
    assert outcomes[4] is not None


def test_a_refused_request_spends_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.check("key-a")

    for _ in range(100):
        assert limiter.check("key-a") is not None
    clock.now += 1.0

    assert limiter.check("key-a") is None


def test_callers_are_limited_independently(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.check("key-a")
    limiter.check("key-a")

    assert limiter.check("key-a") is not None
    assert limiter.check("key-b") is None
    assert limiter.check("203.0.113.9") is None
    assert limiter.check("key-b") is None
    assert limiter.check("key-b") is not None


def test_a_request_may_cost_several_tokens(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10.0, burst=20, clock=clock)

    assert limiter.check("key-a", cost=15) is None
    wait = limiter.check("key-a", cost=10)

    assert wait == pytest.approx(0.5)
    with pytest.raises(ValueError, match="cost"):
        limiter.check("key-a", cost=21)


def test_idle_callers_are_forgotten_as_other_calls_go_by(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10.0, burst=10, clock=clock)
    for index in range(100):
        limiter.check(f"visitor-{index}")
    assert len(limiter) == 100

    clock.now += 1.0  # every bucket has refilled: an idle bucket is the same as none
    for _ in range(60):
        limiter.check("regular")

    assert len(limiter) == 1  # each call dropped up to two idle buckets; only "regular" is left


def test_a_bucket_still_refilling_is_not_forgotten_for_being_idle(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    for _ in range(10):
        limiter.check("key-a")

    clock.now += 5.0  # half refilled
    limiter.check("key-b")
    limiter.check("key-b")

    outcomes = [limiter.check("key-a") for _ in range(6)]
    assert outcomes[:5] == [None] * 5
    assert outcomes[5] is not None


def test_memory_never_exceeds_max_entries_however_many_callers(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_entries=50, clock=clock)

    for index in range(10_000):
        limiter.check(f"198.51.100.{index}")
        assert len(limiter) <= 50

    assert len(limiter) == 50


def test_the_least_recently_seen_caller_is_dropped_first_when_full(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_entries=2, clock=clock)
    limiter.check("key-a")
    limiter.check("key-b")
    limiter.check("key-a")  # refused, but seen: key-b is now the oldest

    limiter.check("key-c")

    assert limiter.check("key-a") is not None  # still remembered, still limited
    assert limiter.check("key-b") is None  # forgotten, so it starts with a full bucket


@pytest.mark.parametrize(
    ("rate", "burst", "max_entries"), [(0.0, 1, 10), (-1.0, 1, 10), (1.0, 0, 10), (1.0, 1, 0)]
)
def test_a_limiter_refuses_settings_that_cannot_work(
    rate: float, burst: int, max_entries: int
) -> None:
    with pytest.raises(ValueError, match="rate must be"):
        RateLimiter(rate=rate, burst=burst, max_entries=max_entries)
