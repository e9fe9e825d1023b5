"""The memory rate limiter (via the shared contract) and the policy's validation."""

from __future__ import annotations

import pytest

from tests.unit.ussd_menus.ratelimit_contract import (
    PHONE,
    Advance,
    MakeLimiter,
    RateLimiterContract,
)
from ussd_menus.ratelimit import MemoryRateLimiter, RatePolicy


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at t=1000 s."""
    return FakeClock()


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def make_limiter(self, clock: FakeClock) -> MakeLimiter:
        """Memory limiters on the fake clock."""
        return lambda policy: MemoryRateLimiter(policy, clock)

    @pytest.fixture
    def advance(self, clock: FakeClock) -> Advance:
        """Time passes by moving the fake clock."""

        async def advance(seconds: float) -> None:
            clock.now += seconds

        return advance


@pytest.mark.parametrize(
    ("limit", "window"),
    [(0, 1.0), (-1, 1.0), (True, 1.0), (1, 0.0), (1, -2.0), (1, float("inf")), (1, float("nan"))],
)
def test_policy_rejects_a_non_positive_limit_or_window(limit: int, window: float) -> None:
    """A limit below 1 (or a bool) and a window that is not positive and finite are refused."""
    with pytest.raises(ValueError, match="must be a positive"):
        RatePolicy(limit=limit, window=window)


def test_policy_window_in_milliseconds() -> None:
    """window_ms rounds to whole ms (1.5 s -> 1500 ms) and is never 0 (0.0001 s -> 1 ms)."""
    assert RatePolicy(limit=1, window=1.5).window_ms == 1500
    assert RatePolicy(limit=1, window=0.0001).window_ms == 1


async def test_ended_windows_are_swept_when_many_keys_pile_up(clock: FakeClock) -> None:
    """Idle keys do not grow the table forever: ended windows go once 1024 keys are held."""
    limiter = MemoryRateLimiter(RatePolicy(limit=1, window=1.0), clock)
    for n in range(1024):
        assert await limiter.allow(f"2332000{n:05d}")
    clock.now += 2.0  # every one of those windows has ended
    assert await limiter.allow(PHONE)
    assert len(limiter._windows) == 1  # the table's size is the behaviour


async def test_ended_windows_are_swept_at_most_once_a_window() -> None:
    """Idle phones whose windows ended are dropped when a new phone arrives, once a window.

    1,024 phones at t=0; at t=61 a new phone's event sweeps them all. A burst of 1,024 more
    phones right after is not swept (no sweep before t=121), and is at t=122.
    """
    clock = FakeClock()
    limiter = MemoryRateLimiter(RatePolicy(limit=1, window=60.0), clock)
    for n in range(1024):
        await limiter.allow(f"idle-{n}")
    clock.now += 61  # every window above has ended
    await limiter.allow("new-0")
    assert len(limiter._windows) == 1
    for n in range(1024):
        await limiter.allow(f"burst-{n}")
    assert len(limiter._windows) == 1025  # no sweep due: nothing scanned
    clock.now += 61
    await limiter.allow("new-1")
    assert len(limiter._windows) == 1
