"""Two replicas configured with the same SMPP bind: exactly one binds; the other takes over.

Both gateways run in this process on one migrated PostgreSQL database (the advisory lock is
per database session, so two apps compete exactly as two processes do), each with the
production wiring for SMPP (sender ``smpp``, one bind to the fake SMSC on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import text

from config.gateway import GatewaySettings, SmsSettings
from config.settings import Settings
from gateway import keys
from gateway.app import Overrides, create_app
from gateway.leader import Leadership
from smpp.pdu import ShortMessageBody
from tests.e2e.conftest import smpp_bind
from tests.support.fake_smsc import FakeSmsc
from vending_core.adapters.db import create_engine
from vending_core.service.demo_data import DEMO_METERS
from vending_core.service.outbox_policy import RetryPolicy

pytestmark = pytest.mark.postgres

TOKEN_RE = re.compile(r"\d{4} \d{4} \d{4} \d{4} \d{4}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSmsc]:
    """The operator's SMSC: the fake, accepting every submit."""
    smsc = FakeSmsc()
    await smsc.start()
    yield smsc
    await smsc.stop()


def _bound_sessions(smsc: FakeSmsc) -> int:
    return sum(1 for session in smsc._sessions if session.bound and not session.writer.is_closing())


async def _replica(url: str, port: int, *, demo_data: bool) -> web.AppRunner:
    sms = SmsSettings(sender="smpp", smpp_binds=(smpp_bind(port, name="mno1"),))
    settings = Settings(database_url=url, gateway=GatewaySettings(sms=sms))
    overrides = Overrides(
        demo_data=demo_data,
        outbox_poll_interval=0.1,
        outbox_policy=RetryPolicy(base_delay=timedelta(seconds=0.2), jitter=0.0),
        maintenance_interval=0.2,
    )
    runner = web.AppRunner(create_app(settings, overrides=overrides), handle_signals=False)
    await runner.setup()
    return runner


def _leadership(runner: web.AppRunner) -> Leadership:
    return runner.app[keys.SMPP_LEADERSHIP]


async def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not condition():  # noqa: ASYNC110 - polls plain state
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {seconds} s: {what}") from None


async def _buy_gets_a_token(smsc: FakeSmsc, phone: str) -> None:
    """A BUY MO from ``phone`` on the bound session is answered, then a token SMS is submitted.

    Each call uses its own phone: the same text from the same phone within a minute is one
    message (an SMPP MO has no id; gateway.app.inbound_of).
    """
    before = len(smsc.accepted())
    body = ShortMessageBody(
        source_addr=phone,
        destination_addr="20880",
        short_message=f"BUY {DEMO_METERS[7].number} 100".encode(),
    )
    await smsc.deliver(body)

    def token_sent() -> bool:
        texts = [s.body.short_message.decode("latin-1") for s in smsc.accepted()[before:]]
        return any(TOKEN_RE.search(t) for t in texts)

    await _until(token_sent, 15, "a token submit_sm after the BUY")


async def test_one_replica_binds_and_the_other_takes_over(
    migrated_postgres_url: str, fake: FakeSmsc
) -> None:
    """Exactly one of two replicas binds; when it stops, the other binds and sells.

    1. Both start; within 5 s one owns the lock and the SMSC sees one bound session; two
       seconds later it still sees one (the other replica keeps waiting).
    2. A BUY over the owner's bind gets its token SMS.
    3. The owner stops (graceful: unbind, unlock); the other replica binds within 5 s and a
       BUY gets its token through it.
    """
    first = await _replica(migrated_postgres_url, fake.port, demo_data=True)
    second = await _replica(migrated_postgres_url, fake.port, demo_data=False)
    runners = [first, second]
    try:
        await _until(lambda: _bound_sessions(fake) == 1, 5, "one bound session")
        await asyncio.sleep(2.0)
        assert _bound_sessions(fake) == 1
        leaders = [r for r in runners if _leadership(r).leader]
        assert len(leaders) == 1
        await _buy_gets_a_token(fake, "254711000771")

        owner = leaders[0]
        other = second if owner is first else first
        runners.remove(owner)
        await owner.cleanup()
        await _until(lambda: _leadership(other).leader, 5, "the other replica leads")
        await _until(lambda: _bound_sessions(fake) == 1, 5, "its bind")
        await _buy_gets_a_token(fake, "254711000772")
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_an_owner_that_loses_its_database_session_unbinds(
    migrated_postgres_url: str, fake: FakeSmsc
) -> None:
    """The owner's lock connection is killed by the server (as when it crashes or is cut off).

    The owner notices (its check fails), stops its bind; the lock is free, so one of the
    two replicas (possibly the same one, on a new connection) owns it again within a few
    seconds, and at the end exactly one session is bound.
    """
    first = await _replica(migrated_postgres_url, fake.port, demo_data=True)
    second = await _replica(migrated_postgres_url, fake.port, demo_data=False)
    try:
        await _until(lambda: _bound_sessions(fake) == 1, 5, "one bound session")
        binds_before = fake.binds
        engine = create_engine(migrated_postgres_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                killed = await connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE query LIKE '%pg_try_advisory_lock%' AND pid <> pg_backend_pid()"
                    )
                )
        finally:
            await engine.dispose()
        assert killed >= 1
        await _until(lambda: fake.binds > binds_before, 10, "a new bind after the takeover")
        await _until(lambda: _bound_sessions(fake) == 1, 5, "exactly one bound session")
        assert sum(_leadership(r).leader for r in (first, second)) == 1
        await _buy_gets_a_token(fake, "254711000773")
    finally:
        await first.cleanup()
        await second.cleanup()
