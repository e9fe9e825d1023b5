"""The rate-limiter contract, as a reusable suite.

Subclass :class:`RateLimiterContract` (collected only through subclasses) and provide two
fixtures: ``make_limiter`` (builds a fresh limiter with no counts for a :class:`RatePolicy`)
and ``advance`` (an async callable that lets ``seconds`` pass for that limiter: a fake clock
for memory, a real sleep for Redis). Windows are short so a real sleep is cheap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ussd_menus.ratelimit import RateLimiter, RatePolicy

Advance = Callable[[float], Awaitable[None]]
MakeLimiter = Callable[[RatePolicy], RateLimiter]
WINDOW = 0.4
PHONE = "233244123456"


class RateLimiterContract:
    """Behaviour every RateLimiter implementation must have."""

    async def test_allows_exactly_limit_events_in_a_window(self, make_limiter: MakeLimiter) -> None:
        """With limit 3: events 1-3 are allowed, the 4th and 5th refused (3 per window)."""
        limiter = make_limiter(RatePolicy(limit=3, window=WINDOW))
        got = [await limiter.allow(PHONE) for _ in range(5)]
        assert got == [True, True, True, False, False]

    async def test_keys_are_counted_apart(self, make_limiter: MakeLimiter) -> None:
        """One phone using up its limit leaves another phone's untouched."""
        limiter = make_limiter(RatePolicy(limit=1, window=WINDOW))
        assert await limiter.allow(PHONE)
        assert not await limiter.allow(PHONE)
        assert await limiter.allow("233200000001")

    async def test_a_new_window_allows_again(
        self, make_limiter: MakeLimiter, advance: Advance
    ) -> None:
        """After the window (opened by the first event) ends, the key has its limit again."""
        limiter = make_limiter(RatePolicy(limit=2, window=WINDOW))
        assert [await limiter.allow(PHONE) for _ in range(3)] == [True, True, False]
        await advance(WINDOW + 0.15)
        assert [await limiter.allow(PHONE) for _ in range(3)] == [True, True, False]

    async def test_the_window_is_anchored_at_the_first_event(
        self, make_limiter: MakeLimiter, advance: Advance
    ) -> None:
        """Refused events inside a window do not extend it: it ends WINDOW after event 1."""
        limiter = make_limiter(RatePolicy(limit=1, window=WINDOW))
        assert await limiter.allow(PHONE)  # t=0 opens the window [0, 0.4)
        await advance(WINDOW * 0.5)
        assert not await limiter.allow(PHONE)  # t=0.2: still full
        await advance(WINDOW * 0.5 + 0.15)
        assert await limiter.allow(PHONE)  # t=0.55: a new window

    async def test_concurrent_events_are_counted_exactly(self, make_limiter: MakeLimiter) -> None:
        """100 concurrent allow() for one key with limit 10: exactly 10 are allowed."""
        limiter = make_limiter(RatePolicy(limit=10, window=30))
        results = await asyncio.gather(*(limiter.allow(PHONE) for _ in range(100)))
        assert sum(results) == 10
