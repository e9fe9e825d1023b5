"""The Redis rate limiter on a real Redis: the shared contract, plus what only Redis has.

Every test works under its own random key prefix on the test database (db 15 by default) and
deletes its keys afterwards; nothing here flushes a database.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from tests.unit.ussd_menus.ratelimit_contract import (
    PHONE,
    WINDOW,
    Advance,
    MakeLimiter,
    RateLimiterContract,
)
from ussd_menus.ratelimit import RatePolicy, RedisRateLimiter

pytestmark = pytest.mark.redis

ClientFactory = Callable[..., Redis]


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test alone."""
    return f"vendgate:test:{secrets.token_hex(6)}:rate:"


@pytest.fixture
async def make_client(redis_url: str, prefix: str) -> AsyncIterator[ClientFactory]:
    """Make separate Redis clients (own connection pools); this test's keys go at the end."""
    clients: list[Redis] = []

    def make(*, decode_responses: bool = False) -> Redis:
        client = Redis.from_url(redis_url, decode_responses=decode_responses)
        clients.append(client)
        return client

    yield make
    cleaner = make()
    names = [name async for name in cleaner.scan_iter(match=f"{prefix}*")]
    if names:
        await cleaner.delete(*names)
    for client in clients:
        await client.aclose()


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture
    def make_limiter(self, make_client: ClientFactory, prefix: str) -> MakeLimiter:
        """Redis limiters under this test's own (so empty) prefix."""
        return lambda policy: RedisRateLimiter(make_client(), policy, prefix=prefix)

    @pytest.fixture
    def advance(self) -> Advance:
        """Time passes for real: Redis expires the window's key itself."""

        async def advance(seconds: float) -> None:
            await asyncio.sleep(seconds)

        return advance


async def test_replicas_share_one_count(make_client: ClientFactory, prefix: str) -> None:
    """Four clients (as four replicas), 25 concurrent events each, limit 10: 10 allowed."""
    policy = RatePolicy(limit=10, window=30)
    limiters = [RedisRateLimiter(make_client(), policy, prefix=prefix) for _ in range(4)]
    results = await asyncio.gather(*(lim.allow(PHONE) for lim in limiters for _ in range(25)))
    assert sum(results) == 10


async def test_the_counter_is_a_plain_key_with_the_window_as_ttl(
    make_client: ClientFactory, prefix: str
) -> None:
    """Under {prefix}{key}: the count of events so far (refused ones too), PTTL <= window."""
    limiter = RedisRateLimiter(make_client(), RatePolicy(limit=2, window=WINDOW), prefix=prefix)
    for _ in range(3):
        await limiter.allow(PHONE)
    reader = make_client(decode_responses=True)
    assert await reader.get(f"{prefix}{PHONE}") == "3"
    assert 0 < await reader.pttl(f"{prefix}{PHONE}") <= WINDOW * 1000


async def test_a_counter_left_without_ttl_gets_one(make_client: ClientFactory, prefix: str) -> None:
    """A counter another writer stored without an expiry gets the window, not kept forever."""
    raw = make_client()
    await raw.set(f"{prefix}{PHONE}", 5)
    limiter = RedisRateLimiter(raw, RatePolicy(limit=10, window=WINDOW), prefix=prefix)
    assert await limiter.allow(PHONE)  # 6th event of 10
    assert 0 < await raw.pttl(f"{prefix}{PHONE}") <= WINDOW * 1000


async def test_works_with_a_client_that_decodes_responses(
    make_client: ClientFactory, prefix: str
) -> None:
    """decode_responses=True changes nothing: limit 1 allows one, refuses the next."""
    client = make_client(decode_responses=True)
    limiter = RedisRateLimiter(client, RatePolicy(limit=1, window=WINDOW), prefix=prefix)
    assert [await limiter.allow(PHONE), await limiter.allow(PHONE)] == [True, False]
