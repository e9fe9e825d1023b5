"""Scale-out and crash safety (issue 8): real gateway processes on PostgreSQL and Redis.

Every test starts real ``vendgate serve`` processes (one worker each, on their own ports) on
a fresh PostgreSQL database prepared once before they start (demo data, DEMO-POS's float
raised, an API key, an administrator: :func:`gateway.loadgen.prepare_database`), drives mixed
purchases through them over HTTP (:mod:`gateway.loadgen`: USSD over the four aggregators,
SMS ``BUY`` through the Africa's Talking inbound route, signed partner API vends), breaks
something, and then proves from the database, with ``vendgate check-ledger`` run as the
operator runs it, that nothing was charged twice and no vend is partial.

Token SMS leave through the gateway's real Africa's Talking sender to a fake Africa's Talking
API in the test process (tests/support/fake_africastalking.py), which counts what each phone
was actually sent; the outbox rows are read from the database.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from gateway.loadgen import Credentials, Mix, Outcome, Purchase, prepare_database, run_purchases
from tests.support.fake_africastalking import FakeAfricasTalking
from tests.support.replicas import RedisServer, Replica, check_ledger, free_port, wait_until
from tests.support.tcp_proxy import TcpProxy
from vending_core.adapters.db import create_engine

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SANDBOX_DELAY = "0.05"  #: seconds the sandbox takes to "pay"
CLIENT_TIMEOUT = 20.0  #: seconds: an answer later than this counts as a hang


@dataclass
class World:
    """One test's database, fake SMS provider, replicas and load client."""

    database_url: str
    folder: Path
    sms: FakeAfricasTalking
    credentials: Credentials
    engine: AsyncEngine
    http: aiohttp.ClientSession
    redis_url: str
    kek: bytes = field(repr=False)
    replicas: list[Replica] = field(default_factory=list)
    tag: str = field(default_factory=lambda: f"T{random.randrange(10**6)}")  # noqa: S311
    phones: int = field(default_factory=lambda: random.randrange(10, 100))  # noqa: S311

    def env(self, **extra: str) -> dict[str, str]:
        """A replica's environment (production: JSON logs, no migrating; ``extra`` wins).

        This database and key-encryption key, Redis, the fake SMS API, a fast sandbox.
        """
        return {
            **os.environ,
            "VENDGATE_ENVIRONMENT": "production",
            "VENDGATE_KEY_ENCRYPTION_KEY": base64.b64encode(self.kek).decode(),
            "VENDGATE_DATABASE_URL": self.database_url,
            "VENDGATE_REDIS_URL": self.redis_url,
            "VENDGATE_SANDBOX_DELAY": SANDBOX_DELAY,
            "VENDGATE_SMS_SENDER": "africastalking",
            "VENDGATE_AT_BASE_URL": self.sms.base_url,
            "VENDGATE_AT_USERNAME": self.sms.username,
            "VENDGATE_AT_API_KEY": self.sms.api_key,
            **extra,
        }

    async def start_replicas(self, count: int, **extra: str) -> list[Replica]:
        """``count`` replicas on free ports, started together, all ready."""
        new = [
            Replica(f"replica{len(self.replicas) + i}", free_port(), self.env(**extra), self.folder)
            for i in range(count)
        ]
        self.replicas += new
        await asyncio.gather(*(replica.start() for replica in new))
        return new

    def mix(self, bases: Iterable[str], **weights: int) -> Mix:
        """The mix over ``bases`` (weights by kind; default ussd 4, sms 3, api 3)."""
        chosen = tuple(weights.items()) or (("ussd", 4), ("sms", 3), ("api", 3))
        return Mix(tuple(bases), chosen, tag=self.tag, phone_prefix=self.phones)  # type: ignore[arg-type]

    async def run(self, purchases: Sequence[Purchase], concurrency: int = 32) -> list[Outcome]:
        """Play the purchases; their outcomes."""
        return await run_purchases(self.http, self.credentials, purchases, concurrency=concurrency)

    async def scalar(self, sql: str, **params: object) -> int:
        """One integer from the database."""
        async with self.engine.connect() as connection:
            return int((await connection.execute(text(sql), params)).scalar_one())

    async def rows(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        """Rows from the database."""
        async with self.engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]

    async def ledger_ok(self) -> None:
        """``vendgate check-ledger`` (tokens decoded too) exits 0 and says so."""
        status, output = await check_ledger(self.env())
        assert status == 0, output
        assert "ledger OK" in output, output


