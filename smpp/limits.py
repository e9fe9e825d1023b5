"""Pacing for one bind: a submit rate (tokens spaced ``1/tps`` apart) that can be paused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``rate`` acquisitions per second, evenly spaced; :meth:`pause` pushes all back.

    Callers queue in arrival order (each reserves the next free slot, then sleeps until it).
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._spacing = 1.0 / rate
        self._clock = clock
        self._next = 0.0

    async def acquire(self) -> None:
        """Wait for the next slot."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._spacing
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now (the SMSC said it is throttling us)."""
        self._next = max(self._next, self._clock() + seconds)
