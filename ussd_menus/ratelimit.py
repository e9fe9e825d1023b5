"""Per-key rate limits (per phone number, per agent): a port with memory and Redis twins.

Policy: a **fixed window** anchored at a key's first event. The first event for a key opens
a window of ``window`` seconds; the key may have ``limit`` events in it; the window ends
``window`` seconds after it opened and the next event opens a new one. Refused events count
too (they change nothing: the window is already full), so a flood cannot extend a window.
At worst a caller gets ``2 * limit`` events in any ``window``-long span straddling two
windows, which is the known price of a fixed window and fine for abuse control.

* :class:`MemoryRateLimiter` keeps counters in the process, on an injected monotonic
  clock (tests move the clock; one process only).
* :class:`RedisRateLimiter` keeps them in Redis with one atomic Lua script (``INCR``, and
  ``PEXPIRE`` when the counter is new), so every replica shares one count per key and Redis
  drops a window's key when the window ends. Key: ``{prefix}{key}``.

Both run the same contract suite. Errors: ``ValueError`` for a bad policy; Redis
connection and server errors (``redis.exceptions.RedisError``) propagate unchanged, and the
caller decides whether to fail open or closed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from ussd_menus.redis_scripts import Script

__all__ = ["MemoryRateLimiter", "RateLimiter", "RatePolicy", "RedisRateLimiter"]

_SWEEP_AT = 1024  # the memory twin sweeps ended windows once it holds this many keys

# KEYS[1] the counter, ARGV[1] the window in ms. Count the event; a new counter (or one a
# foreign writer left without a TTL) gets the window as its lifetime. Returns the count.
_COUNT = """
local count = redis.call('incr', KEYS[1])
if count == 1 or redis.call('pttl', KEYS[1]) < 0 then
    redis.call('pexpire', KEYS[1], ARGV[1])
end
return count
"""


class RateLimiter(Protocol):
    """Decides whether one more event for ``key`` fits its rate limit, and counts it."""

    async def allow(self, key: str) -> bool:
        """Count an event for ``key``; True if it is within the limit."""
        ...


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """At most ``limit`` events per key in a fixed window of ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"limit must be a positive integer, not {self.limit!r}")
        if not (self.window > 0 and math.isfinite(self.window)):
            raise ValueError(f"window must be a positive number of seconds, not {self.window}")

    @property
    def window_ms(self) -> int:
        """The window in whole milliseconds, at least 1 (what Redis ``PEXPIRE`` takes)."""
        return max(1, round(self.window * 1000))


class MemoryRateLimiter:
    """Fixed-window counters in this process, on an injected monotonic clock (seconds)."""

    def __init__(self, policy: RatePolicy, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window ends at, count)
        self._next_sweep = 0.0  #: no sweep before this time: at most one per window

    async def allow(self, key: str) -> bool:
        """Count an event for ``key``; True if it is within the limit.

        No ``await`` between reading and writing the counter, so concurrent tasks on one
        event loop are counted one at a time.
        """
        now = self._clock()
        ends, count = self._windows.get(key, (now, 0))
        if ends <= now:
            self._sweep(now)
            ends, count = now + self._policy.window, 0
        count += 1
        self._windows[key] = (ends, count)
        return count <= self._policy.limit

    def _sweep(self, now: float) -> None:
        """Drop ended windows once the table has grown, so idle keys do not pile up.

        At most once per window length: a sweep scans the whole table, and with thousands of
        phones a sweep per new phone cost a sixth of the SMS service's time.
        """
        if len(self._windows) < _SWEEP_AT or now < self._next_sweep:
            return
        self._next_sweep = now + self._policy.window
        for name in [name for name, (ends, _) in self._windows.items() if ends <= now]:
            del self._windows[name]


class RedisRateLimiter:
    """Fixed-window counters in Redis, shared by every process using the same prefix.

    Args:
        client: the application's ``redis.asyncio.Redis`` (built and closed by the
            composition root); ``decode_responses`` may be on or off.
        policy: the limit and window.
        prefix: the namespace of every counter key.
    """

    def __init__(
        self, client: Redis, policy: RatePolicy, *, prefix: str = "vendgate:rate:"
    ) -> None:
        self._policy = policy
        self._prefix = prefix
        self._script = Script(client, _COUNT)

    async def allow(self, key: str) -> bool:
        """Count an event for ``key`` atomically in Redis; True if it is within the limit."""
        count = await self._script([self._prefix + key], [self._policy.window_ms])
        return int(count) <= self._policy.limit