@pytest.fixture
async def world(
    postgres_database_factory: Callable[[str], str], redis_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    """A prepared database (once, before any replica), the fake SMS API and a load client."""
    url = postgres_database_factory("scale")
    kek = secrets.token_bytes(32)
    credentials = await prepare_database(
        Settings(database_url=url, key_encryption_key=kek),
        admin_password="load generator password",
    )
    sms = FakeAfricasTalking()
    await sms.start()
    engine = create_engine(url, pool_size=2)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        world = World(url, tmp_path, sms, credentials, engine, http, redis_url, kek)
        try:
            yield world
        finally:
            await asyncio.gather(*(replica.stop() for replica in world.replicas))
            await sms.stop()
            await engine.dispose()


def summary(outcomes: Iterable[Outcome]) -> Counter[str]:
    """``kind status [detail]`` -> count: what the clients saw, for assertion messages."""
    return Counter(f"{o.purchase.kind} {o.status} {o.detail}".strip() for o in outcomes)


async def vends_by_channel(world: World) -> dict[str, int]:
    """Vends per channel in the database."""
    rows = await world.rows("SELECT channel, count(*) FROM vends GROUP BY channel")
    return {str(channel): int(count) for channel, count in rows}  # type: ignore[call-overload]


async def token_sms_all_sent(world: World, seconds: float) -> None:
    """Wait until every vend paid by phone has exactly one token SMS row, and all are sent.

    A vend made for a payment (USSD and SMS purchases) queues its token SMS under the dedupe
    key ``vend:<id>:token``; API vends send none (the token is in the answer).
    """
    state: dict[str, list[tuple[object, ...]]] = {}

    async def settled() -> bool:
        state["vends without a token SMS"] = await world.rows(
            "SELECT v.id, v.created_at FROM vends v WHERE v.client_id = 'payment' AND NOT EXISTS"
            " (SELECT 1 FROM sms_outbox o WHERE o.dedupe_key = 'vend:' || v.id || :suffix)",
            suffix=":token",
        )
        state["token SMS by status, attempts"] = await world.rows(
            "SELECT status, attempts, count(*) FROM sms_outbox WHERE kind = 'token'"
            " GROUP BY status, attempts"
        )
        unsent = [row for row in state["token SMS by status, attempts"] if row[0] != "sent"]
        return not state["vends without a token SMS"] and not unsent

    try:
        await wait_until("every token SMS queued once and sent", seconds, settled)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {state}") from None
    assert (
        await world.scalar(
            "SELECT count(*) FROM sms_outbox o WHERE o.kind = 'token' AND NOT EXISTS"
            " (SELECT 1 FROM vends v WHERE o.dedupe_key = 'vend:' || v.id || :suffix)",
            suffix=":token",
        )
        == 0
    )


async def expire_orphaned_leases(world: World, quiet: float = 5.0) -> int:
    """End the leases of token SMS rows a killed replica left ``sending``; how many.

    A replica killed between claiming a row (``sending``, leased for 2 minutes) and recording
    its send leaves the row to be sent again when the lease runs out (the outbox is
    at-least-once). Rather than wait 2 minutes, once the traffic has stopped and the live
    replicas have had ``quiet`` seconds to record their own sends (each takes milliseconds),
    the remaining leases are moved to the past, as if the 2 minutes had gone by.
    """
    await asyncio.sleep(quiet)
    async with world.engine.begin() as connection:
        result = await connection.execute(
            text(
                "UPDATE sms_outbox SET lease_until = :past"
                " WHERE kind = 'token' AND status = 'sending' RETURNING id"
            ),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )
        return len(result.all())


async def token_sms_sent_once(world: World) -> Counter[int]:
    """Check each token SMS reached the fake provider once (or, retried, once per attempt).

    Returns how many rows needed more than one attempt, by their attempts.

    The fake counts the messages it accepted by text: a token SMS's text holds the vend's
    tokens, which no other vend has.
    """
    texts = Counter(received.form["message"] for received in world.sms.accepted)
    rows = await world.rows("SELECT o.text, o.attempts FROM sms_outbox o WHERE o.kind = 'token'")
    retried: Counter[int] = Counter()
    for sms_text, attempts in rows:
        assert isinstance(sms_text, str)
        assert isinstance(attempts, int)
        sent = texts[sms_text]
        if attempts == 1:
            assert sent == 1, f"sent {sent} times on its first attempt: {sms_text}"
        else:
            assert 1 <= sent <= attempts, f"sent {sent} times in {attempts} attempts"
            retried[attempts] += 1
    return retried


async def completed_are_recorded(world: World, outcomes: Iterable[Outcome]) -> int:
    """Every purchase a client saw complete is in the database; how many there were.

    USSD and API: each token the client was shown is a stored token. SMS: the answer 200
    means the payment was recorded (client ``sms``, request ``africastalking:<message id>``).
    """
    done = [o for o in outcomes if o.ok]
    shown = {token for o in done for token in o.tokens}
    assert all(o.tokens for o in done if o.purchase.kind in {"ussd", "api"})
    stored = await world.rows("SELECT token FROM vend_tokens")
    missing = shown - {str(token) for (token,) in stored}
    assert not missing, f"{len(missing)} tokens shown to clients are not stored"
    asked = {f"africastalking:{o.purchase.key}" for o in done if o.purchase.kind == "sms"}
    recorded = await world.rows("SELECT request_id FROM payments WHERE client_id = 'sms'")
    assert asked <= {str(request) for (request,) in recorded}
    return len(done)


async def chaos(victim: Replica, kills: int, every: tuple[float, float]) -> None:
    """SIGKILL ``victim`` ``kills`` times, ``every`` seconds (uniform) after it is back up."""
    for _ in range(kills):
        await asyncio.sleep(random.uniform(*every))  # noqa: S311 - test timing, not security
        await victim.kill()
        await victim.start()


async def all_ready(replicas: Iterable[Replica], seconds: float) -> None:
    """Wait until every replica's /readyz answers 200 (database and Redis reachable)."""
    await asyncio.gather(*(replica.wait_ready(seconds) for replica in replicas))


async def sells_again(world: World, mix: Mix, start: int, count: int = 40) -> None:
    """Purchases ``start`` to ``start + count`` of ``mix`` all complete."""
    outcomes = await world.run([mix.plan(n) for n in range(start, start + count)], 8)
    assert all(o.ok for o in outcomes), summary(outcomes)
    await completed_are_recorded(world, outcomes)


# ---------------------------------------------------------------------------------- tests


async def test_two_replicas_sell_2000_mixed_purchases_and_the_ledger_holds(world: World) -> None:
    """2,000 purchases through two replicas: every one completes, once, and the ledger holds.

    The mix cycles ussd, sms, api, ussd, sms, api, ussd, sms, api, ussd (weights 4:3:3), so of
    2,000 purchases 800 are USSD (200 per aggregator), 600 SMS and 600 API vends, over the
    twelve demo meters, half to each replica, 32 at a time. Expected: every client sees its
    purchase complete; the database holds 800 + 600 + 600 = 2,000 vends (800 on channel
    ``ussd``, 600 ``sms``, 600 ``api``) and 800 + 600 = 1,400 token SMS rows, all sent, each
    received once by the provider; ``check-ledger`` passes.
    """
    first, second = await world.start_replicas(2)
    mix = world.mix([first.base, second.base])
    outcomes = await world.run([mix.plan(n) for n in range(2_000)])
    seen = summary(outcomes)
    assert seen == Counter({"ussd ok": 800, "sms ok": 600, "api ok": 600}), seen
    assert Counter(o.purchase.base for o in outcomes) == {first.base: 1000, second.base: 1000}

    async def sms_vended() -> bool:
        return (await vends_by_channel(world)).get("sms", 0) >= 600

    await wait_until("the 600 SMS purchases vended", 30, sms_vended)
    assert await vends_by_channel(world) == {"ussd": 800, "sms": 600, "api": 600}
    await token_sms_all_sent(world, 30)
    assert await world.scalar("SELECT count(*) FROM sms_outbox WHERE kind = 'token'") == 1_400
    assert await token_sms_sent_once(world) == Counter()
    await world.ledger_ok()


async def test_a_replica_killed_every_few_seconds_loses_nothing_and_charges_nothing_twice(
    world: World,
) -> None:
    """Purchases through two replicas while one is SIGKILLed every 2-3 s and restarted.

    Purchases go in batches of 100 until the victim has been killed four times (and at
    least 600 were sent).

    Clients of the victim may see connection errors (allowed), but no answer is broken (a
    5xx that is not problem JSON, a traceback); every purchase a client saw complete is in
    the database; once the traffic stops and the restarted victim runs, every vend paid by
    phone has exactly one token SMS row, all sent, each received by the provider once. The
    exception is the at-least-once window of the outbox: a row the victim had claimed when it
    was killed is sent again when its lease ends (:func:`expire_orphaned_leases`), so the
    provider may get it twice; exactly those rows show a second attempt. ``check-ledger``
    passes: no payment has two vends.
    """
    steady, victim = await world.start_replicas(2)
    mix = world.mix([steady.base, victim.base])
    killer = asyncio.create_task(chaos(victim, 4, (2.0, 3.0)))
    outcomes: list[Outcome] = []
    try:
        while len(outcomes) < 600 or not killer.done():
            batch = range(len(outcomes), len(outcomes) + 100)
            outcomes += await world.run([mix.plan(n) for n in batch])
    finally:
        killer.cancel()
        await asyncio.gather(killer, return_exceptions=True)
    seen = summary(outcomes)
    assert not [o for o in outcomes if o.status == "broken"], seen
    assert all(o.ok for o in outcomes if o.purchase.base == steady.base), seen
    completed = await completed_are_recorded(world, outcomes)
    assert completed >= 300, seen  # the steady replica alone answers half of them
    await victim.wait_ready()
    orphans = await expire_orphaned_leases(world)
    await token_sms_all_sent(world, 30)
    retried = await token_sms_sent_once(world)
    assert sum(retried.values()) == orphans, (retried, orphans)  # only they were sent again
    print(f"{len(outcomes)} purchases; clients saw {dict(seen)}; SMS rows retried {retried}")
    await world.ledger_ok()


@pytest.fixture
async def private_redis() -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own, on a free port (killed at the end)."""
    server = RedisServer(free_port())
    await server.start()
    yield server
    await server.kill()


async def test_redis_restarted_mid_traffic_ends_sessions_politely_and_charges_nothing_twice(
    world: World, private_redis: RedisServer
) -> None:
    """Redis is SIGKILLed 1.5 s into 300 USSD purchases and restarted empty 1.5 s later.

    Sessions in flight end politely (an END screen; never a non-200 answer, a traceback or a
    hang); every purchase a client saw complete is in the database; ``check-ledger`` passes
    (no payment vended twice); once Redis is back (readyz 200 again) purchases complete.
    """
    world.redis_url = private_redis.url
    replicas = await world.start_replicas(2)
    mix = world.mix([replica.base for replica in replicas], ussd=1)

    async def restart_redis() -> None:
        await asyncio.sleep(1.5)
        await private_redis.kill()
        await asyncio.sleep(1.5)
        await private_redis.start()

    outage = asyncio.create_task(restart_redis())
    outcomes = await world.run([mix.plan(n) for n in range(300)])
    await outage
    seen = summary(outcomes)
    assert {o.status for o in outcomes} <= {"ok", "declined"}, seen
    assert any(o.status == "declined" for o in outcomes), f"no session met the outage: {seen}"
    await completed_are_recorded(world, outcomes)
    await all_ready(replicas, 15)
    await sells_again(world, mix, 300)
    await world.ledger_ok()


async def test_postgres_connection_loss_fails_cleanly_and_recovers_without_partial_vends(
    world: World,
) -> None:
    """Every PostgreSQL connection is cut, and new ones refused, for 3 s during traffic.

    The replicas reach PostgreSQL through a TCP proxy (tests/support/tcp_proxy.py) cut 2 s
    into 400 mixed purchases. Meanwhile requests fail cleanly: a problem JSON 5xx or a polite
    USSD END, answered (no client timeout, no connection error, nothing broken); afterwards
    the replicas are ready again within 15 s and purchases complete; every purchase a client
    saw complete is in the database; ``check-ledger`` passes: no vend without its tokens, no
    payment vended twice.
    """
    parts = urlsplit(world.database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    host = (
        f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    )
    through_proxy = urlunsplit(parts._replace(netloc=host))
    replicas = await world.start_replicas(2, VENDGATE_DATABASE_URL=through_proxy)

    async def partition() -> None:
        await asyncio.sleep(2.0)
        await proxy.cut()
        await asyncio.sleep(3.0)
        await proxy.restore()

    try:
        outage = asyncio.create_task(partition())
        mix = world.mix([replica.base for replica in replicas])
        outcomes = await world.run([mix.plan(n) for n in range(400)])
        await outage
        seen = summary(outcomes)
        assert {o.status for o in outcomes} <= {"ok", "declined"}, seen
        assert any(o.status == "declined" for o in outcomes), f"no request met the cut: {seen}"
        await completed_are_recorded(world, outcomes)
        await all_ready(replicas, 15)
        await sells_again(world, mix, 400)
        await world.ledger_ok()
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
        await proxy.stop()
