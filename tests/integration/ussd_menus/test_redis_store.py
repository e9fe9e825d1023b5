"""The Redis session store on a real Redis: the shared contract, plus what only Redis has.

Every test works under its own random key prefix on the test database (db 15 by default) and
deletes its keys afterwards; nothing here flushes a database.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.unit.ussd_menus.store_contract import TTL, Advance, StoreContract
from ussd_menus.redis_store import RedisSessionStore, SessionBusy, SessionLockLost
from ussd_menus.session import SessionState

pytestmark = pytest.mark.redis

ClientFactory = Callable[..., Redis]  # make_client(decode_responses=False)
KEY = "hubtel:s-1"
REPO = Path(__file__).resolve().parents[3]

# A second process that takes a session's lock (0.4 s lease) and then hangs until killed.
_HOLDER = """
import asyncio, sys
from redis.asyncio import Redis
from ussd_menus.redis_store import RedisSessionStore

async def main(url: str, prefix: str, key: str) -> None:
    store = RedisSessionStore(Redis.from_url(url), prefix=prefix, lock_timeout=0.4)
    async with store.lock(key):
        print("held", flush=True)
        await asyncio.sleep(60)

asyncio.run(main(*sys.argv[1:]))
"""


def _state(screen: str = "main") -> SessionState:
    return SessionState(
        provider="hubtel", session_id="s-1", msisdn="+233244123456", screen=screen
    ).with_data(lang="sw", meters=[["01234567897", "Nyumbani"]])


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test alone."""
    return f"vendgate:test:{secrets.token_hex(6)}:"


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


@pytest.fixture
def client(make_client: ClientFactory) -> Redis:
    """A client for this test."""
    return make_client()


class TestRedisStore(StoreContract):
    @pytest.fixture
    def store(self, client: Redis, prefix: str) -> RedisSessionStore:
        """A Redis store under this test's own (so empty) prefix."""
        return RedisSessionStore(client, prefix=prefix)

    @pytest.fixture
    def advance(self) -> Advance:
        """Time passes for real: Redis enforces the (short) TTLs itself."""

        async def advance(seconds: float) -> None:
            await asyncio.sleep(seconds)

        return advance


async def test_lock_excludes_a_second_client(make_client: ClientFactory, prefix: str) -> None:
    """Two clients (as two replicas): the second waits for the first, or gives up busy."""
    first = RedisSessionStore(make_client(), prefix=prefix)
    impatient = RedisSessionStore(make_client(), prefix=prefix, lock_wait=0.15)
    patient = RedisSessionStore(make_client(), prefix=prefix, lock_wait=2, poll_interval=0.01)
    order: list[str] = []

    async def second() -> None:
        async with patient.lock(KEY):
            order.append("second in")

    async with first.lock(KEY):
        with pytest.raises(SessionBusy, match="busy"):
            async with impatient.lock(KEY):
                pass
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.1)
        assert order == []
        order.append("first out")
    await asyncio.wait_for(waiter, timeout=2)
    assert order == ["first out", "second in"]


