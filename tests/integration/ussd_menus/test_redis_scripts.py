"""Lua scripts by SHA1 (:class:`ussd_menus.redis_scripts.Script`) on a real Redis."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ussd_menus.redis_scripts import Script

pytestmark = pytest.mark.redis

# KEYS[1] a counter, ARGV[1] a step: add the step, return the new value.
_ADD = "return redis.call('incrby', KEYS[1], ARGV[1])"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    """A client; the test's key is deleted afterwards."""
    made = Redis.from_url(redis_url)
    yield made
    await made.aclose()


async def test_the_script_runs_by_its_sha_and_survives_a_script_flush(client: Redis) -> None:
    """The script runs by its SHA, and after SCRIPT FLUSH it is loaded again.

    The SHA is SHA1 of the source, as Redis computes it; after SCRIPT FLUSH (a restarted
    server knows no scripts) the next call loads the script again and still answers.

    Counter by hand: +2 -> 2, +5 -> 7, then after the flush +1 -> 8.
    """
    key = f"vendgate:test:{secrets.token_hex(6)}:counter"
    script = Script(client, _ADD)
    try:
        assert script.sha == hashlib.sha1(_ADD.encode(), usedforsecurity=False).hexdigest()
        assert await client.script_load(_ADD) == script.sha  # Redis names it the same
        assert await script([key], [2]) == 2
        assert await script([key], [5]) == 7
        await client.script_flush()
        assert await client.script_exists(script.sha) == [False]
        assert await script([key], [1]) == 8
        assert await client.script_exists(script.sha) == [True]
    finally:
        await client.delete(key)


async def test_an_error_in_the_script_is_redis_s_own_error(client: Redis) -> None:
    """A script that fails (here: INCRBY on text) raises Redis's ResponseError, not a retry."""
    key = f"vendgate:test:{secrets.token_hex(6)}:text"
    await client.set(key, "not a number")
    try:
        with pytest.raises(ResponseError, match="not an integer"):
            await Script(client, _ADD)([key], [1])
        assert await client.get(key) == b"not a number"
    finally:
        await client.delete(key)