async def test_lock_of_a_killed_process_is_taken_over_after_its_lease(
    redis_url: str, client: Redis, prefix: str
) -> None:
    """A holder killed mid-hop (SIGKILL, no release) blocks its session only for its lease."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, redis_url, prefix, KEY,
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), timeout=10)
        assert line == b"held\n"
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        blocked = RedisSessionStore(client, prefix=prefix, lock_wait=0.05)
        with pytest.raises(SessionBusy):
            async with blocked.lock(KEY):
                pass
        loop = asyncio.get_running_loop()
        started = loop.time()
        store = RedisSessionStore(client, prefix=prefix, lock_wait=2, poll_interval=0.02)
        async with store.lock(KEY):
            waited = loop.time() - started
        assert waited < 1.0  # the 0.4 s lease, not the default 30 s
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


async def test_a_hop_that_outlives_its_lease_gets_lock_lost(
    make_client: ClientFactory, prefix: str
) -> None:
    """Past its lease a hop may overlap another: SessionLockLost, and the new lock survives."""
    slow = RedisSessionStore(make_client(), prefix=prefix, lock_timeout=0.1)
    other = RedisSessionStore(make_client(), prefix=prefix, lock_wait=0.05)
    async with AsyncExitStack() as stack:

        async def overrun() -> None:
            async with slow.lock(KEY):
                await asyncio.sleep(0.2)
                await stack.enter_async_context(other.lock(KEY))  # takes the expired lock

        with pytest.raises(SessionLockLost, match="expired"):
            await overrun()
        with pytest.raises(SessionBusy):  # the slow hop did not delete the other's lock
            await stack.enter_async_context(other.lock(KEY))


async def test_an_error_in_the_block_is_not_masked_by_a_lost_lease(
    client: Redis, prefix: str
) -> None:
    """When the block raises after its lease ran out, its own error is what propagates."""
    slow = RedisSessionStore(client, prefix=prefix, lock_timeout=0.05)

    async def fail_late() -> None:
        async with slow.lock(KEY):
            await asyncio.sleep(0.1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_late()


async def test_values_are_plain_json_with_a_redis_ttl_seen_by_a_new_client(
    make_client: ClientFactory, prefix: str
) -> None:
    """Another process sees the session: SessionState JSON under the key, with a PX TTL."""
    writer = make_client()
    await RedisSessionStore(writer, prefix=prefix).set(KEY, _state(), TTL)
    await writer.aclose()
    reader = make_client(decode_responses=True)
    assert await reader.get(f"{prefix}session:{KEY}") == _state().to_json()
    assert 0 < await reader.pttl(f"{prefix}session:{KEY}") <= TTL * 1000
    assert await RedisSessionStore(reader, prefix=prefix).get(KEY) == _state()


async def test_a_client_that_decodes_responses_works_too(
    make_client: ClientFactory, prefix: str
) -> None:
    """The store accepts clients with decode_responses on (str replies) as well as off."""
    store = RedisSessionStore(make_client(decode_responses=True), prefix=prefix)
    async with store.lock(KEY):
        await store.set(KEY, _state("buy_meter"), TTL)
    assert await store.get(KEY) == _state("buy_meter")


@pytest.mark.parametrize(
    "garbage",
    [b"not json{", b'{"screen": "main"}', b"[1, 2]", b"\xff\xfe", b'"a string"'],
)
async def test_garbage_under_a_session_key_is_a_clear_error(
    client: Redis, prefix: str, garbage: bytes
) -> None:
    """A value that is not a stored session raises ValueError naming the key (never None)."""
    await client.set(f"{prefix}session:{KEY}", garbage)
    with pytest.raises(ValueError, match=r"session:hubtel:s-1' does not hold a stored USSD"):
        await RedisSessionStore(client, prefix=prefix).get(KEY)


async def test_a_non_string_value_under_a_session_key_is_a_clear_error(
    client: Redis, prefix: str
) -> None:
    """A hash where a session belongs (Redis WRONGTYPE) is the same ValueError."""
    await client.hset(f"{prefix}session:{KEY}", "screen", "main")
    with pytest.raises(ValueError, match="does not hold a stored USSD session"):
        await RedisSessionStore(client, prefix=prefix).get(KEY)


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf")])
async def test_set_rejects_a_ttl_redis_cannot_enforce(
    client: Redis, prefix: str, ttl: float
) -> None:
    """TTLs must be positive and finite (a session never lives forever): ValueError."""
    with pytest.raises(ValueError, match="ttl"):
        await RedisSessionStore(client, prefix=prefix).set(KEY, _state(), ttl)


def test_lock_settings_must_be_positive(client: Redis) -> None:
    """A zero lease or wait would make the lock useless: refused when the store is built."""
    with pytest.raises(ValueError, match="lock_timeout"):
        RedisSessionStore(client, lock_timeout=0)
    with pytest.raises(ValueError, match="lock_wait"):
        RedisSessionStore(client, lock_wait=-1)


async def test_prefixes_keep_stores_apart(make_client: ClientFactory, prefix: str) -> None:
    """Stores with different prefixes share neither sessions nor locks."""
    client = make_client()
    mine = RedisSessionStore(client, prefix=prefix)
    theirs = RedisSessionStore(client, prefix=f"{prefix}other:", lock_wait=0.5)
    await mine.set(KEY, _state(), TTL)
    assert await theirs.get(KEY) is None
    async with mine.lock(KEY), theirs.lock(KEY):
        assert await theirs.get(KEY) is None


async def test_a_held_hop_that_outlives_its_lease_writes_nothing(
    make_client: ClientFactory, prefix: str
) -> None:
    """Past its lease, a hold()'s staged writes are dropped, SessionLockLost says so.

    The session keeps the other hop's state, and the other hop's lock survives.
    """
    slow = RedisSessionStore(make_client(), prefix=prefix, lock_timeout=0.1)
    other = RedisSessionStore(make_client(), prefix=prefix, lock_wait=0.05)
    async with AsyncExitStack() as stack:

        async def overrun() -> None:
            async with slow.hold(KEY) as held:
                await asyncio.sleep(0.2)
                taken = await stack.enter_async_context(other.hold(KEY))  # the expired lock
                taken.set(KEY, _state("balance"), TTL)
                held.set(KEY, _state("buy_meter"), TTL)

        with pytest.raises(SessionLockLost, match="writes were not made"):
            await overrun()
        assert await other.get(KEY) is None  # the other hop has not ended yet: nothing stored
        with pytest.raises(SessionBusy):  # the slow hop did not delete the other's lock
            await stack.enter_async_context(other.lock(KEY))
    assert await other.get(KEY) == _state("balance")


async def test_garbage_under_a_held_key_is_a_clear_error_and_frees_the_lock(
    client: Redis, prefix: str
) -> None:
    """hold() on a key that holds no session (text or another type) raises ValueError.

    The session's lock is left free by either error.
    """
    store = RedisSessionStore(client, prefix=prefix, lock_wait=0.05)
    await client.set(f"{prefix}session:{KEY}", b"not json{")
    with pytest.raises(ValueError, match=r"session:hubtel:s-1' does not hold a stored USSD"):
        async with store.hold(KEY):
            pass
    await client.hset(f"{prefix}session:resume:+233244123456", "screen", "main")
    await client.delete(f"{prefix}session:{KEY}")
    with pytest.raises(ValueError, match="do not hold stored USSD sessions"):
        async with store.hold(KEY, peek="resume:+233244123456"):
            pass
    async with asyncio.timeout(1), store.lock(KEY):  # free: not left behind by either error
        pass


async def test_a_hop_under_hold_costs_two_redis_commands(
    client: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock, read session and resume point, write both, unlock: two commands to Redis.

    Counted on the client (one EVALSHA each); the first hop, not counted, loads the scripts.
    """
    store = RedisSessionStore(client, prefix=prefix)
    sent: list[object] = []
    execute: Callable[..., Awaitable[object]] = client.execute_command

    async def counting(*args: object, **options: object) -> object:
        sent.append(args[0])
        return await execute(*args, **options)

    async def hop() -> None:
        async with store.hold(KEY, peek="resume:+233244123456") as held:
            held.set(KEY, _state("buy_meter"), TTL)
            held.set("resume:+233244123456", _state("buy_meter"), TTL)

    await hop()
    monkeypatch.setattr(client, "execute_command", counting)
    await hop()
    assert sent == ["EVALSHA", "EVALSHA"]
    monkeypatch.undo()
    assert await store.get("resume:+233244123456") == _state("buy_meter")


async def test_the_peeked_value_is_parsed_only_when_asked_for(client: Redis, prefix: str) -> None:
    """A hop of a session under way never reads the resume point: it is not parsed then.

    Garbage under the peeked key fails only the hop that asks for it (ValueError naming
    the key); a hop that does not ask holds, writes and releases as usual.
    """
    store = RedisSessionStore(client, prefix=prefix)
    await client.set(f"{prefix}session:resume:+233244123456", b"not json{")
    async with store.hold(KEY, peek="resume:+233244123456") as held:
        held.set(KEY, _state("buy_meter"), TTL)
    assert await store.get(KEY) == _state("buy_meter")
    async with store.hold(KEY, peek="resume:+233244123456") as held:
        assert held.state == _state("buy_meter")
        with pytest.raises(ValueError, match=r"resume:\+233244123456' does not hold a stored"):
            _ = held.peeked
